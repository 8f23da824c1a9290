/**
 * `pgwardenctl current-primary -c FILE`: who is the primary, and where to connect to it.
 *
 * etcd is asked first: the holder of the leader key and the address of its member key. When etcd
 * cannot be reached (the moment a script most needs an answer), the answer comes from this
 * node's JSON state file (`json_state_file_path`, `outside/state-file.ts`): the leader this node
 * saw at its last successful etcd read. That answer may be out of date, so it always says which
 * file it comes from, when that file was written and when its writer last read etcd. When
 * neither source answers, the command fails (exit 1) with both reasons.
 *
 * When etcd answers that nobody holds the leader key, that is the answer (an error): the state
 * file is older than etcd and must not override it.
 */
import { hostPort } from '../api/status.js';
import type { ClusterSnapshot } from '../domain/cluster.js';
import { errorText } from '../errors.js';
import { readStateFile, type StateDocument } from '../outside/state-file.js';
import { CtlError, type CtlContext } from './context.js';

/** The answer, as `--json` prints it. */
export interface PrimaryAnswer {
  name: string;
  /** From the member's `conn_url`; null when it names no host. */
  host: string | null;
  port: number | null;
  conn_url: string;
  source: 'etcd' | 'state_file';
  /** With `source: state_file`: the file, when it was written, by which member, and that member's last etcd read. */
  state_file?: string;
  written_at?: string;
  written_by?: string;
  etcd_last_read_at?: string | null;
}

function answer(name: string, connUrl: string, source: PrimaryAnswer['source']): PrimaryAnswer {
  const at = hostPort(connUrl);
  return { name, host: at?.host ?? null, port: at?.port ?? null, conn_url: connUrl, source };
}

/** The primary according to an etcd read. @throws CtlError when there is none, or no address. */
export function primaryFromCluster(cluster: ClusterSnapshot, scope: string): PrimaryAnswer {
  const leader = cluster.leader?.name;
  if (leader === undefined) throw new CtlError(`cluster ${scope} has no leader in etcd right now (nobody holds the leader key)`);
  const member = cluster.members.find((m) => m.name === leader);
  if (member === undefined) throw new CtlError(`the leader key of cluster ${scope} names ${leader}, but etcd has no members/${leader} key: its address is unknown`);
  return answer(leader, member.data.conn_url, 'etcd');
}

/** The primary according to a state file read from `path`. @throws CtlError when it names none. */
export function primaryFromStateFile(doc: StateDocument, path: string): PrimaryAnswer {
  const written = `state file ${path} (written at ${doc.written_at} by ${doc.member})`;
  // A node forgets the cluster once its last etcd read is older than ttl (its primary has fenced
  // itself by then), so "no leader" also means "etcd has been unreachable for a while".
  if (doc.leader === null) {
    throw new CtlError(`${written} names no leader: none held the key at its writer's last etcd read (${doc.dcs_last_seen ?? 'never'}), or that read was more than ttl old`);
  }
  const member = doc.members[doc.leader];
  if (member === undefined) throw new CtlError(`${written} names the leader ${doc.leader} but lists no address for it`);
  return { ...answer(doc.leader, member.conn_url, 'state_file'), state_file: path, written_at: doc.written_at, written_by: doc.member, etcd_last_read_at: doc.dcs_last_seen };
}

/** One line for people and scripts: `name host:port conn_url`. */
export function answerLine(a: PrimaryAnswer): string {
  const address = a.host === null ? '(no host in conn_url)' : `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
  return `${a.name} ${address} ${a.conn_url}`;
}

/** The warning printed on stderr with an answer from the state file. */
export function staleNotice(a: PrimaryAnswer, etcdProblem: string): string {
  return (
    `etcd did not answer (${etcdProblem});\n` +
    `  this answer comes from the state file ${a.state_file ?? '?'} written at ${a.written_at ?? '?'} by ${a.written_by ?? '?'}, ` +
    `whose last etcd read was at ${a.etcd_last_read_at ?? 'never'}: it may be out of date`
  );
}

/** Where `json_state_file_path` of the node YAML points, or undefined. */
function stateFilePath(ctx: CtlContext): string | undefined {
  return ctx.config.json_state_file_path;
}

/**
 * Asks etcd, then the state file (see the module comment). Resolves the answer and, for a
 * state-file answer, the notice to print on stderr.
 * @throws CtlError when neither source answers, naming both problems.
 */
export async function currentPrimary(ctx: CtlContext): Promise<{ answer: PrimaryAnswer; notice: string | null }> {
  let cluster: ClusterSnapshot;
  try {
    cluster = await ctx.cluster();
  } catch (e) {
    const etcdProblem = errorText(e);
    const path = stateFilePath(ctx);
    if (path === undefined) throw new CtlError(`${etcdProblem}; ${ctx.file} sets no json_state_file_path to fall back on`);
    try {
      const a = await fromStateFile(path, ctx.scope);
      return { answer: a, notice: staleNotice(a, etcdProblem) };
    } catch (f) {
      throw new CtlError(`${etcdProblem}; and the fallback failed: ${errorText(f)}`);
    }
  }
  return { answer: primaryFromCluster(cluster, ctx.scope), notice: null };
}

async function fromStateFile(path: string, scope: string): Promise<PrimaryAnswer> {
  const doc = await readStateFile(path);
  if (doc.scope !== scope) throw new CtlError(`state file ${path} is about cluster ${doc.scope}, not ${scope}`);
  return primaryFromStateFile(doc, path);
}
