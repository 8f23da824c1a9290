import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { decide } from '../../../src/ha/decide.js';
import type { Decision, Memory, Observation } from '../../../src/ha/types.js';
import type { FaultKind } from './faults.js';
import type { Invariant } from './invariants.js';
import { runSim, type SimOptions, type SimResult } from './world.js';

const SEEDS = Number(process.env['SIM_SEEDS'] ?? 200);
const replay = process.env['SIM_SEED'];
const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

/**
 * One entry per failing seed: the violation and how to replay it, plus the trace of that moment
 * for the first `detailed` seeds (the rest would drown the output).
 */
function report(results: SimResult[], invariant: Invariant, detailed = 3): string[] {
  const hits = results.flatMap((r) => r.violations.filter((v) => v.invariant === invariant).map((v) => ({ seed: r.seed, v })));
  return hits.map(({ seed, v }, i) =>
    [
      `seed ${seed}: ${v.invariant}: ${v.message} (at ${(v.at / 1000).toFixed(3)} s)`,
      ...(i < detailed ? [`  replay: SIM_SEED=${seed} node --import tsx --test test/unit/sim/cluster.sim.test.ts`, ...v.trace.map((l) => `  ${l}`)] : []),
    ].join('\n'),
  );
}

const withDecide = (d: typeof decide) => (seed: number) => runSim({ seed, decide: d });
/** A decide that never emits `stop`: only the lease fence can demote. */
const noStop = (o: Observation, m: Memory): Decision => {
  const d = decide(o, m);
  return { ...d, actions: d.actions.filter((a) => a.type !== 'stop') };
};
const caught = (results: SimResult[], invariant: Invariant): boolean => results.some((r) => r.violations.some((v) => v.invariant === invariant));

if (replay !== undefined) {
  describe(`simulation seed ${replay}`, () => {
    it('keeps every invariant', () => {
      const kinds = process.env['SIM_KINDS']?.split(',') as FaultKind[] | undefined;
      const r = runSim({ seed: Number(replay), traceSize: 400, ...(kinds ? { kinds } : {}) });
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
  });

  describe('the simulation itself', () => {
    it('gives the same result twice for the same seed', () => {
      const opts: SimOptions = { seed: 7, traceSize: 100 };
      assert.deepEqual(runSim(opts), runSim(opts));
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
  });
}
