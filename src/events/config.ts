/**
 * YAML schemas for operator commands: `postgresql.callbacks` (Patroni's keys) and the
 * top-level `triggers:` mapping (cluster-level events), plus the checks a JSON schema cannot
 * express. Exported on their own so `config/schema.ts` can plug them in; conventions follow it:
 * closed mappings (a misspelt key is an error), optional keys, defaults only where a value is
 * always needed.
 */
import { Type, type Static } from '@sinclair/typebox';
import { errorText } from '../errors.js';
import { splitCommand } from './runner.js';

const CLOSED = { additionalProperties: false } as const;
const Command = Type.String({ minLength: 1 });
const NonNegative = Type.Number({ minimum: 0 });

/**
 * `postgresql.callbacks`: a command line per PostgreSQL lifecycle action. pgwarden runs it
 * without a shell, as `<command> <action> <role> <scope>`, with the event document on stdin.
 */
export const CallbacksSchema = Type.Object(
  {
    on_start: Type.Optional(Command),
    on_stop: Type.Optional(Command),
    on_restart: Type.Optional(Command),
    on_reload: Type.Optional(Command),
    on_role_change: Type.Optional(Command),
  },
  CLOSED,
);
export type CallbacksConfig = Static<typeof CallbacksSchema>;
export type CallbackAction = keyof CallbacksConfig;

/**
 * `triggers`: a command line per cluster-level event, and the lag limits that decide when a
 * replica counts as down. Each `*_up_*` limit must be below its `*_down_*` limit: the gap is the
 * hysteresis that keeps a replica hovering near one limit from firing down/up every cycle.
 * Without an up limit, a replica is up again as soon as it is back within the down limit.
 */
export const TriggersSchema = Type.Object(
  {
    leader_up: Type.Optional(Command),
    leader_down: Type.Optional(Command),
    replica_up: Type.Optional(Command),
    replica_down: Type.Optional(Command),
    failover_happened: Type.Optional(Command),
    /** Runs every HA cycle (logged at DEBUG when it succeeds). */
    heartbeat: Type.Optional(Command),
    replica_down_lag_bytes: Type.Optional(NonNegative),
    replica_up_lag_bytes: Type.Optional(NonNegative),
    replica_down_lag_seconds: Type.Optional(NonNegative),
    replica_up_lag_seconds: Type.Optional(NonNegative),
  },
  CLOSED,
);
export type TriggersConfig = Static<typeof TriggersSchema>;
export type TriggerEvent = 'leader_up' | 'leader_down' | 'replica_up' | 'replica_down' | 'failover_happened' | 'heartbeat';

/** `callback_timeout`: seconds a callback or trigger may run before its process group is killed. */
export const CallbackTimeoutSchema = Type.Number({ minimum: 1, default: 30 });

/** Up/down limit pairs, by unit. */
const LIMIT_PAIRS = [
  ['replica_up_lag_bytes', 'replica_down_lag_bytes'],
  ['replica_up_lag_seconds', 'replica_down_lag_seconds'],
] as const;

/** Problems with the lag limits, one `path: message` line each (empty when fine). */
export function checkTriggerThresholds(t: TriggersConfig, path = 'triggers'): string[] {
  const problems: string[] = [];
  for (const [upKey, downKey] of LIMIT_PAIRS) {
    const up = t[upKey];
    const down = t[downKey];
    if (up === undefined) continue;
    if (down === undefined) {
      problems.push(`${path}.${upKey}: has no effect without ${path}.${downKey}`);
    } else if (up >= down) {
      problems.push(`${path}.${upKey}: must be below ${path}.${downKey} (${up} >= ${down})`);
    }
  }
  return problems;
}

const TRIGGER_EVENTS: readonly TriggerEvent[] = ['leader_up', 'leader_down', 'replica_up', 'replica_down', 'failover_happened', 'heartbeat'];
const CALLBACK_ACTIONS: readonly CallbackAction[] = ['on_start', 'on_stop', 'on_restart', 'on_reload', 'on_role_change'];

/**
 * Command lines that cannot be split into words (an unterminated quote): caught at load so the
 * HA loop never meets one.
 */
export function checkEventCommands(
  callbacks: CallbacksConfig | undefined,
  triggers: TriggersConfig | undefined,
  paths = { callbacks: 'postgresql.callbacks', triggers: 'triggers' },
): string[] {
  return checkCommandLines([
    ...CALLBACK_ACTIONS.map((action): [string, string | undefined] => [`${paths.callbacks}.${action}`, callbacks?.[action]]),
    ...TRIGGER_EVENTS.map((event): [string, string | undefined] => [`${paths.triggers}.${event}`, triggers?.[event]]),
  ]);
}

/**
 * One `path: problem` line per command line (given as `[path, command]`, undefined = not set)
 * that `splitCommand` refuses or that names no program. Shared by every configured command
 * (callbacks, triggers, `over_warning_limit_command`, `failover_command`).
 */
export function checkCommandLines(commands: ReadonlyArray<readonly [string, string | undefined]>): string[] {
  const problems: string[] = [];
  for (const [path, command] of commands) {
    if (command === undefined) continue;
    try {
      if (splitCommand(command).length === 0) problems.push(`${path}: must name a program`);
    } catch (e) {
      problems.push(`${path}: ${errorText(e)}`);
    }
  }
  return problems;
}
