import { createServer } from 'node:net';

/**
 * Port plan of the features (ranges reserved for them on shared machines):
 * etcd 23800–23809 (client + peer pairs), PostgreSQL 25500–25549, REST 28000–28049,
 * haproxy 25600–25609 (primary, replicas, stats triples). Each scenario takes the next free slot,
 * so a process that lingers after one scenario never collides with the next. All of them lie
 * below Linux's ephemeral range (32768–60999): a port there can be taken at any moment as the
 * source port of an outgoing connection, and a server then fails to bind it.
 */
export interface PortSlot {
  etcdClient: number;
  etcdPeer: number;
  /** PostgreSQL port of node i is `pgBase + i`. */
  pgBase: number;
  /** REST port of node i is `restBase + i`. */
  restBase: number;
  haproxyPrimary: number;
  haproxyReplicas: number;
  haproxyStats: number;
}

export const MAX_NODES = 5;
const PG_SLOTS = 10; // 25500 + 10 * 5
const ETCD_SLOTS = 5; // 23800 + 5 * 2
const HAPROXY_SLOTS = 3; // 25600 + 3 * 3

let counter = 0;

/** True when nothing listens on 127.0.0.1:port right now. */
export async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

function slotFor(n: number): PortSlot {
  const pg = n % PG_SLOTS;
  const e = n % ETCD_SLOTS;
  const h = n % HAPROXY_SLOTS;
  return {
    etcdClient: 23800 + 2 * e,
    etcdPeer: 23801 + 2 * e,
    pgBase: 25500 + MAX_NODES * pg,
    restBase: 28000 + MAX_NODES * pg,
    haproxyPrimary: 25600 + 3 * h,
    haproxyReplicas: 25601 + 3 * h,
    haproxyStats: 25602 + 3 * h,
  };
}

function allPorts(s: PortSlot): number[] {
  const out = [s.etcdClient, s.etcdPeer, s.haproxyPrimary, s.haproxyReplicas, s.haproxyStats];
  for (let i = 0; i < MAX_NODES; i++) out.push(s.pgBase + i, s.restBase + i);
  return out;
}

/** The next slot whose ports are all free; throws after trying every combination twice. */
export async function nextPortSlot(): Promise<PortSlot> {
  const tries = 2 * PG_SLOTS * ETCD_SLOTS;
  for (let i = 0; i < tries; i++) {
    const slot = slotFor(counter++);
    const busy: number[] = [];
    for (const p of allPorts(slot)) if (!(await portIsFree(p))) busy.push(p);
    if (busy.length === 0) return slot;
  }
  throw new Error('no free port slot in the feature ranges (etcd 23800-23809, PG 55500-55549, REST 58000-58049, haproxy 55600-55609): are processes of an earlier run still listening?');
}
