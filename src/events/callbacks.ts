/**
 * Patroni's `postgresql.callbacks`: after pgwarden starts, stops, restarts or reloads the local
 * PostgreSQL, or changes its role, it runs the configured command as
 * `<command> <action> <role> <scope>` (Patroni's argument order, so existing scripts work), with
 * the event document on stdin for scripts that want more.
 *
 * Callbacks are fire-and-forget: they run in the background and their failure is logged, never
 * fed back into HA decisions — a broken script must not block a failover.
 */
import type { Logger } from '../log.js';
import { errorText } from '../errors.js';
import type { CallbackAction, CallbacksConfig } from './config.js';
import type { ClusterEventDocument } from './document.js';
import { splitCommand, type CommandJob, type CommandRunner } from './runner.js';

/**
 * The job for one callback, or null when that action has no command. `role` is the role the
 * node has as the event completes (for `on_role_change`: the new role), in Patroni 4 names.
 * Throws when the command line cannot be split; `checkEventCommands` rejects such a
 * configuration at load.
 */
export function callbackJob(
  callbacks: CallbacksConfig | undefined,
  action: CallbackAction,
  role: string,
  scope: string,
  doc: ClusterEventDocument,
  timeoutSeconds: number,
): CommandJob | null {
  const command = callbacks?.[action];
  if (command === undefined) return null;
  return {
    // One key per action: a newer on_role_change supersedes a waiting older one (latest role wins).
    key: `callback:${action}`,
    label: `callback ${action}`,
    argv: [...splitCommand(command), action, role, scope],
    stdin: JSON.stringify(doc),
    timeoutMs: timeoutSeconds * 1000,
  };
}

/** The configured callbacks bound to a runner, so the daemon needs one call per event. */
export class Callbacks {
  constructor(
    private readonly runner: CommandRunner,
    private readonly log: Logger,
    private readonly config: {
      callbacks: CallbacksConfig | undefined;
      scope: string;
      timeoutSeconds: number;
    },
  ) {}

  /** Submits the callback for `action` if one is configured; never throws, never waits. */
  fire(action: CallbackAction, role: string, doc: ClusterEventDocument): void {
    try {
      const job = callbackJob(this.config.callbacks, action, role, this.config.scope, doc, this.config.timeoutSeconds);
      if (job) this.runner.submit(job);
    } catch (e) {
      this.log.warn(`callback ${action} not run: ${errorText(e)}`);
    }
  }
}
