/**
 * The JSON state file (`json_state_file_path`, pglookout's idea): what this node last knew about
 * the cluster, rewritten every HA cycle. Scripts read it without speaking etcd or HTTP, and
 * `pgwardenctl current-primary -c FILE` falls back to it when etcd cannot be reached: the file
 * then answers "who was primary when this node last looked" — `written_at` and `dcs_last_seen`
 * say how old that knowledge is.
 *
 * Readers never see a partial file: it is replaced by writing a temporary file in the same
 * directory, fsyncing it and renaming it over the old one (`atomic-file.ts`).
 */
import { readFile } from 'node:fs/promises';
import { Type, type Static } from '@sinclair/typebox';
import { validate } from '../config/ajv.js';
import type { NodeView } from '../domain/node-view.js';
import { errorText } from '../errors.js';
import type { Logger } from '../log.js';
import { writeFileAtomic } from '../atomic-file.js';
import { memberLags, type MemberLag } from './lag.js';

/** Bumped only on an incompatible change; readers refuse other values. */
export const STATE_FILE_FORMAT = 1;

const NullableNumber = Type.Unsafe<number | null>({ type: ['number', 'null'] });
const NullableString = Type.Unsafe<string | null>({ type: ['string', 'null'] });
const Scalar = Type.Unsafe<string | number | boolean>({ type: ['string', 'number', 'boolean'] });

/**
 * One member as published in etcd, with its lag. Objects are OPEN (extra keys allowed) so that a
 * newer daemon adding a field does not break an older `pgwardenctl` reading the file.
 */
const StateMemberSchema = Type.Object({
  role: Type.String(),
  state: Type.String(),
  conn_url: Type.String(),
  api_url: Type.String(),
  xlog_location: NullableNumber,
  lag_bytes: NullableNumber,
  lag_seconds: NullableNumber,
  tags: Type.Record(Type.String(), Scalar),
});

/** The whole file. Times are ISO 8601 strings in UTC. */
export const StateDocumentSchema = Type.Object({
  format: Type.Literal(STATE_FILE_FORMAT, { 'x-message': `must be ${STATE_FILE_FORMAT} (a file written by another pgwarden version?)` }),
  written_at: Type.String(),
  /** This node's member name. */
  member: Type.String(),
  scope: Type.String(),
  /** This node's role and PostgreSQL state, as in its member key. */
  role: Type.String(),
  state: Type.String(),
  /**
   * Holder of the leader key at the last etcd read within ttl; while etcd has been unreachable
   * longer, the leader running on confirmed failsafe rounds (`NodeView.failsafeLeader`); else null.
   */
  leader: NullableString,
  /** Timeline of the local server, or null when unknown. */
  timeline: NullableNumber,
  /** Time of the last successful etcd read, or null when never read. */
  dcs_last_seen: NullableString,
  /**
   * Every member of the last etcd read within ttl, by name; after that only the failsafe leader
   * (as its `POST /failsafe` described it), or nothing.
   */
  members: Type.Record(Type.String(), StateMemberSchema),
  last_decision: Type.Object({ reason: Type.String(), at: Type.String() }),
  /** Alerts in force (`alert-files.ts` names). */
  alerts: Type.Array(Type.String()),
});

export type StateDocument = Static<typeof StateDocumentSchema>;
export type StateMember = Static<typeof StateMemberSchema>;

/** What `buildStateDocument` needs besides the node view. */
export interface StateExtras {
  /** Wall-clock ms of this write (`written_at`). */
  nowMs: number;
  /** Wall-clock ms at which the view's reason was decided; defaults to `nowMs`. */
  decidedAtMs?: number;
  /** Lags by member name; computed from the view's cluster (bytes only) when omitted. */
  lags?: Readonly<Record<string, MemberLag>>;
  alerts?: readonly string[];
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The document for `view`. Pure: the same view and extras give the same document. */
export function buildStateDocument(view: NodeView, extras: StateExtras): StateDocument {
  const cluster = view.cluster;
  const lags = extras.lags ?? (cluster === null ? {} : memberLags(cluster));
  const members: Record<string, StateMember> = {};
  // etcd unreadable for longer than ttl, but a failsafe leader runs: list it as it announced itself.
  const failsafe = cluster === null ? view.failsafeLeader : null;
  if (failsafe !== null && failsafe.conn_url !== '') {
    members[failsafe.name] = { role: 'primary', state: 'running', conn_url: failsafe.conn_url, api_url: failsafe.api_url, xlog_location: null, lag_bytes: null, lag_seconds: null, tags: {} };
  }
  for (const m of [...(cluster?.members ?? [])].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const lag = lags[m.name];
    members[m.name] = {
      role: m.data.role,
      state: m.data.state,
      conn_url: m.data.conn_url,
      api_url: m.data.api_url,
      xlog_location: m.data.xlog_location ?? null,
      lag_bytes: lag?.bytes ?? null,
      lag_seconds: lag?.seconds ?? null,
      tags: m.data.tags ?? {},
    };
  }
  return {
    format: STATE_FILE_FORMAT,
    written_at: iso(extras.nowMs),
    member: view.name,
    scope: view.scope,
    role: view.role,
    state: view.state,
    leader: cluster?.leader?.name ?? failsafe?.name ?? null,
    timeline: view.pg?.timeline ?? null,
    dcs_last_seen: view.dcsLastSeenEpoch > 0 ? iso(view.dcsLastSeenEpoch * 1000) : null,
    members,
    last_decision: { reason: view.reason, at: iso(extras.decidedAtMs ?? extras.nowMs) },
    alerts: [...(extras.alerts ?? [])],
  };
}

/** What one `write` call did. */
export type StateWriteOutcome = 'written' | 'skipped' | 'failed';

/**
 * Writes the state file for the HA loop. `write` never rejects: a failure is logged at ERROR with
 * the path, once per distinct error (a full disk must not flood the log every cycle), and a
 * later success is logged at INFO. A call made while the previous write is still running is
 * skipped: the next cycle writes fresher data anyway, and two writes racing on one temporary
 * file could publish a mix.
 */
export class StateFileWriter {
  private inProgress = false;
  private lastError: string | null = null;

  constructor(
    readonly path: string,
    private readonly log: Logger,
  ) {}

  async write(doc: StateDocument): Promise<StateWriteOutcome> {
    if (this.inProgress) {
      this.log.debug(`state file ${this.path}: previous write still in progress, skipping this one`);
      return 'skipped';
    }
    this.inProgress = true;
    try {
      await writeFileAtomic(this.path, `${JSON.stringify(doc, null, 2)}\n`);
      if (this.lastError !== null) this.log.info(`state file ${this.path} written again`);
      this.lastError = null;
      return 'written';
    } catch (e) {
      const text = errorText(e);
      if (text !== this.lastError) this.log.error(`could not write state file ${this.path}: ${text}`);
      this.lastError = text;
      return 'failed';
    } finally {
      this.inProgress = false;
    }
  }
}

/** A state file that could not be read or is not one; the message names the file. */
export class StateFileError extends Error {
  constructor(
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StateFileError';
  }
}

/**
 * Reads and checks a state file. Rejects with a `StateFileError` naming the file when it cannot
 * be read, is not JSON (e.g. truncated by a full disk or edited by hand) or lacks a field.
 */
export async function readStateFile(path: string): Promise<StateDocument> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new StateFileError(path, `cannot read state file ${path}: ${errorText(e)}`, { cause: e });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new StateFileError(path, `state file ${path} is not valid JSON (truncated or garbled?): ${errorText(e)}`, { cause: e });
  }
  const problems = validate(StateDocumentSchema, data);
  if (problems.length > 0) {
    throw new StateFileError(path, `${path} is not a pgwarden state file:\n  ${problems.join('\n  ')}`);
  }
  return data as StateDocument;
}
