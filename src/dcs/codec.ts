import type { ClusterSnapshot, FailoverRequest, HistoryRow, LeaderKey, Member, MemberData, SyncState } from '../domain/cluster.js';
import type { Lsn } from '../domain/lsn.js';

/**
 * Pure translation between etcd key/values under `/<namespace>/<scope>/` and pgwarden's
 * `ClusterSnapshot` (reference §1.2–§1.3). Both DCS adapters read through `decodeCluster` and
 * write through the `encode*` functions, so the fake and real etcd agree byte for byte.
 *
 * Reading is lenient on purpose: values may come from Patroni 3.x/4.x, `patronictl edit-config`,
 * or a human with `etcdctl`. A value that does not parse never throws; it reads as absent.
 */

/** One key as read from etcd; revisions and lease ids are decimal strings (`'0'` = no lease). */
export interface RawKv {
  key: string;
  value: string;
  modRevision: string;
  createRevision: string;
  lease: string;
}

/** Relative key names of Patroni's layout (reference §1.2). */
export const KEYS = {
  leader: 'leader',
  config: 'config',
  initialize: 'initialize',
  status: 'status',
  legacyOptime: 'optime/leader',
  failover: 'failover',
  sync: 'sync',
  failsafe: 'failsafe',
  history: 'history',
  membersDir: 'members/',
} as const;

/** Fields of `members/<name>` in the order Patroni writes them (reference §1.3). */
const MEMBER_FIELD_ORDER = [
  'conn_url',
  'api_url',
  'state',
  'role',
  'version',
  'proxy_url',
  'checkpoint_after_promote',
  'tags',
  'pending_restart',
  'xlog_location',
  'timeline',
  'scheduled_restart',
  'pause',
] as const;

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** A JSON integer, or a decimal string of one (older writers); anything else is `undefined`. */
function toInt(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'string' && /^\d{1,16}$/.test(v)) return Number(v);
  return undefined;
}

/** Legacy member value `postgres://host:port/db?application_name=<api_url>` (reference §1.3). */
function legacyMember(value: string): JsonObject {
  try {
    const url = new URL(value);
    const api = url.searchParams.get('application_name');
    url.search = '';
    return api ? { conn_url: url.toString(), api_url: api } : { conn_url: url.toString() };
  } catch {
    return {};
  }
}

/**
 * Parses a `members/<name>` value. Required string fields that are missing or mistyped read as
 * `''`; optional fields of the wrong type are dropped; unknown fields (e.g. Patroni 4's
 * `replication_state`, `receive_lsn`) are kept as extra properties so they survive a re-encode.
 */
export function decodeMember(value: string): MemberData {
  const parsed = parseJson(value);
  const raw: JsonObject = isObject(parsed) ? parsed : value.startsWith('postgres') ? legacyMember(value) : {};
  const str = (k: string): string => (typeof raw[k] === 'string' ? (raw[k] as string) : '');
  const out: MemberData & JsonObject = {
    ...raw,
    conn_url: str('conn_url'),
    api_url: str('api_url'),
    state: str('state'),
    role: str('role'),
    version: str('version'),
  };
  for (const k of ['xlog_location', 'timeline', 'tags', 'pending_restart', 'pause', 'checkpoint_after_promote', 'scheduled_restart'] as const) {
    delete out[k];
  }
  const scheduled = raw['scheduled_restart'];
  if (isObject(scheduled)) out.scheduled_restart = scheduled;
  const xlog = toInt(raw['xlog_location']);
  if (xlog !== undefined) out.xlog_location = xlog;
  const tl = toInt(raw['timeline']);
  if (tl !== undefined) out.timeline = tl;
  const tags = raw['tags'];
  if (isObject(tags)) {
    const clean: Record<string, string | number | boolean> = {};
    for (const [k, v] of Object.entries(tags)) {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') clean[k] = v;
    }
    out.tags = clean;
  }
  for (const k of ['pending_restart', 'pause', 'checkpoint_after_promote'] as const) {
    if (typeof raw[k] === 'boolean') out[k] = raw[k] as boolean;
  }
  return out;
}

/**
 * Renders a `members/<name>` value as compact JSON with Patroni's field order: the fields of
 * reference §1.3 first, then any extra fields. `undefined` fields and empty `tags` are left out.
 */
export function encodeMember(data: MemberData): string {
  const src = data as MemberData & JsonObject;
  const out: JsonObject = {};
  for (const k of MEMBER_FIELD_ORDER) {
    const v = src[k];
    if (v === undefined) continue;
    if (k === 'tags' && isObject(v) && Object.keys(v).length === 0) continue;
    out[k] = v;
  }
  for (const [k, v] of Object.entries(src)) {
    if (!(k in out) && v !== undefined && !(MEMBER_FIELD_ORDER as readonly string[]).includes(k)) out[k] = v;
  }
  return JSON.stringify(out);
}

/** `status` value: `{"optime":<lsn>}` (compact, reference §1.3). */
export function encodeStatus(optime: Lsn): string {
  return JSON.stringify({ optime });
}

/** `history` value: compact JSON array; trailing absent fields of a row are dropped, not `null`. */
export function encodeHistory(rows: readonly HistoryRow[]): string {
  return JSON.stringify(
    rows.map((row) => {
      const r: unknown[] = [...row];
      while (r.length > 0 && r[r.length - 1] === undefined) r.pop();
      return r;
    }),
  );
}

/** `config` value: compact JSON object. */
/** `failover` as Patroni writes it: compact JSON, empty fields left out; `{}` = nothing pending. */
export function encodeFailover(f: FailoverRequest): string {
  const out: FailoverRequest = {};
  for (const k of ['leader', 'member', 'scheduled_at'] as const) if (f[k]) out[k] = f[k];
  return JSON.stringify(out);
}

/** `sync` as Patroni writes it: `{"leader":"n1","sync_standby":"n2,n3"}`, `null` for none. */
export function encodeSync(s: SyncState): string {
  const standbys = [...s.standbys].sort();
  return JSON.stringify({ leader: s.leader, sync_standby: standbys.length > 0 ? standbys.join(',') : null });
}

function decodeSync(value: string): SyncState | null {
  const parsed = parseJson(value);
  if (!isObject(parsed)) return null;
  const leader = typeof parsed['leader'] === 'string' && parsed['leader'] !== '' ? parsed['leader'] : null;
  const raw = parsed['sync_standby'];
  const standbys = typeof raw === 'string' ? raw.split(',').map((n) => n.trim()).filter((n) => n !== '') : [];
  return { leader, standbys: standbys.sort() };
}

export function encodeConfig(value: Record<string, unknown>): string {
  return JSON.stringify(value);
}

function decodeHistory(value: string): HistoryRow[] | null {
  const parsed = parseJson(value);
  if (!Array.isArray(parsed)) return null;
  const rows: HistoryRow[] = [];
  for (const r of parsed) {
    if (!Array.isArray(r)) continue;
    const tl = toInt(r[0]);
    const lsn = toInt(r[1]);
    if (tl === undefined || lsn === undefined) continue;
    const row: HistoryRow = [tl, lsn, typeof r[2] === 'string' ? r[2] : ''];
    if (typeof r[3] === 'string') row[3] = r[3];
    if (typeof r[4] === 'string') row[4] = r[4];
    rows.push(row);
  }
  return rows;
}

/** `{}` (or a value without usable fields) means "no pending failover" (reference §1.3). */
function decodeFailover(value: string): FailoverRequest | null {
  const parsed = parseJson(value);
  const out: FailoverRequest = {};
  if (isObject(parsed)) {
    for (const k of ['leader', 'member', 'scheduled_at'] as const) {
      const v = parsed[k];
      if (typeof v === 'string' && v !== '') out[k] = v;
    }
  } else if (parsed === undefined && value.includes(':')) {
    // Legacy form `leader:candidate`.
    const [leader, member] = value.split(':', 2);
    if (leader) out.leader = leader.trim();
    if (member) out.member = member.trim();
  }
  return Object.keys(out).length > 0 ? out : null;
}

function decodeOptime(value: string): Lsn | null {
  const parsed = parseJson(value);
  return isObject(parsed) ? (toInt(parsed['optime']) ?? null) : null;
}

const leaseOf = (kv: RawKv): string | undefined => (kv.lease && kv.lease !== '0' ? kv.lease : undefined);

/**
 * Builds one consistent snapshot from a prefix read. Keys outside `prefix`, unknown keys and
 * members below more than one path component are ignored. Members come out sorted by name.
 * `configModRevision` is the key's mod_revision whenever `config` exists, even when its value
 * did not parse (so a compare-and-set can still repair it).
 */
export function decodeCluster(prefix: string, kvs: readonly RawKv[], revision: string): ClusterSnapshot {
  const snap: ClusterSnapshot = {
    initialize: null,
    config: null,
    configModRevision: null,
    leader: null,
    members: [],
    optime: null,
    history: null,
    failover: null,
    failoverModRevision: null,
    sync: null,
    syncModRevision: null,
    failsafe: null,
    revision,
  };
  let legacyOptime: Lsn | null = null;
  for (const kv of kvs) {
    if (!kv.key.startsWith(prefix)) continue;
    const rel = kv.key.slice(prefix.length);
    if (rel.startsWith(KEYS.membersDir)) {
      const name = rel.slice(KEYS.membersDir.length);
      if (name === '' || name.includes('/')) continue;
      const m: Member = { name, data: decodeMember(kv.value) };
      const lease = leaseOf(kv);
      if (lease) m.leaseId = lease;
      snap.members.push(m);
      continue;
    }
    switch (rel) {
      case KEYS.initialize:
        snap.initialize = kv.value;
        break;
      case KEYS.config: {
        const parsed = parseJson(kv.value);
        snap.config = isObject(parsed) ? parsed : null;
        snap.configModRevision = kv.modRevision;
        break;
      }
      case KEYS.leader: {
        if (kv.value === '') break;
        const leader: LeaderKey = { name: kv.value, modRevision: kv.modRevision };
        const lease = leaseOf(kv);
        if (lease) leader.leaseId = lease;
        snap.leader = leader;
        break;
      }
      case KEYS.status:
        snap.optime = decodeOptime(kv.value);
        break;
      case KEYS.legacyOptime:
        legacyOptime = toInt(kv.value.trim()) ?? null;
        break;
      case KEYS.history:
        snap.history = decodeHistory(kv.value);
        break;
      case KEYS.failover:
        snap.failover = decodeFailover(kv.value);
        snap.failoverModRevision = kv.modRevision;
        break;
      case KEYS.failsafe: {
        const parsed = parseJson(kv.value);
        if (isObject(parsed)) {
          const map: Record<string, string> = {};
          for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string') map[k] = v;
          snap.failsafe = map;
        }
        break;
      }
      case KEYS.sync:
        snap.sync = decodeSync(kv.value);
        snap.syncModRevision = kv.modRevision;
        break;
      default:
        break;
    }
  }
  if (snap.optime === null) snap.optime = legacyOptime;
  snap.members.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return snap;
}

/** What happened to one key, as a watch reports it. */
export interface KeyChange {
  key: string;
  type: 'put' | 'delete';
  /** Value before the change (`null` when the key did not exist or the watch did not say). */
  previous: string | null;
  value: string | null;
}

/**
 * Whether a change must wake the HA loop early (reference §1.7): the leader key changing value
 * or disappearing, any change of `config` or `failover`, and a member key appearing (a new
 * leader publishes its member key just after taking the leader key, and replicas waiting to clone
 * or follow need both). Renewals of the leader key by its holder (same value) and updates of
 * existing member keys do not wake anyone.
 */
export function isWakeupChange(prefix: string, c: KeyChange): boolean {
  if (!c.key.startsWith(prefix)) return false;
  const rel = c.key.slice(prefix.length);
  if (rel === KEYS.leader) return c.type === 'delete' || c.previous === null || c.previous !== c.value;
  if (rel.startsWith(KEYS.membersDir)) return c.type === 'put' && c.previous === null;
  return rel === KEYS.config || rel === KEYS.failover;
}
