import type { ClusterSnapshot, Member } from '../domain/cluster.js';
import type { Upstream } from '../postgres/port.js';

/** Host and port from a member's `conn_url` (`postgres://host:port/db`); null when malformed. */
export function memberUpstream(member: Member): Upstream | null {
  const m = /^postgres(?:ql)?:\/\/(?:[^@/]*@)?(\[[^\]]+\]|[^:/?]+)(?::(\d+))?/.exec(member.data.conn_url ?? '');
  if (!m) return null;
  return { name: member.name, host: m[1]!.replace(/^\[|\]$/g, ''), port: m[2] ? Number(m[2]) : 5432 };
}

function isRunningMember(m: Member): boolean {
  return m.data.state === 'running';
}

/**
 * Where a replica streams from: the member named by its `replicatefrom` tag when that member
 * is running (cascading), else the leader.
 */
export function streamSource(cluster: ClusterSnapshot, leader: Member, replicatefrom: string | null): Upstream | null {
  if (replicatefrom) {
    const cascade = cluster.members.find((m) => m.name === replicatefrom && isRunningMember(m));
    if (cascade) return memberUpstream(cascade);
  }
  return memberUpstream(leader);
}

/** Where a new replica clones from: a running member tagged `clonefrom`, else the leader. */
export function cloneSource(cluster: ClusterSnapshot, leader: Member, self: string): Upstream | null {
  const tagged = cluster.members
    .filter((m) => m.name !== self && m.data.tags?.clonefrom === true && isRunningMember(m))
    .sort((a, b) => a.name.localeCompare(b.name));
  return memberUpstream(tagged[0] ?? leader);
}
