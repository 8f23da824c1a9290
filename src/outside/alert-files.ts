/**
 * Alert files (pglookout's idea): one file per active alert in `alert_file_dir`, named after the
 * alert. Monitoring that can only test "does this file exist" (a Nagios file check, a cron job,
 * a node-exporter textfile glob) then sees pgwarden's problems without speaking its API.
 *
 * Each file holds a small JSON object `{"alert", "since", "details"}` written atomically, so a
 * reader that opens it never sees half of it. The alerts:
 * - `authentication_error`: pgwarden could not log in to a PostgreSQL server;
 * - `multiple_primary_warning`: more than one member reports itself as primary;
 * - `replication_delay_warning`: a member is over a `warning_replication_*_lag` limit;
 * - `failover_has_happened`: the leader changed. This one is an EVENT, not a condition: it is
 *   created and never removed by pgwarden. The operator deletes the file to acknowledge it; the
 *   next failover creates it again.
 *
 * Guarantees: `set` never throws (a file problem is logged at ERROR with the path, once per
 * distinct error, and retried at the next call); calling `set` with the state already in force
 * writes nothing; the start of an alert is logged once at WARNING and its end once at INFO,
 * whether or not the directory is usable. On construction the files already present are adopted,
 * so a restarted daemon neither forgets an alert nor raises it a second time.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { errorText } from '../errors.js';
import type { Logger } from '../log.js';
import { isTemporaryName, writeFileAtomicSync } from '../atomic-file.js';

/** pglookout's alerts, plus the observer's `leader_in_recovery_warning` (the leader key names a server in recovery). */
export type AlertName = 'authentication_error' | 'multiple_primary_warning' | 'replication_delay_warning' | 'failover_has_happened' | 'leader_in_recovery_warning';

export const ALERT_NAMES: readonly AlertName[] = [
  'authentication_error',
  'multiple_primary_warning',
  'replication_delay_warning',
  'failover_has_happened',
  'leader_in_recovery_warning',
];

/** The alert pgwarden raises but never clears (see the module comment). */
const OPERATOR_CLEARED: AlertName = 'failover_has_happened';

/** Content of an alert file. */
export interface AlertFileContent {
  alert: AlertName;
  /** ISO time the alert started. */
  since: string;
  details?: object;
}

interface Raised {
  since: string;
  details?: object;
}

export class AlertFiles {
  /** Alerts in force, whatever the state of the directory: what the logs and `active()` report. */
  private readonly raised = new Map<AlertName, Raised>();
  /** Alerts whose file is known to exist; `set` touches the disk only when this differs from `raised`. */
  private readonly onDisk = new Set<AlertName>();
  /**
   * Last error logged per path, so a broken directory yields one line per problem, not one per
   * cycle. A success on the path forgets it: the same error coming back is news again.
   */
  private readonly loggedErrors = new Map<string, string>();

  /**
   * @param dir `alert_file_dir`; undefined means no files (transitions are still logged).
   * @param now the wall clock, injectable for tests.
   */
  constructor(
    private readonly dir: string | undefined,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {
    if (dir !== undefined) this.adopt(dir);
  }

  /**
   * Raises (`active: true`) or clears an alert. `details` is written into the file when the alert
   * starts; later calls do not rewrite it. `failover_has_happened` is an event: call it with
   * `true` once per failover observed. `active: false` is ignored for it; `true` raises it again
   * only once the operator has deleted the file (one `stat` per call to find out), or, without
   * `alert_file_dir`, logs a warning on every call.
   */
  set(name: AlertName, active: boolean, details?: object): void {
    if (name === OPERATOR_CLEARED) {
      if (!active) return;
      this.noticeAcknowledgement();
      if (this.dir === undefined && this.raised.has(name)) {
        // Without a file nothing can acknowledge it: each failover is still worth a warning.
        this.log.warn(`alert ${name} raised again${detailsText(details)}`);
        return;
      }
    }
    const current = this.raised.get(name);
    if (active && current === undefined) {
      const since = this.now().toISOString();
      this.raised.set(name, details === undefined ? { since } : { since, details });
      this.log.warn(`alert ${name} raised${detailsText(details)}`);
    } else if (!active && current !== undefined) {
      this.raised.delete(name);
      this.log.info(`alert ${name} cleared (raised since ${current.since})`);
    }
    this.reconcile(name);
  }

  /** Alerts in force, in the order of `ALERT_NAMES` (for the state file and the REST API). */
  active(): AlertName[] {
    return ALERT_NAMES.filter((n) => this.raised.has(n));
  }

  /** Path of the file of alert `name`, or undefined without `alert_file_dir`. */
  pathOf(name: AlertName): string | undefined {
    return this.dir === undefined ? undefined : join(this.dir, name);
  }

  /** The operator deleting `failover_has_happened` acknowledges it: forget it so it can be raised again. */
  private noticeAcknowledgement(): void {
    const path = this.pathOf(OPERATOR_CLEARED);
    if (path === undefined || !this.onDisk.has(OPERATOR_CLEARED) || existsSync(path)) return;
    this.onDisk.delete(OPERATOR_CLEARED);
    this.raised.delete(OPERATOR_CLEARED);
    this.log.info(`alert ${OPERATOR_CLEARED} acknowledged: ${path} was removed`);
  }

  /** Makes the file of `name` exist exactly when the alert is raised; no I/O when it already does. */
  private reconcile(name: AlertName): void {
    const path = this.pathOf(name);
    const wanted = this.raised.get(name);
    if (path === undefined || (wanted !== undefined) === this.onDisk.has(name)) return;
    try {
      if (wanted !== undefined) {
        const content: AlertFileContent = { alert: name, ...wanted };
        writeFileAtomicSync(path, `${JSON.stringify(content)}\n`);
        this.onDisk.add(name);
      } else {
        rmSync(path, { force: true });
        this.onDisk.delete(name);
      }
      this.loggedErrors.delete(path);
    } catch (e) {
      this.logOnce(path, `could not ${wanted !== undefined ? 'create' : 'remove'} alert file ${path}: ${errorText(e)}`);
    }
  }

  /** Takes over the files a previous run left, and removes its half-written temporary files. */
  private adopt(dir: string): void {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (e) {
      this.logOnce(dir, `cannot read alert_file_dir ${dir}: ${errorText(e)}`);
      return;
    }
    for (const name of ALERT_NAMES) {
      const path = join(dir, name);
      if (names.includes(name)) {
        const since = sinceOf(path);
        this.raised.set(name, { since });
        this.onDisk.add(name);
        this.log.info(`alert ${name} still raised since ${since} (found ${path})`);
      }
      for (const leftover of names.filter((f) => isTemporaryName(f, name))) rmSync(join(dir, leftover), { force: true });
    }
  }

  private logOnce(path: string, message: string): void {
    if (this.loggedErrors.get(path) === message) return;
    this.loggedErrors.set(path, message);
    this.log.error(message);
  }
}

/** `: {...}` for the log, or nothing; never throws (details may hold a cycle or a BigInt). */
function detailsText(details: object | undefined): string {
  if (details === undefined) return '';
  try {
    return `: ${JSON.stringify(details)}`;
  } catch {
    return ': (details not serialisable)';
  }
}

/** Start time recorded in an alert file; its modification time when the content is not ours. */
function sinceOf(path: string): string {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    const since = (parsed as { since?: unknown } | null)?.since;
    if (typeof since === 'string' && !Number.isNaN(Date.parse(since))) return since;
  } catch {
    // An empty or foreign file (e.g. created by `touch`) still counts as the alert.
  }
  try {
    return statSync(path).mtime.toISOString();
  } catch {
    return new Date(0).toISOString();
  }
}
