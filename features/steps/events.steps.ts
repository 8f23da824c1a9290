/**
 * Steps of events.feature: callbacks, cluster triggers, alert files, the JSON state file and
 * statsd output of real agents.
 *
 * Every command the nodes run is one small sh script (`record.sh FILE ...`) that appends its
 * arguments and its stdin (the JSON event document, one line) to FILE, tab-separated. Callbacks,
 * `failover_command` and `over_warning_limit_command` write one file per node; the cluster
 * triggers of all nodes write ONE file, so "once per cluster" is checked across nodes. A UDP
 * listener on 127.0.0.1 (port 0) stands in for statsd, and a reader polls the state files.
 */
import assert from 'node:assert/strict';
import { chmodSync, closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket, type Socket } from 'node:dgram';
import { join } from 'node:path';
import { After, Given, Then, When } from '@cucumber/cucumber';
import { holdsFor, waitFor } from '../support/poll.js';
import { query } from '../support/sql.js';
import type { PgWorld } from '../support/world.js';

/** One line a record.sh run wrote: its arguments and the JSON document it read. */
interface Recorded {
  args: string[];
  doc: Record<string, unknown> | null;
  raw: string;
}

/**
 * Polls state files every 15 ms and keeps every text that did not parse. A torn read is rare even
 * when a writer rewrites a file in place (the window is microseconds), so the reader also checks
 * the mechanism that makes it impossible: every new content must come with a new inode (a
 * temporary file renamed over the old one), never the same file rewritten.
 */
class StateFileReader {
  reads = 0;
  /** Content changes seen (each one checked for a new inode). */
  changes = 0;
  readonly invalid: string[] = [];
  readonly inPlace: string[] = [];
  private readonly last = new Map<string, { ino: number; text: string }>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly paths: string[]) {}

  start(): void {
    this.timer = setInterval(() => {
      for (const path of this.paths) this.readOne(path);
    }, 15);
  }

  private readOne(path: string): void {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      return; // not written yet: not a torn read
    }
    let ino: number;
    let text: string;
    try {
      // The inode and the text come from the same open file, even if a rename happens meanwhile.
      ino = fstatSync(fd).ino;
      text = readFileSync(fd, 'utf8');
    } finally {
      closeSync(fd);
    }
    this.reads++;
    try {
      JSON.parse(text);
    } catch {
      this.invalid.push(`${path}: ${JSON.stringify(text.slice(0, 200))}`);
    }
    const before = this.last.get(path);
    if (before && before.text !== text) {
      this.changes++;
      if (before.ino === ino) this.inPlace.push(`${path} (inode ${ino})`);
    }
    this.last.set(path, { ino, text });
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

interface EventsRig {
  dir: string;
  statsd: Socket;
  statsdPort: number;
  /** Every statsd line received, in order. */
  statsdLines: string[];
  reader: StateFileReader | null;
  /** Line counts of the trigger log remembered by "I remember the trigger log". */
  triggerMark: number;
}

const rigs = new WeakMap<PgWorld, EventsRig>();

function rigOf(world: PgWorld): EventsRig {
  const rig = rigs.get(world);
  if (!rig) throw new Error('no event scripts in this scenario (add "Given every node reports its events to recording scripts")');
  return rig;
}

const NODES = ['postgres0', 'postgres1', 'postgres2'];

const RECORD_SH = `#!/bin/sh
# record.sh FILE ARGS...: appends "ARGS<TAB>stdin" as one line to FILE
out="$1"; shift
doc=$(cat | tr -d '\\n')
printf '%s\\t%s\\n' "$*" "$doc" >> "$out"
`;

function readRecorded(path: string): Recorded[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((raw) => {
      const [args = '', json = ''] = raw.split('\t');
      let doc: Record<string, unknown> | null = null;
      try {
        doc = JSON.parse(json) as Record<string, unknown>;
      } catch {
        doc = null;
      }
      return { args: args.split(' '), doc, raw };
    });
}

const callbackLog = (rig: EventsRig, node: string) => join(rig.dir, `callbacks-${node}.log`);
const triggerLog = (rig: EventsRig) => join(rig.dir, 'triggers.log');
const commandLog = (rig: EventsRig, kind: string, node: string) => join(rig.dir, `${kind}-${node}.log`);
const alertDir = (rig: EventsRig, node: string) => join(rig.dir, `alerts-${node}`);
const stateFile = (rig: EventsRig, node: string) => join(rig.dir, `state-${node}.json`);

Given('every node reports its events to recording scripts', async function (this: PgWorld) {
  const dir = join(this.cluster.dir, 'events');
  mkdirSync(dir, { recursive: true });
  const script = join(dir, 'record.sh');
  writeFileSync(script, RECORD_SH);
  chmodSync(script, 0o755);
  const statsd = createSocket('udp4');
  const statsdLines: string[] = [];
  statsd.on('message', (msg) => statsdLines.push(...msg.toString('utf8').split('\n')));
  await new Promise<void>((resolve) => statsd.bind(0, '127.0.0.1', resolve));
  const rig: EventsRig = { dir, statsd, statsdPort: statsd.address().port, statsdLines, reader: null, triggerMark: 0 };
  rigs.set(this, rig);
  const cmd = (file: string) => `${script} ${file}`;
  const callbacks = (node: string) =>
    Object.fromEntries(['on_start', 'on_stop', 'on_restart', 'on_reload', 'on_role_change'].map((a) => [a, cmd(callbackLog(rig, node))]));
  const triggers = Object.fromEntries(['leader_up', 'leader_down', 'replica_up', 'replica_down', 'failover_happened'].map((e) => [e, cmd(triggerLog(rig))]));
  for (const node of NODES) {
    mkdirSync(alertDir(rig, node), { recursive: true });
    this.cluster.configureNode(node, {
      postgresql: { callbacks: callbacks(node), callback_timeout: 10 },
      triggers,
      alert_file_dir: alertDir(rig, node),
      json_state_file_path: stateFile(rig, node),
      failover_command: cmd(commandLog(rig, 'failover', node)),
      over_warning_limit_command: cmd(commandLog(rig, 'over', node)),
      statsd: { host: '127.0.0.1', port: rig.statsdPort, tags: { env: 'features' } },
    });
  }
});

Given(
  'the leader measures replica delay with the heartbeat table, replicas count as down above {int} s and up again below {int} s, and the warning limit is {int} s',
  function (this: PgWorld, down: number, up: number, warning: number) {
    rigOf(this);
    for (const node of NODES) {
      this.cluster.configureNode(node, {
        heartbeat_table: { enabled: true },
        triggers: { replica_down_lag_seconds: down, replica_up_lag_seconds: up },
        warning_replication_time_lag: warning,
      });
    }
  },
);

After(function (this: PgWorld) {
  const rig = rigs.get(this);
  if (!rig) return;
  rig.reader?.stop();
  rig.statsd.close();
});

/** The recorded runs of `node`'s callbacks, as "action role scope" lines. */
function callbackLines(rig: EventsRig, node: string): string[] {
  return readRecorded(callbackLog(rig, node)).map((r) => r.args.join(' '));
}

Then('the callbacks of {node} record {string} within {int} seconds', async function (this: PgWorld, name: string, line: string, seconds: number) {
  const rig = rigOf(this);
  const node = this.resolveName(name);
  await waitFor(seconds, `${node}'s callbacks record "${line}"`, async () => {
    const lines = callbackLines(rig, node);
    if (!lines.includes(line)) throw new Error(`recorded: ${JSON.stringify(lines)}`);
    return true;
  });
});

Then('the callbacks of {node} record, in order, {string} within {int} seconds', async function (this: PgWorld, name: string, list: string, seconds: number) {
  const rig = rigOf(this);
  const node = this.resolveName(name);
  const wanted = list.split(', ');
  await waitFor(seconds, `${node}'s callbacks record ${list} in order`, async () => {
    const lines = callbackLines(rig, node);
    let at = 0;
    for (const l of lines) if (l === wanted[at]) at++;
    if (at < wanted.length) throw new Error(`recorded: ${JSON.stringify(lines)}`);
    return true;
  });
});

Then('the {word} callback of {node} read a document naming {node} as {word} with leader {node}', function (this: PgWorld, action: string, name: string, member: string, role: string, leader: string) {
  const rig = rigOf(this);
  const node = this.resolveName(name);
  const runs = readRecorded(callbackLog(rig, node)).filter((r) => r.args[0] === action);
  assert.ok(runs.length > 0, `${node} recorded no ${action} callback`);
  const doc = runs[runs.length - 1]!.doc;
  assert.ok(doc, `the ${action} callback of ${node} read no valid JSON: ${runs[runs.length - 1]!.raw}`);
  assert.equal(doc['event'], action);
  assert.equal(doc['scope'], this.cluster.scope);
  assert.deepEqual(doc['member'], { name: this.resolveName(member), role, state: action === 'on_stop' ? 'stopped' : 'running' });
  assert.equal((doc['leader'] as { name?: string } | null)?.name, this.resolveName(leader));
  assert.ok(Array.isArray(doc['replicas']) && typeof doc['timestamp'] === 'string', `document lacks replicas or timestamp: ${JSON.stringify(doc)}`);
});

/**
 * Marks where the events of the scenario's fault start: after the start-up events (each
 * replica joining is announced as replica_up by the leader) have landed and the log has been
 * quiet for 2 s, so a late start-up line is not counted as a reaction to the fault.
 */
When('I remember the trigger log', async function (this: PgWorld) {
  const rig = rigOf(this);
  const replicas = [...this.cluster.nodes.keys()].filter((n) => n !== 'postgres0');
  let last = -1;
  let quietSince = Date.now();
  await waitFor(30, `the start-up triggers (replica_up of ${replicas.join(', ')}) ran and the log is quiet`, () => {
    const lines = readRecorded(triggerLog(rig)).map((r) => r.args.join(' '));
    if (lines.length !== last) {
      last = lines.length;
      quietSince = Date.now();
    }
    const missing = replicas.filter((n) => !lines.includes(`replica_up ${this.cluster.scope} ${n}`));
    if (missing.length > 0) throw new Error(`no replica_up yet for ${missing.join(', ')}`);
    return Promise.resolve(Date.now() - quietSince >= 2_000);
  }, 250);
  rig.triggerMark = last;
});

/** Trigger runs since the mark, as "event scope member" lines. */
function triggerLines(rig: EventsRig): string[] {
  return readRecorded(triggerLog(rig)).slice(rig.triggerMark).map((r) => r.args.join(' '));
}

function countOf(lines: string[], line: string): number {
  return lines.filter((l) => l === line).length;
}

Then('the triggers record {string} once within {int} seconds', async function (this: PgWorld, line: string, seconds: number) {
  const rig = rigOf(this);
  const wanted = line.replace(/\bthe new leader\b/, () => this.resolveName('the new leader'));
  await waitFor(seconds, `the triggers record "${wanted}"`, async () => {
    const lines = triggerLines(rig);
    if (countOf(lines, wanted) === 0) throw new Error(`recorded: ${JSON.stringify(lines)}`);
    return true;
  });
  const n = countOf(triggerLines(rig), wanted);
  assert.equal(n, 1, `"${wanted}" ran ${n} times: ${JSON.stringify(triggerLines(rig))}`);
});

Then('during {int} seconds the triggers record {string} and {string} exactly once each', async function (this: PgWorld, seconds: number, a: string, b: string) {
  const rig = rigOf(this);
  await holdsFor(seconds, `"${a}" and "${b}" ran exactly once each`, () => {
    const lines = triggerLines(rig);
    for (const l of [a, b]) if (countOf(lines, l) !== 1) throw new Error(`"${l}" ran ${countOf(lines, l)} times: ${JSON.stringify(lines)}`);
    return Promise.resolve();
  });
});

Then('the triggers record {string} not at all during {int} seconds', async function (this: PgWorld, line: string, seconds: number) {
  const rig = rigOf(this);
  await holdsFor(seconds, `"${line}" never ran`, () => {
    const lines = triggerLines(rig);
    if (countOf(lines, line) > 0) throw new Error(`"${line}" ran: ${JSON.stringify(lines)}`);
    return Promise.resolve();
  });
});

Then('the alert file {word} of {node} exists within {int} seconds', async function (this: PgWorld, alert: string, name: string, seconds: number) {
  const path = join(alertDir(rigOf(this), this.resolveName(name)), alert);
  await waitFor(seconds, `${path} exists`, () => Promise.resolve(existsSync(path)));
  const content = JSON.parse(readFileSync(path, 'utf8')) as { alert?: string; since?: string };
  assert.equal(content.alert, alert);
});

Then('the alert file {word} of {node} is gone within {int} seconds', async function (this: PgWorld, alert: string, name: string, seconds: number) {
  const path = join(alertDir(rigOf(this), this.resolveName(name)), alert);
  await waitFor(seconds, `${path} is gone`, () => Promise.resolve(!existsSync(path)));
});

Then('the alert file {word} of {node} does not exist', function (this: PgWorld, alert: string, name: string) {
  const path = join(alertDir(rigOf(this), this.resolveName(name)), alert);
  assert.equal(existsSync(path), false, `${path} exists`);
});

Then('the {word} command ran once on {node} and on no other node', function (this: PgWorld, kind: string, name: string) {
  const rig = rigOf(this);
  const node = this.resolveName(name);
  for (const other of NODES) {
    const runs = readRecorded(commandLog(rig, kind, other));
    assert.equal(runs.length, other === node ? 1 : 0, `${kind} command on ${other}: ${JSON.stringify(runs.map((r) => r.raw))}`);
  }
});

Then('the {word} command ran {int} time(s) on {node}', function (this: PgWorld, kind: string, times: number, name: string) {
  const runs = readRecorded(commandLog(rigOf(this), kind, this.resolveName(name)));
  assert.equal(runs.length, times, `${kind} command on ${name}: ${JSON.stringify(runs.map((r) => r.raw))}`);
});

When('a reader polls the state files of every node every 15 ms', function (this: PgWorld) {
  const rig = rigOf(this);
  rig.reader = new StateFileReader(NODES.map((n) => stateFile(rig, n)));
  rig.reader.start();
});

Then('the reader never saw invalid JSON and the state file of {node} names {node} as leader within {int} seconds', async function (this: PgWorld, name: string, leader: string, seconds: number) {
  const rig = rigOf(this);
  const node = this.resolveName(name);
  const want = this.resolveName(leader);
  const path = stateFile(rig, node);
  await waitFor(seconds, `${path} names ${want} as leader`, () => {
    const doc = JSON.parse(readFileSync(path, 'utf8')) as { leader?: string; member?: string; members?: Record<string, unknown> };
    if (doc.leader !== want) throw new Error(`leader ${String(doc.leader)}`);
    assert.equal(doc.member, node);
    assert.ok(doc.members?.[want], `members lack ${want}`);
    return Promise.resolve(true);
  });
  const reader = rig.reader;
  assert.ok(reader, 'no reader was started');
  assert.ok(reader.reads > 100 && reader.changes > 5, `the reader read only ${reader.reads} times and saw ${reader.changes} changes`);
  assert.deepEqual(reader.invalid, [], 'the reader saw invalid JSON');
  assert.deepEqual(reader.inPlace, [], 'a state file was rewritten in place instead of replaced');
  this.note(`state file reader: ${reader.reads} reads, ${reader.changes} changes, all valid JSON, each change a new file`);
});

Then('statsd received {word} from {node} within {int} seconds', async function (this: PgWorld, metric: string, name: string, seconds: number) {
  const rig = rigOf(this);
  const node = this.resolveName(name);
  await waitFor(seconds, `statsd received ${metric} from ${node}`, () => {
    const lines = rig.statsdLines.filter((l) => l.startsWith(`${metric},`) && l.includes(`,node=${node}`));
    if (lines.length === 0) throw new Error(`${rig.statsdLines.length} lines, none for ${metric} from ${node}`);
    assert.match(lines[lines.length - 1]!, /,env=features[,:]/);
    return Promise.resolve(true);
  });
});

Then('statsd received a leader change to the new leader within {int} seconds', async function (this: PgWorld, seconds: number) {
  const rig = rigOf(this);
  const leader = this.resolveName('the new leader');
  await waitFor(seconds, `statsd received pgwarden.leader_change to ${leader}`, () =>
    Promise.resolve(rig.statsdLines.some((l) => l.startsWith('pgwarden.leader_change,') && l.includes(`,leader=${leader},`) && l.endsWith(':1|c'))),
  );
});

When('I delay WAL replay on {node} by {int} seconds', async function (this: PgWorld, name: string, seconds: number) {
  const node = this.cluster.node(this.resolveName(name));
  await query(node.pg, `ALTER SYSTEM SET recovery_min_apply_delay = '${seconds}s'`);
  await query(node.pg, 'SELECT pg_reload_conf()');
});

When('I stop delaying WAL replay on {node}', async function (this: PgWorld, name: string) {
  const node = this.cluster.node(this.resolveName(name));
  await query(node.pg, 'ALTER SYSTEM RESET recovery_min_apply_delay');
  await query(node.pg, 'SELECT pg_reload_conf()');
});

const maintenanceFile = (world: PgWorld, node: string) => join(world.cluster.dir, `maintenance-${node}`);

Given('{node} has a maintenance_mode_file', function (this: PgWorld, name: string) {
  this.cluster.configureNode(name, { maintenance_mode_file: maintenanceFile(this, name) });
});

When('I create the maintenance file of {node}', function (this: PgWorld, name: string) {
  writeFileSync(maintenanceFile(this, name), 'planned kernel upgrade\n');
});

When('I remove the maintenance file of {node}', function (this: PgWorld, name: string) {
  rmSync(maintenanceFile(this, name), { force: true });
});

Then('the member key of {node} shows the tag nofailover within {int} seconds', async function (this: PgWorld, name: string, seconds: number) {
  await waitFor(seconds, `the member key of ${name} has tags.nofailover`, async () => {
    const data = await this.cluster.view().member(name);
    return (data?.['tags'] as Record<string, unknown> | undefined)?.['nofailover'] === true;
  });
});
