import type { ScenarioCluster } from '../features/support/cluster.js';

/**
 * The fault kinds of the chaos campaign. Each one is injected at the start of a round and healed
 * after the hold time; the same faults as the `@netns` and outage features, picked at random.
 */
export const FAULT_KINDS = [
  'cut-leader-from-etcd',
  'isolate-leader',
  'cut-leader-from-replicas',
  'isolate-replica',
  'freeze-leader-agent',
  'suspend-etcd',
  'kill9-leader',
  'crash-leader-postgres',
  'restart-etcd',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** A fault in progress: `heal` ends it (thaws, resumes, restarts what was killed, removes cuts). */
export interface ActiveFault {
  kind: FaultKind;
  /** The node the fault hit, or `etcd`. */
  target: string;
  heal(): Promise<void>;
}

/** Injects `kind` against the current `leader` (or `replica` for replica faults). */
export async function inject(c: ScenarioCluster, kind: FaultKind, leader: string, replica: string): Promise<ActiveFault> {
  const net = () => c.net();
  const others = (name: string) => [...c.nodes.keys()].filter((n) => n !== name);
  const etcd = () => {
    if (!c.etcd) throw new Error('etcd is not running');
    return c.etcd;
  };
  switch (kind) {
    case 'cut-leader-from-etcd':
      net().partition(leader, 'etcd');
      return { kind, target: leader, heal: async () => net().healAll() };
    case 'isolate-leader':
      for (const o of ['etcd', ...others(leader)]) net().partition(leader, o);
      return { kind, target: leader, heal: async () => net().healAll() };
    case 'cut-leader-from-replicas':
      for (const o of others(leader)) net().partition(leader, o);
      return { kind, target: leader, heal: async () => net().healAll() };
    case 'isolate-replica':
      for (const o of ['etcd', ...others(replica)]) net().partition(replica, o);
      return { kind, target: replica, heal: async () => net().healAll() };
    case 'freeze-leader-agent': {
      const node = c.node(leader);
      node.freezeAgent();
      return { kind, target: leader, heal: async () => node.thawAgent() };
    }
    case 'suspend-etcd':
      await etcd().suspend();
      return { kind, target: 'etcd', heal: async () => etcd().resume() };
    case 'kill9-leader': {
      const node = c.node(leader);
      await node.killAgent();
      await node.killPostmaster();
      return { kind, target: leader, heal: async () => node.start() };
    }
    case 'crash-leader-postgres':
      await c.node(leader).crashPostgres();
      return { kind, target: leader, heal: async () => undefined };
    case 'restart-etcd':
      await c.restartEtcd();
      return { kind, target: 'etcd', heal: async () => undefined };
  }
}
