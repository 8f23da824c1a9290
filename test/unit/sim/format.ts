import type { Action } from '../../../src/ha/types.js';

/** Short text of an action for the trace (`acquireLeader+promote`, `follow n2`, ...). */
export function describeAction(a: Action): string {
  switch (a.type) {
    case 'acquireLeader':
      return `acquireLeader${a.promote ? '+promote' : ''}${a.takeSync !== undefined ? '+takeSync' : ''}`;
    case 'writeSync':
      return a.value === null ? 'deleteSync' : `writeSync ${a.value.leader ?? '-'}:[${a.value.standbys.join(',')}]`;
    case 'setSyncStandbyNames':
      return a.value === null ? 'ssn=<configured>' : `ssn='${a.value}'`;
    case 'switchover':
      return `switchover to ${a.candidates.map((c) => c.name).join('|')}`;
    case 'clearFailover':
      return `clearFailover (${a.why})`;
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
