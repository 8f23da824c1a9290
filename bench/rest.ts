/**
 * Requests per second and latency of the REST health endpoints haproxy polls, against a running
 * demo cluster (`npm run demo`): GET /primary and GET /patroni on the leader, at 4 and 64
 * connections, 10 s each. The load generator runs on the same machine, so the figures are a
 * floor for a dedicated client.
 *
 *   node --import tsx bench/rest.ts [--duration 10]
 */
import autocannon from 'autocannon';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { duration: { type: 'string', default: '10' } } });

async function leaderApi(): Promise<string> {
  for (const port of [8008, 8009, 8010]) {
    const ok = await fetch(`http://127.0.0.1:${port}/primary`, { signal: AbortSignal.timeout(1000) }).then((r) => r.status === 200, () => false);
    if (ok) return `http://127.0.0.1:${port}`;
  }
  throw new Error('no node answers 200 on /primary at 127.0.0.1:8008..8010: is `npm run demo` running?');
}

const base = await leaderApi();
console.log(`leader REST API: ${base}`);
for (const path of ['/primary', '/patroni']) {
  for (const connections of [4, 64]) {
    const r = await autocannon({ url: `${base}${path}`, connections, duration: Number(values.duration) });
    console.log(
      `GET ${path.padEnd(8)} ${String(connections).padStart(2)} connections: ${Math.round(r.requests.average)} req/s, ` +
        `p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, non-2xx ${r.non2xx}, errors ${r.errors}`,
    );
  }
}
