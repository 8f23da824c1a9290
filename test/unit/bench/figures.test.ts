import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { unavailability } from '../../../bench/faults.js';
import { parseWrk, wrkMs } from '../../../bench/measure.js';
import { markdownSummary, spread } from '../../../bench/report.js';

describe('bench figures', () => {
  it('write unavailability is the longest gap that ends after the fault', () => {
    const acks = [0, 20, 40, 60, 1500, 1520, 1540].map((at, i) => ({ id: i + 1, at, port: 1 }));
    assert.equal(unavailability(acks, 50), 1440);
    // A longer gap before the fault does not count.
    const early = [0, 3000, 3020, 3040, 3500].map((at, i) => ({ id: i + 1, at, port: 1 }));
    assert.equal(unavailability(early, 3030), 460);
    assert.equal(unavailability([], 0), null);
  });

  it('reads wrk --latency output, Patroni-style socket errors included', () => {
    const out = `Running 3s test @ http://127.0.0.1:29011/primary
  2 threads and 4 connections
  Latency Distribution
     50%   13.01ms
     75%   49.74ms
     90%   84.63ms
     99%  1.20s
  175 requests in 3.01s, 129.91KB read
  Socket errors: connect 1, read 175, write 2, timeout 3
  Non-2xx or 3xx responses: 4
Requests/sec:     58.07
`;
    assert.deepEqual(parseWrk(out), { requestsPerSecond: 58.07, p50Ms: 13.01, p99Ms: 1200, non2xx: 4, errors: 6 });
    assert.equal(wrkMs('812.00us'), 0.812);
    assert.throws(() => parseWrk('garbage'), /unexpected wrk output/);
  });

  it('summarises min / median / max and the ratio of medians', () => {
    assert.deepEqual(spread([3, 1, 2, Number.NaN]), { n: 3, min: 1, median: 2, max: 3 });
    assert.deepEqual(spread([4, 1, 2, 3]), { n: 4, min: 1, median: 2.5, max: 4 });
    assert.equal(spread([]), null);
    const md = markdownSummary(
      [
        { scenario: 'kill', metric: 'gap', system: 'pgwarden', run: 0, value: 900 },
        { scenario: 'kill', metric: 'gap', system: 'patroni', run: 0, value: 1800 },
      ],
      [{ id: 'kill', title: 'Kill', metrics: { gap: { label: 'write gap', unit: 'ms', lowerIsBetter: true } } }],
      ['pgwarden', 'patroni'],
      '# t',
    );
    assert.match(md, /\| write gap \| 900 ms \(900–900, n=1\) \| 1800 ms \(1800–1800, n=1\) \| 0\.50 \(lower is better\) \|/);
  });
});
