import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isPgwardenError } from '../../src/errors.js';
import type { LocalPostgres } from '../../src/postgres/local.js';
import { readPostmasterPid } from '../../src/postgres/process.js';
import type { Upstream } from '../../src/postgres/port.js';
import { captureLog, makeNode, pgSkipReason, sql, timed, until, type CapturedLog } from '../support/pg.js';

const PORT_A = 25400;
const PORT_B = 25401;
const PORT_C = 25402;
const PORT_NOBODY = 25409;
const timings: Record<string, number> = {};

describe('LocalPostgres on real PostgreSQL 15', { skip: pgSkipReason() }, () => {
  let dir = '';
  let log: CapturedLog;
  let params: Record<string, string | number | boolean>;
  let a: LocalPostgres;
  let b: LocalPostgres;
  const upA: Upstream = { name: 'a', host: '127.0.0.1', port: PORT_A };
  const upB: Upstream = { name: 'b', host: '127.0.0.1', port: PORT_B };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgwarden-pg-it-'));
    log = captureLog();
    params = { max_wal_senders: 10, max_replication_slots: 10, wal_level: 'replica', shared_buffers: '16MB', wal_keep_size: '128MB', fsync: false };
    a = makeNode(dir, 'a', PORT_A, log, { parameters: () => params });
    b = makeNode(dir, 'b', PORT_B, log, { parameters: () => params });
  });

  after(async () => {
    for (const n of [a, b]) await n?.stop('immediate', 10_000).catch(() => undefined);
    console.log(`# timings (ms): ${JSON.stringify(timings)}`);
    if (process.env.PGWARDEN_KEEP_TEST_DIRS) console.log(`# kept ${dir}\n${log.lines.join("\n")}`);
    else rmSync(dir, { recursive: true, force: true });
  });

  it('reports a data directory that does not exist as uninitialized and not running', async () => {
    assert.deepEqual(await a.probe(), { running: false, postmasterAlive: false, dataDirInitialized: false, systemIdentifier: null, controlState: null, timeline: null });
  });

  it('initializes a cluster, starts it as primary, creates the users and probes the primary fields', async () => {
    [, timings.initdb] = await timed(() => a.initdb());
    [, timings.startPrimary] = await timed(() => a.start({ role: 'primary' }, 30_000));
    await a.createBootstrapUsers();
    await a.createBootstrapUsers(); // idempotent: the second run alters what the first created
    const s = await a.probe();
    assert.ok(s.running);
    assert.equal(s.inRecovery, false);
    assert.equal(s.timeline, 1);
    assert.match(s.systemIdentifier, /^\d{15,}$/);
    assert.ok(s.lsn > 0);
    assert.equal(s.receivedLsn, null);
    assert.ok(s.serverVersion >= 150000 && s.serverVersion < 160000);
    assert.match(s.postmasterStartTime, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
    assert.deepEqual([s.replication, s.upstream, s.pendingRestart], [[], null, false]);

    const roles = await sql(PORT_A, `SELECT rolname, rolreplication, rolcreatedb, rolconnlimit FROM pg_roles WHERE rolname IN ('replicator','rewinder','app') ORDER BY 1`);
    assert.deepEqual(roles.map((r) => [r.rolname, r.rolreplication, r.rolcreatedb, r.rolconnlimit]), [['app', false, true, 5], ['replicator', true, false, -1], ['rewinder', false, false, -1]]);
    const [grant] = await sql(PORT_A, `SELECT has_function_privilege('rewinder', 'pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)', 'EXECUTE') AS ok`);
    assert.equal(grant?.ok, true);
    assert.equal((await sql(PORT_A, 'SELECT current_user AS u', 'app', 'app-pw'))[0]?.u, 'app');
  });

  it('writes its settings into pgwarden.conf, included once from postgresql.conf, with the recovery file last', async () => {
    const conf = readFileSync(join(dir, 'a', 'postgresql.conf'), 'utf8');
    assert.equal(conf.split('\n').filter((l) => l === "include_if_exists = 'pgwarden.conf'").length, 1);
    const lines = readFileSync(join(dir, 'a', 'pgwarden.conf'), 'utf8').trim().split('\n');
    for (const l of ["cluster_name = 'itest'", `port = ${PORT_A}`, "listen_addresses = '127.0.0.1'", "hot_standby = on", "wal_log_hints = on", "unix_socket_directories = '/tmp'"]) assert.ok(lines.includes(l), l);
    assert.equal(lines.at(-1), "include_if_exists = 'pgwarden.recovery.conf'");
    const [shown] = await sql(PORT_A, `SELECT current_setting('cluster_name') AS c, current_setting('wal_log_hints') AS w`);
    assert.deepEqual(shown, { c: 'itest', w: 'on' });
  });

  it('refuses to clone into a directory that is not empty, and cleans up after a failed clone', async () => {
    const busy = makeNode(dir, 'busy', PORT_C, log);
    mkdirSync(join(dir, 'busy'));
    writeFileSync(join(dir, 'busy', 'keep.txt'), 'precious');
    await assert.rejects(busy.basebackup(upA), (e) => isPgwardenError(e, 'PG_COMMAND_FAILED') && /not empty/.test(e.message));
    assert.equal(readFileSync(join(dir, 'busy', 'keep.txt'), 'utf8'), 'precious');

    const lost = makeNode(dir, 'lost', PORT_C, log);
    await assert.rejects(lost.basebackup({ name: 'nobody', host: '127.0.0.1', port: PORT_NOBODY }), (e) => isPgwardenError(e, 'PG_COMMAND_FAILED') && /pg_basebackup/.test(e.message) && /connect|refused/i.test(e.message));
    assert.equal(existsSync(join(dir, 'lost')), false);
  });

  it('clones a replica that streams through its slot, reports replica fields and sees new data', async () => {
    await a.syncReplicationSlots(['b']);
    [, timings.basebackup] = await timed(() => b.basebackup(upA));
    assert.equal(statSync(join(dir, 'b')).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, 'pgpass_b')).mode & 0o777, 0o600);
    [, timings.startReplica] = await timed(() => b.start({ role: 'replica', upstream: upA, slotName: 'b' }, 30_000));
    await sql(PORT_A, 'CREATE TABLE t(id int); INSERT INTO t VALUES (1)');
    const s = await until('b streams', async () => {
      const p = await b.probe();
      return p.running && p.upstream !== null ? p : null;
    });
    assert.ok(s.running && s.inRecovery);
    assert.equal(s.upstream, `127.0.0.1:${PORT_A}`);
    assert.equal(s.timeline, 1);
    assert.ok(s.receivedLsn !== null && s.replayedLsn !== null && s.lsn === Math.max(s.receivedLsn, s.replayedLsn));
    assert.equal(s.replayPaused, false);
    await until('row 1 on b', async () => (await sql(PORT_B, 'SELECT count(*)::int AS n FROM t'))[0]?.n === 1);
    const primary = await a.probe();
    assert.ok(primary.running);
    assert.deepEqual(primary.replication.map((r) => [r.usename, r.application_name, r.client_addr, r.state]), [['replicator', 'b', '127.0.0.1', 'streaming']]);
    assert.deepEqual(await sql(PORT_A, 'SELECT slot_name, active FROM pg_replication_slots'), [{ slot_name: 'b', active: true }]);
  });

  it('measures an idle streaming replica at the primary position, also after a WAL segment switch (the lag rule cannot strand an idle cluster)', async () => {
    // The leader publishes its probe's lsn (pg_current_wal_lsn) as status.optime; a racer compares
    // it with its own probe's lsn (max of received and replayed). Patroni issue #1849: on an idle
    // cluster a segment switch left replicas "behind" the published position for good.
    await sql(PORT_A, 'CREATE TABLE idle_check(id int); INSERT INTO idle_check VALUES (1)');
    await sql(PORT_A, 'SELECT pg_switch_wal()');
    const primary = await a.probe();
    assert.ok(primary.running && !primary.inRecovery);
    const replica = await until('b reaches the primary position', async () => {
      const p = await b.probe();
      return p.running && p.lsn >= primary.lsn ? p : null;
    });
    assert.ok(replica.running);
    assert.equal(primary.lsn - replica.lsn <= 0, true, `primary ${primary.lsn}, replica ${replica.lsn}`);
    const after = await a.probe();
    assert.ok(after.running);
    assert.equal(after.lsn, primary.lsn, 'the idle primary did not move on');
    // maximum_lag_on_syncnode reads the standby's flush position from the same probe; it arrives
    // with the standby's next status message (wal_receiver_status_interval, 10 s by default).
    await until("the primary sees b's flush position reach its own", async () => {
      const p = await a.probe();
      return p.running && p.replication[0]?.flushLsn === primary.lsn;
    });
  });

  it('leaves an unchanged upstream alone, reloads a changed one, and asks a primary for a restart', async () => {
    assert.equal(await b.follow(upA, 'b'), 'unchanged');
    assert.equal(await b.follow(upA, null), 'reloaded');
    await until('b streams without its slot', async () => (await sql(PORT_A, 'SELECT active FROM pg_replication_slots'))[0]?.active === false);
    await until('b streams again', async () => {
      const p = await b.probe();
      return p.running && p.upstream !== null;
    });
    assert.equal(await a.follow(upB, 'a'), 'restart-needed');
  });

  it('drops physical slots nobody wants, keeps wanted ones', async () => {
    await a.syncReplicationSlots(['c']);
    assert.deepEqual(await sql(PORT_A, 'SELECT slot_name FROM pg_replication_slots ORDER BY 1'), [{ slot_name: 'c' }]);
    await a.syncReplicationSlots(['b']);
    assert.deepEqual(await sql(PORT_A, 'SELECT slot_name FROM pg_replication_slots ORDER BY 1'), [{ slot_name: 'b' }]);
  });

  it('re-renders parameters on reload and reports a parameter that needs a restart', async () => {
    params = { ...params, work_mem: '7MB', shared_buffers: '24MB' };
    await a.reload();
    await until('work_mem is reloaded', async () => (await sql(PORT_A, 'SHOW work_mem'))[0]?.work_mem === '7MB');
    const s = await until('pending restart', async () => {
      const p = await a.probe();
      return p.running && p.pendingRestart ? p : null;
    });
    assert.ok(s.running && s.pendingRestart);
  });

  it('keeps synchronous mode\'s synchronous_standby_names when a restarted agent\'s adapter takes over the running primary, until the loop hands it back', async () => {
    /** The value PostgreSQL would apply from its files now (pg_file_settings rereads them), or null for none. */
    const inFiles = async (): Promise<string | null> =>
      ((await sql(PORT_A, "SELECT setting FROM pg_file_settings WHERE name = 'synchronous_standby_names' AND applied"))[0]?.setting as string | undefined) ?? null;
    await a.setSyncStandbyNames('1 ("b")');
    assert.equal(await inFiles(), '1 ("b")');
    // A new agent process: a new adapter over the same running server, then the daemon's first parameter write.
    const fresh = makeNode(dir, 'a', PORT_A, log, { parameters: () => params });
    try {
      await fresh.reload();
      assert.equal(await inFiles(), '1 ("b")', 'the first parameter write of the new agent handed the setting back to the configured value');
      assert.ok(log.lines.some((l) => l.includes(`keeping synchronous_standby_names = '1 ("b")'`)), 'the adoption was not logged');
      const kept = await fresh.probe();
      assert.ok(kept.running && kept.syncStandbyNamesOverridden);
      await fresh.setSyncStandbyNames(null);
      assert.equal(await inFiles(), null);
      const handedBack = await fresh.probe();
      assert.ok(handedBack.running && !handedBack.syncStandbyNamesOverridden);
    } finally {
      await fresh.closeConnections();
      await a.setSyncStandbyNames(null);
    }
  });

  it('probes over one kept connection, hears at once when the postmaster dies, and reconnects after the restart', async () => {
    let lost = 0;
    a.onConnectionLost(() => lost++);
    const backends = async () => (await sql(PORT_A, "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgwarden'")).map((r) => Number(r['pid']));
    await a.probe();
    const first = await backends();
    await a.probe();
    assert.equal(first.length, 1, `pgwarden sessions after a probe: ${first.join(', ')}`);
    assert.deepEqual(await backends(), first, 'the second probe did not reuse the first connection');

    const postmaster = readPostmasterPid(join(dir, 'a'));
    assert.ok(postmaster !== null);
    const t0 = Date.now();
    process.kill(postmaster, 'SIGKILL');
    await until('the kept connection reports the dead postmaster', async () => lost > 0, 5_000);
    timings.postmasterDeathNoticed = Date.now() - t0;
    assert.equal(a.postmasterAlive(), false);
    assert.equal((await a.probe()).running, false);

    await a.start({ role: 'primary' }, 30_000);
    const s = await a.probe();
    assert.ok(s.running && !s.inRecovery, 'no answer over a new connection after the restart');
    assert.equal(lost, 1);
  });

  it('promotes the replica, reads its timeline history, and rewinds the diverged old primary into a streaming replica', async () => {
    [, timings.promote] = await timed(() => b.promote(30_000));
    const pb = await b.probe();
    assert.ok(pb.running && !pb.inRecovery);
    assert.equal(pb.timeline, 2);
    const hist = await b.timelineHistory(2);
    assert.equal(hist.length, 1);
    assert.equal(hist[0]![0], 1);
    assert.ok(hist[0]![1] > 0);
    assert.deepEqual(await b.timelineHistory(1), []);

    await sql(PORT_A, 'INSERT INTO t VALUES (2)'); // written only on the old primary: diverges
    await a.stop('immediate', 10_000);
    const crashed = await a.probe();
    assert.ok(!crashed.running);
    assert.deepEqual([crashed.postmasterAlive, crashed.controlState, crashed.timeline], [false, 'in production', 1]);

    [timings.needsRewindAnswer, timings.needsRewind] = await timed(async () => ((await a.needsRewind(upB)) ? 1 : 0));
    assert.equal(timings.needsRewindAnswer, 1);
    assert.ok(log.lines.some((l) => /single-user crash recovery/.test(l)));
    [, timings.rewind] = await timed(() => a.rewind(upB));
    await b.syncReplicationSlots(['a']);
    [, timings.startRewound] = await timed(() => a.start({ role: 'replica', upstream: upB, slotName: 'a' }, 30_000));
    await sql(PORT_B, 'INSERT INTO t VALUES (3)');
    await until('a follows b', async () => (await sql(PORT_A, 'SELECT count(*)::int AS n FROM t'))[0]?.n === 2);
    assert.deepEqual((await sql(PORT_A, 'SELECT id FROM t ORDER BY id')).map((r) => r.id), [1, 3], 'row 2 is rewound away, row 3 arrives');
    const pa = await until('a streams from b', async () => {
      const p = await a.probe();
      return p.running && p.upstream !== null ? p : null;
    });
    assert.ok(pa.running && pa.inRecovery);
    assert.deepEqual([pa.timeline, pa.upstream], [2, `127.0.0.1:${PORT_B}`]);
  });

  it('says a cleanly stopped replica of the same history needs no rewind', async () => {
    await a.stop('fast', 20_000);
    const s = await a.probe();
    assert.ok(!s.running);
    assert.deepEqual([s.postmasterAlive, s.controlState], [false, 'shut down in recovery']);
    assert.equal(await a.needsRewind(upB), false);
  });

  it('finishes recovery of a crashed replica without a history of its own before checking it', async () => {
    await a.start({ role: 'replica', upstream: upB, slotName: 'a' }, 30_000);
    await a.stop('immediate', 10_000);
    const s = await a.probe();
    assert.ok(!s.running && s.controlState === 'in archive recovery');
    assert.equal(await a.needsRewind(upB), false);
    assert.ok(log.lines.some((l) => /as a standby without a source/.test(l)));
    const after = await a.probe();
    assert.ok(!after.running && after.controlState === 'shut down in recovery');
  });

  it('stops a server that does not react to pg_ctl by killing it, and a stopped server is no error', async () => {
    await a.start({ role: 'replica', upstream: upB, slotName: 'a' }, 30_000);
    const pid = Number(readFileSync(join(dir, 'a', 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(pid, 'SIGSTOP');
    [, timings.stopEscalated] = await timed(() => a.stop('fast', 2_000));
    assert.equal(existsSync(`/proc/${pid}/cwd`) && statSync(`/proc/${pid}/cwd`, { throwIfNoEntry: false }) !== undefined, false, 'the postmaster is gone');
    assert.ok(log.lines.some((l) => /SIGKILL/.test(l)));
    await a.stop('fast', 2_000);
    const s = await a.probe();
    assert.ok(!s.running && !s.postmasterAlive);
    await a.start({ role: 'replica', upstream: upB, slotName: 'a' }, 30_000);
    assert.ok((await a.probe()).running);
  });

  it('refuses to start a running server, and explains a failed start with the server log', async () => {
    await assert.rejects(a.start({ role: 'primary' }, 10_000), (e) => isPgwardenError(e, 'PG_COMMAND_FAILED') && /already running/.test(e.message));
    await a.stop('fast', 20_000);
    const good = params;
    params = { ...params, shared_buffers: 'lots' };
    try {
      await assert.rejects(a.start({ role: 'replica', upstream: upB, slotName: 'a' }, 10_000), (e) => isPgwardenError(e, 'PG_COMMAND_FAILED') && /shared_buffers/.test(e.message) && e.message.includes(join(dir, 'a.log')));
    } finally {
      params = good;
    }
    await a.start({ role: 'replica', upstream: upB, slotName: 'a' }, 30_000);
  });

  it('refuses to move a running data directory, then moves a stopped one aside without deleting it', async () => {
    await assert.rejects(a.moveDataDirAside('test'), (e) => isPgwardenError(e, 'PG_COMMAND_FAILED') && /runs in it/.test(e.message));
    await a.stop('fast', 20_000);
    const moved = await a.moveDataDirAside('the test says so');
    assert.match(moved, /\/a\.failed\.\d{4}-\d\d-\d\dT\d{6}\.\d{3}Z$/);
    assert.ok(existsSync(join(moved, 'PG_VERSION')));
    assert.ok(log.lines.some((l) => l.includes(join(dir, 'a')) && l.includes(moved) && l.includes('the test says so')));
    assert.equal((await a.probe()).dataDirInitialized, false);
  });
});
