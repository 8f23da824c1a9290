import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { decide } from '../../../src/ha/decide.js';
import type { Decision, Memory, Observation } from '../../../src/ha/types.js';
import type { FaultKind } from './faults.js';
import type { Invariant } from './invariants.js';
import { forgetsFailsafe, ignoresSyncKey, listsUnconfirmedStandbys } from './mutants.js';
import { isSimMode, PROFILES, SIM_MODES, type SimMode } from './profiles.js';
import { runSim, type SimOptions, type SimResult } from './world.js';

const SEEDS = Number(process.env['SIM_SEEDS'] ?? 200);
/** Seeds per schedule kind other than `async`. */
const MODE_SEEDS = Number(process.env['SIM_MODE_SEEDS'] ?? 400);
const replay = process.env['SIM_SEED'];
const replayMode = process.env['SIM_MODE'] ?? 'async';
const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

/**
 * One entry per failing seed: the violation and how to replay it, plus the trace of that moment
 * for the first `detailed` seeds (the rest would drown the output).
 */
function report(results: readonly SimResult[], invariant: Invariant, detailed = 3): string[] {
  const hits = results.flatMap((r) => r.violations.filter((v) => v.invariant === invariant).map((v) => ({ seed: r.seed, mode: r.mode, v })));
  return hits.map(({ seed, mode, v }, i) =>
    [
      `${mode} seed ${seed}: ${v.invariant}: ${v.message} (at ${(v.at / 1000).toFixed(3)} s)`,
      ...(i < detailed ? [`  replay: SIM_MODE=${mode} SIM_SEED=${seed} node --import tsx --test test/unit/sim/cluster.sim.test.ts`, ...v.trace.map((l) => `  ${l}`)] : []),
    ].join('\n'),
  );
}

const withDecide = (d: typeof decide) => (seed: number) => runSim({ seed, decide: d });
/** The first seed where the broken decide breaks `invariant` and the real one does not (the catch is the mutant's doing). */
function caughtBeyondReal(mode: SimMode, seeds: number[], broken: typeof decide, invariant: Invariant): number | null {
  const violates = (r: SimResult): boolean => r.violations.some((v) => v.invariant === invariant);
  return seeds.find((seed) => violates(runSim({ seed, mode, decide: broken })) && !violates(runSim({ seed, mode }))) ?? null;
}
const sum = (results: readonly SimResult[], key: keyof SimResult['stats']): number => results.reduce((n, r) => n + r.stats[key], 0);

/** Test titles of the invariants checked in the schedules of every mode. */
const TITLES: Record<Invariant, string> = {
  belief: 'never has two running primaries that both believe they lead, and one that believes it leads holds the key (or runs on a failsafe round every member confirmed while nobody holds it)',
  dual: 'never has two writable primaries, except while one agent is frozen (no watchdog)',
  fencing: 'stops a primary no later than 500 ms after its lease deadline',
  lag: 'never lets a replica win the race further behind status.optime than maximum_lag_on_failover, unless an operator named it',
  convergence: 'converges within 3 × ttl + 4 × loop_wait after the last fault and request',
  streaming: 'leaves every replica able to replay the leader WAL after the faults',
  fatal: 'never stops a node with an error that needs a human',
  fenceReplica: 'never lets the lease fence stop a server the loop already made read-only',
  syncPromotion: 'never promotes automatically a node the sync key does not name',
  syncLoss: 'never loses a commit a client saw acknowledged (except by an explicit operator failover)',
};
const ASYNC_INVARIANTS: readonly Invariant[] = ['belief', 'dual', 'fencing', 'lag', 'convergence', 'streaming', 'fatal', 'fenceReplica'];

/** What each kind of schedule must have exercised for its invariants to mean something. */
const EXERCISED: Record<Exclude<SimMode, 'async'>, { what: string; ok: (rs: readonly SimResult[]) => boolean }> = {
  sync: { what: 'synchronous acknowledgements and requested takeovers', ok: (rs) => sum(rs, 'ackAdvances') > 0 && sum(rs, 'requestedTakeovers') > 0 },
  strict: { what: 'synchronous acknowledgements and requested takeovers', ok: (rs) => sum(rs, 'ackAdvances') > 0 && sum(rs, 'requestedTakeovers') > 0 },
  failsafe: { what: 'failsafe rounds that every member confirmed', ok: (rs) => sum(rs, 'failsafeConfirmed') > rs.length },
  syncFailsafe: { what: 'synchronous acknowledgements and confirmed failsafe rounds', ok: (rs) => sum(rs, 'ackAdvances') > 0 && sum(rs, 'failsafeConfirmed') > rs.length },
  switchover: { what: 'operator requests carried out', ok: (rs) => sum(rs, 'requestedTakeovers') > rs.length },
};
/** A decide that never emits `stop`: only the lease fence can demote. */
const noStop = (o: Observation, m: Memory): Decision => {
  const d = decide(o, m);
  return { ...d, actions: d.actions.filter((a) => a.type !== 'stop') };
};
const caught = (results: SimResult[], invariant: Invariant): boolean => results.some((r) => r.violations.some((v) => v.invariant === invariant));

if (replay !== undefined) {
  describe(`simulation seed ${replay} (${replayMode} schedule)`, () => {
    it('keeps every invariant', () => {
      const kinds = process.env['SIM_KINDS']?.split(',') as FaultKind[] | undefined;
      assert.ok(isSimMode(replayMode), `SIM_MODE must be one of the modes in profiles.ts, not ${replayMode}`);
      const r = runSim({ seed: Number(replay), mode: replayMode, traceSize: 400, ...(kinds ? { kinds } : {}) });
      for (const v of r.violations) console.log(`${v.invariant}: ${v.message} (at ${(v.at / 1000).toFixed(3)} s)\n${v.trace.join('\n')}\n`);
      if (r.violations.length === 0) console.log(r.trace.join('\n'));
      console.log(JSON.stringify(r.stats));
      assert.deepEqual(r.violations.map((v) => `${v.invariant}: ${v.message}`), []);
    });
  });
} else {
  describe(`three-node simulation of the HA decision core (${SEEDS} seeds with faults)`, () => {
    let results: SimResult[] = [];
    before(() => {
      results = range(1, SEEDS).map((seed) => runSim({ seed }));
      const changes = results.reduce((n, r) => n + r.stats.leaderChanges, 0);
      const faults = results.reduce((n, r) => n + r.stats.faults, 0);
      const overrun = Math.max(...results.map((r) => r.stats.maxOverrunMs));
      const fenced = results.reduce((n, r) => n + r.stats.fenceStops, 0);
      console.log(`${SEEDS} seeds: ${faults} faults, ${changes} leader changes, ${fenced} lease-fence stops, largest overrun of a lease deadline ${overrun} ms`);
    });

    it('causes real failovers, so the invariants are exercised', () => {
      const changes = results.reduce((n, r) => n + r.stats.leaderChanges, 0);
      assert.ok(changes > 2 * SEEDS, `only ${changes} leader changes in ${SEEDS} runs`);
    });

    it('never has two running primaries that both believe they lead, and a primary that believes it leads really holds the key', () => {
      assert.deepEqual(report(results, 'belief'), []);
    });

    it('never has two writable primaries, except while one agent is frozen (no watchdog)', () => {
      assert.deepEqual(report(results, 'dual'), []);
    });

    it('never lets a replica win the race further behind status.optime than maximum_lag_on_failover', () => {
      assert.deepEqual(report(results, 'lag'), []);
    });

    it('converges within 3 × ttl + 4 × loop_wait after the last fault: one leader with a primary, every other node a replica configured to follow it', () => {
      assert.deepEqual(report(results, 'convergence'), []);
    });

    it('never stops a node with an error that needs a human', () => {
      assert.deepEqual(report(results, 'fatal'), []);
    });

    it('stops a primary no later than 500 ms after its lease deadline', () => {
      assert.deepEqual(report(results, 'fencing'), []);
    });

    it('never lets the lease fence stop a server the loop already made read-only', () => {
      assert.deepEqual(report(results, 'fenceReplica'), []);
    });

    it('leaves every replica able to replay the leader WAL after the faults (none diverged)', () => {
      assert.deepEqual(report(results, 'streaming'), []);
    });

    it('points a leader that restarted PostgreSQL as a replica at the new leader once it lost the key', () => {
      assert.deepEqual(report([runSim({ seed: 1288 })], 'convergence'), []);
    });

    it('never runs two writable primaries when the leader is cut off from everything during its renewal', () => {
      const r = runSim({ seed: 745, kinds: ['isolate', 'partition', 'dcsDown'] });
      assert.deepEqual(report([r], 'dual'), []);
    });

    it('keeps the primary running through whole-etcd outages in failsafe mode while every member answers', () => {
      // Outages start at any point of a cycle, also while the leader's renewal is on its way.
      const results = range(1, 60).map((seed) => runSim({ seed, mode: 'failsafe', kinds: ['dcsDown'], requests: false }));
      const interrupted = results.filter((r) => r.stats.longestWithoutPrimaryMs > 0).map((r) => `seed ${r.seed}: no writable primary for ${r.stats.longestWithoutPrimaryMs} ms (${r.stats.fenceStops} fence stops)`);
      assert.deepEqual(interrupted, []);
      assert.ok(sum(results, 'failsafeConfirmed') > results.length, 'no failsafe round was confirmed, so this shows nothing');
    });
  });

  describe('the simulation itself', () => {
    it('gives the same result twice for the same seed', () => {
      const opts: SimOptions = { seed: 7, traceSize: 100 };
      assert.deepEqual(runSim(opts), runSim(opts));
    });

    it('gives the same result twice for the same seed in every kind of schedule', () => {
      for (const mode of SIM_MODES) {
        const opts: SimOptions = { seed: 11, mode, traceSize: 100 };
        assert.deepEqual(runSim(opts), runSim(opts), `${mode} seed 11 ran differently twice`);
      }
    });

    it('catches a daemon that never stops PostgreSQL (no stop from decide, no lease fence)', () => {
      const results = range(1, 10).map((seed) => runSim({ seed, decide: noStop, fence: false }));
      assert.ok(caught(results, 'fencing') && caught(results, 'dual'), 'a daemon that never demotes went unnoticed');
    });

    it('keeps every primary within its lease by the fence alone when decide never demotes', () => {
      const results = range(1, 20).map((seed) => runSim({ seed, decide: noStop }));
      const unsafe = results.flatMap((r) => r.violations.filter((v) => ['fencing', 'dual', 'belief'].includes(v.invariant)).map((v) => `seed ${r.seed}: ${v.invariant}: ${v.message}`));
      assert.deepEqual(unsafe, []);
      assert.ok(results.some((r) => r.stats.fenceStops > 0), 'the fence never had to act, so this shows nothing');
    });

    it('catches a decide that races however far behind it is', () => {
      const greedy = (o: Observation, m: Memory): Decision => {
        const d = decide(o, m);
        if (d.reason.startsWith('not racing') && o.pg.running && o.pg.inRecovery) {
          return { ...d, actions: [{ type: 'acquireLeader', promote: true }] };
        }
        return d;
      };
      assert.ok(caught(range(1, 40).map(withDecide(greedy)), 'lag'), 'a decide that ignores maximum_lag_on_failover went unnoticed');
    });

    it('catches a decide that never follows the new leader', () => {
      const stubborn = (o: Observation, m: Memory): Decision => {
        const d = decide(o, m);
        return { ...d, actions: d.actions.filter((a) => a.type !== 'follow') };
      };
      assert.ok(caught(range(1, 20).map(withDecide(stubborn)), 'convergence'), 'replicas left on the old leader went unnoticed');
    });

    it('catches a decide that ignores syncRaceRefusal (a replica outside the sync key races)', () => {
      assert.notEqual(caughtBeyondReal('sync', range(1, 20), ignoresSyncKey, 'syncPromotion'), null, 'a promotion outside the sync key went unnoticed');
    });

    it('catches a synchronous-mode leader that lists standbys in the sync key without making commits wait for them', () => {
      assert.notEqual(caughtBeyondReal('sync', range(1, 40), listsUnconfirmedStandbys, 'syncLoss'), null, 'lost acknowledged commits went unnoticed');
    });

    it('catches a replica that races although it confirmed a failsafe leader less than ttl ago', () => {
      assert.notEqual(caughtBeyondReal('failsafe', range(1, 40), forgetsFailsafe, 'belief'), null, 'overlapping primaries in failsafe mode went unnoticed');
    });
  });

  for (const mode of SIM_MODES.filter((m): m is Exclude<SimMode, 'async'> => m !== 'async')) {
    const sync = PROFILES[mode].settings.synchronousMode === true;
    const invariants: readonly Invariant[] = sync ? [...ASYNC_INVARIANTS, 'syncPromotion', 'syncLoss'] : ASYNC_INVARIANTS;
    describe(`${mode} schedules (${MODE_SEEDS} seeds; replay one with SIM_MODE=${mode} SIM_SEED=<n>)`, () => {
      let results: SimResult[] = [];
      before(() => {
        const started = Date.now();
        results = range(1, MODE_SEEDS).map((seed) => runSim({ seed, mode }));
        const failsafe = `${sum(results, 'failsafeRounds')} failsafe rounds (${sum(results, 'failsafeConfirmed')} confirmed by all)`;
        console.log(
          `${mode}: ${MODE_SEEDS} seeds in ${Date.now() - started} ms: ${sum(results, 'faults')} faults, ${sum(results, 'requests')} operator requests, ` +
            `${sum(results, 'leaderChanges')} leader changes (${sum(results, 'requestedTakeovers')} by a requested candidate), ` +
            `${sum(results, 'ackAdvances')} ticks with acknowledged commits, ${sum(results, 'forgivenLosses')} explicit failovers that lost some, ${failsafe}`,
        );
      });

      it(`exercises ${EXERCISED[mode].what}, and real failovers`, () => {
        assert.ok(EXERCISED[mode].ok(results), `${mode} schedules did not exercise ${EXERCISED[mode].what}`);
        assert.ok(sum(results, 'leaderChanges') > 2 * MODE_SEEDS, `only ${sum(results, 'leaderChanges')} leader changes in ${MODE_SEEDS} runs`);
      });

      for (const invariant of invariants) {
        it(TITLES[invariant], () => {
          assert.deepEqual(report(results, invariant), []);
        });
      }
    });
  }
}
