import type { Settings } from '../../../src/ha/types.js';
import { DEFAULT_MIX, type FaultMix } from './faults.js';

/**
 * The kinds of schedule the simulation runs. Each seed number is one schedule per mode, so a
 * failure replays with `SIM_MODE=<mode> SIM_SEED=<n>`.
 *
 * - `async`: the original schedules (asynchronous replication, no operator requests). Its seeds
 *   make exactly the draws they made before the other modes existed.
 * - `sync` / `strict`: `synchronous_mode` (and `synchronous_mode_strict`), with operator requests.
 * - `failsafe`: `failsafe_mode`, with more etcd outages and partitions, and operator requests.
 * - `syncFailsafe`: both, on the failsafe fault mix.
 * - `switchover`: asynchronous, with operator requests twice as often.
 */
export type SimMode = 'async' | 'sync' | 'strict' | 'failsafe' | 'syncFailsafe' | 'switchover';

export const SIM_MODES: readonly SimMode[] = ['async', 'sync', 'strict', 'failsafe', 'syncFailsafe', 'switchover'];

export interface Profile {
  /** Dynamic configuration over the simulation's defaults. */
  settings: Partial<Settings>;
  mix: FaultMix;
  /** Gap between two operator requests (ms, drawn uniformly), or null for none. */
  requestGap: readonly [number, number] | null;
}

/** 10 % kill, 8 % crash, 12 % freeze, 25 % etcd down for everyone, 30 % etcd cut from one node, 15 % isolation. */
const FAILSAFE_MIX: FaultMix = [0.1, 0.18, 0.3, 0.55, 0.85];

export const PROFILES: Record<SimMode, Profile> = {
  async: { settings: {}, mix: DEFAULT_MIX, requestGap: null },
  sync: { settings: { synchronousMode: true }, mix: DEFAULT_MIX, requestGap: [8_000, 40_000] },
  strict: { settings: { synchronousMode: true, synchronousModeStrict: true }, mix: DEFAULT_MIX, requestGap: [8_000, 40_000] },
  failsafe: { settings: { failsafeMode: true }, mix: FAILSAFE_MIX, requestGap: [10_000, 50_000] },
  syncFailsafe: { settings: { synchronousMode: true, failsafeMode: true }, mix: FAILSAFE_MIX, requestGap: [10_000, 50_000] },
  switchover: { settings: {}, mix: DEFAULT_MIX, requestGap: [4_000, 20_000] },
};

export function isSimMode(s: string): s is SimMode {
  return (SIM_MODES as readonly string[]).includes(s);
}
