import { existsSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { After, AfterAll, Before, BeforeAll, Status } from '@cucumber/cucumber';
import { ScenarioCluster } from './cluster.js';
import { AGENT_DIST, PG_BIN_DIR, RUN_DIR, makeScenarioDir } from './paths.js';
import { nextPortSlot } from './ports.js';
import { installEmergencyCleanup } from './process.js';
import { describeError } from './poll.js';
import type { PgWorld } from './world.js';

BeforeAll(function () {
  installEmergencyCleanup();
  const problems: string[] = [];
  if (process.getuid?.() === 0) {
    problems.push('the features run PostgreSQL, which refuses to run as root: run them as an unprivileged user (npm test does `runuser -u postgres -- ...`)');
  }
  if (!existsSync(AGENT_DIST)) problems.push(`pgwarden is not built (${AGENT_DIST} is missing): run \`npm run build\``);
  if (!existsSync(join(PG_BIN_DIR, 'initdb'))) problems.push(`PostgreSQL 15 binaries not found in ${PG_BIN_DIR}: run scripts/ensure-deps.sh`);
  if (problems.length) throw new Error(`cannot run the features:\n- ${problems.join('\n- ')}`);
  process.stderr.write(`features: outputs under ${RUN_DIR} (kept only for failed scenarios)\n`);
});

Before({ timeout: 60_000 }, async function (this: PgWorld, { pickle }) {
  this.scenarioDir = makeScenarioDir(pickle.name);
  this.cluster = new ScenarioCluster(this.scenarioDir, await nextPortSlot());
});

/**
 * Stops everything the scenario started, even when it failed half-way; fails the scenario when an
 * agent log shows a programming error; deletes the outputs of a passing scenario and keeps (and
 * points at) those of a failed one, with an evidence.txt of the cluster state at failure time.
 */
After({ timeout: 150_000 }, async function (this: PgWorld, { result, pickle }) {
  if (!this.hasCluster) return;
  const cluster = this.cluster;
  const failed = result?.status !== Status.PASSED && result?.status !== Status.SKIPPED;
  if (failed) {
    const text = await cluster.evidence().catch((e: unknown) => `(evidence collection failed: ${describeError(e)})`);
    writeFileSync(join(this.scenarioDir, 'evidence.txt'), `${pickle.name}\n${result?.message ?? ''}\n\n${text}\n`);
  }
  let teardownError: unknown = null;
  try {
    await cluster.teardown();
  } catch (e) {
    teardownError = e;
  }
  const bugs = cluster.bugLines();
  if (failed || bugs.length > 0 || teardownError) {
    process.stderr.write(`\nfeatures: scenario "${pickle.name}" failed; its logs are kept in ${this.scenarioDir}\n`);
    this.log(`outputs kept in ${this.scenarioDir}`);
  } else {
    rmSync(this.scenarioDir, { recursive: true, force: true });
  }
  if (bugs.length > 0) {
    throw new Error(`agent logs contain BUG/Unhandled/uncaught lines (logs in ${this.scenarioDir}):\n${bugs.slice(0, 20).join('\n')}`);
  }
  if (teardownError) throw new Error(`teardown failed: ${describeError(teardownError)}`);
});

AfterAll(function () {
  try {
    if (existsSync(RUN_DIR) && readdirSync(RUN_DIR).length === 0) rmdirSync(RUN_DIR);
  } catch {
    // best effort
  }
});
