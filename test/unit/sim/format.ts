import type { Action } from '../../../src/ha/types.js';

/** Short text of an action for the trace (`acquireLeader+promote`, `follow n2`, ...). */
export function describeAction(a: Action): string {
  switch (a.type) {
    case 'acquireLeader':
      return a.promote ? 'acquireLeader+promote' : 'acquireLeader';
    case 'start':
      return a.role === 'primary' ? 'start primary' : `start replica of ${a.upstream?.name ?? 'nobody'}`;
    case 'stop':
      return `stop ${a.mode}`;
    case 'follow':
      return `follow ${a.upstream?.name ?? 'nobody'}`;
    case 'rejoin':
      return `rejoin ${a.upstream.name}`;
    case 'clone':
      return `clone ${a.source.name}`;
    case 'writeStatus':
      return `writeStatus ${a.optime}`;
    default:
      return a.type;
  }
}
