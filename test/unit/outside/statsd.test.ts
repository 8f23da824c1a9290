import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { formatLine, reportCycle, sanitize, StatsdClient } from '../../../src/outside/statsd.js';
import { cluster, leaderView, replicaView } from '../api/fixtures.js';
import { recordingLogger } from './helpers.js';

/** A real statsd server stand-in: every datagram received on 127.0.0.1, split into lines. */
class Listener {
  readonly lines: string[] = [];
  private packets: string[] = [];
  /** The datagrams behind the lines the last `take` returned. */
  lastPackets: string[] = [];
  private readonly socket: Socket = createSocket('udp4');
  port = 0;

  async start(): Promise<void> {
    this.socket.on('message', (msg) => {
      this.packets.push(msg.toString('utf8'));
      this.lines.push(...msg.toString('utf8').split('\n'));
    });
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    this.port = this.socket.address().port;
  }

  /** Waits until `n` lines arrived (UDP on loopback does not lose them), then takes them. */
  async take(n: number): Promise<string[]> {
    const end = Date.now() + 3_000;
    while (this.lines.length < n && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 30)); // room for an unexpected extra line to show up
    this.lastPackets = this.packets;
    this.packets = [];
    return this.lines.splice(0);
  }

  close(): void {
    this.socket.close();
  }
}

describe('StatsdClient', () => {
  const server = new Listener();
  before(() => server.start());
  after(() => server.close());

  it('sends gauges, counters and timings in the Telegraf tagged format, tags sorted, per-call tags winning', async () => {
    const log = recordingLogger();
    const client = new StatsdClient({ host: '127.0.0.1', port: server.port, tags: { dc: 'eu1', app: 'pg' } }, log);
    client.gauge('pgwarden.role', 1, { role: 'primary' });
    client.increment('pgwarden.leader_change', { dc: 'us2' });
    client.timing('pgwarden.loop_duration', 12.34567);
    client.gauge('pgwarden.lag', 0.5);
    assert.deepEqual((await server.take(4)).sort(), [
      'pgwarden.lag,app=pg,dc=eu1:0.5|g',
      'pgwarden.leader_change,app=pg,dc=us2:1|c',
      'pgwarden.loop_duration,app=pg,dc=eu1:12.346|ms',
      'pgwarden.role,app=pg,dc=eu1,role=primary:1|g',
    ]);
    client.close();
    assert.deepEqual(log.lines, []);
  });

  it('strips the characters that would break a line from names and tags, and drops empty tag values', async () => {
    const client = new StatsdClient({ host: '127.0.0.1', port: server.port, prefix: 'my app', tags: { 'data center': 'eu 1,b=c', empty: '' } }, recordingLogger());
    client.gauge('lag:bytes|x', 3, { member: 'n|2:a' });
    assert.deepEqual(await server.take(1), ['my_app.lag_bytes_x,data_center=eu_1_b_c,member=n_2_a:3|g']);
    client.close();
  });

  it('sends a negative gauge as a reset to 0 and a delta, in one packet', async () => {
    const client = new StatsdClient({ host: '127.0.0.1', port: server.port, prefix: 'p.' }, recordingLogger());
    client.gauge('skew', -2.5);
    assert.deepEqual(await server.take(2), ['p.skew:0|g', 'p.skew:-2.5|g']);
    assert.equal(server.lastPackets.length, 1);
    client.close();
  });

  it('sends nothing for a value that is not a finite number, and says so once', async () => {
    const log = recordingLogger();
    const client = new StatsdClient({ host: '127.0.0.1', port: server.port }, log);
    client.gauge('a', Number.NaN);
    client.gauge('a', Number.NaN);
    client.timing('b', Number.POSITIVE_INFINITY);
    client.gauge('c', 1);
    assert.deepEqual(await server.take(1), ['c:1|g']);
    assert.deepEqual(log.lines, ['WARNING statsd: not sending a: value NaN is not a finite number', 'WARNING statsd: not sending b: value Infinity is not a finite number']);
    client.close();
  });

  it('sends nothing after close, without throwing', async () => {
    const client = new StatsdClient({ host: '127.0.0.1', port: server.port }, recordingLogger());
    client.gauge('before', 1);
    assert.deepEqual(await server.take(1), ['before:1|g']);
    client.close();
    client.close();
    client.gauge('after', 1);
    assert.deepEqual(await server.take(0), []);
  });

  it('never throws on a host that does not resolve: logs the error once, however often it sends', async () => {
    const log = recordingLogger();
    const client = new StatsdClient({ host: 'statsd.pgwarden-test.invalid', port: 8125 }, log);
    for (let i = 0; i < 5; i++) client.gauge('x', i);
    const end = Date.now() + 10_000;
    while (log.lines.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(log.lines.length, 1, log.lines.join('\n'));
    assert.match(log.lines[0]!, /^WARNING statsd: cannot send to statsd\.pgwarden-test\.invalid:8125: .*(ENOTFOUND|EAI_AGAIN)/);
    client.close();
  });
});

describe('reportCycle', () => {
  const server = new Listener();
  before(() => server.start());
  after(() => server.close());

  it('reports role, known lags per member and loop duration, and no leader change on the first cycle', async () => {
    const client = new StatsdClient({ host: '127.0.0.1', port: server.port, tags: { dc: 'eu1' } }, recordingLogger());
    const lags = { n1: { bytes: 0, seconds: 0 }, n2: { bytes: 4096, seconds: 1.25 }, n3: { bytes: null, seconds: null } };
    const leader = reportCycle(client, leaderView(), { loopDurationMs: 42, lags });
    assert.equal(leader, 'n1');
    assert.deepEqual((await server.take(6)).sort(), [
      'pgwarden.loop_duration,dc=eu1,node=n1,scope=batman:42|ms',
      'pgwarden.replication_lag_bytes,dc=eu1,member=n1,node=n1,scope=batman:0|g',
      'pgwarden.replication_lag_bytes,dc=eu1,member=n2,node=n1,scope=batman:4096|g',
      'pgwarden.replication_lag_seconds,dc=eu1,member=n1,node=n1,scope=batman:0|g',
      'pgwarden.replication_lag_seconds,dc=eu1,member=n2,node=n1,scope=batman:1.25|g',
      'pgwarden.role,dc=eu1,node=n1,role=primary,scope=batman:1|g',
    ]);
    client.close();
  });

  it('counts a leader change only when another member takes the leader key, not when the lock lapses', async () => {
    const client = new StatsdClient({ host: '127.0.0.1', port: server.port }, recordingLogger());
    const on = (leader: string | null) => replicaView({ cluster: cluster({ leader: leader === null ? null : { name: leader, modRevision: '9' } }) });
    let last = reportCycle(client, on('n1'), { loopDurationMs: 1 });
    last = reportCycle(client, on('n1'), { loopDurationMs: 1, previousLeader: last });
    last = reportCycle(client, on(null), { loopDurationMs: 1, previousLeader: last });
    assert.equal(last, 'n1', 'a cycle without a leader remembers the last one');
    last = reportCycle(client, on('n1'), { loopDurationMs: 1, previousLeader: last });
    last = reportCycle(client, on(null), { loopDurationMs: 1, previousLeader: last });
    last = reportCycle(client, on('n3'), { loopDurationMs: 1, previousLeader: last });
    assert.equal(last, 'n3');
    const lines = await server.take(12);
    assert.deepEqual(lines.filter((l) => l.includes('leader_change')), ['pgwarden.leader_change,leader=n3,node=n2,scope=batman:1|c']);
    assert.deepEqual([...new Set(lines.filter((l) => l.startsWith('pgwarden.role')))], ['pgwarden.role,node=n2,role=replica,scope=batman:0|g']);
    client.close();
  });
});

describe('formatLine and sanitize', () => {
  it('renders name, sorted tags, value and type', () => {
    assert.equal(formatLine('a.b', '7', 'c', { z: '1', y: '2' }), 'a.b,y=2,z=1:7|c');
    assert.equal(formatLine('a', '1', 'g'), 'a:1|g');
    assert.equal(sanitize('a b\tc,d=e:f|g'), 'a_b_c_d_e_f_g');
  });
});
