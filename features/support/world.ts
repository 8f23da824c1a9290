import { World, setDefaultTimeout, setWorldConstructor, type IWorldOptions } from '@cucumber/cucumber';
import type { ScenarioCluster } from './cluster.js';
import type { RestAnswer } from './rest.js';
import type { Ack, Writer } from './writer.js';

/** Upper bound of any single step; the steps themselves poll with their own "within N s". */
setDefaultTimeout(180_000);

/**
 * Per-scenario state: the scenario's cluster (set by the Before hook) and values that steps hand
 * to later steps (the new leader after a failover, a fault's start time).
 */
export class PgWorld extends World {
  private clusterRef: ScenarioCluster | null = null;
  scenarioDir = '';
  /** Name of the node that took over in the last "a new leader ..." step. */
  newLeader: string | null = null;
  /** Date.now() when the last fault was injected, for the measured times in the report. */
  faultAt = 0;
  /** Timelines remembered by "I remember the timeline of X". */
  readonly timelines = new Map<string, number>();
  /** The answer to the last REST request a step sent. */
  answer: RestAnswer | null = null;
  /** Postmaster start times remembered by "I remember the postmaster start time of X". */
  readonly startTimes = new Map<string, string>();
  /** The background writer of "a writer inserts a row through haproxy ...". */
  writer: Writer | null = null;
  /** Writers straight to each node's PostgreSQL ("a prober writes directly to every node ..."). */
  probers: Writer[] = [];
  /** A write started by "I start a write on X that needs a synchronous standby". */
  pendingWrite: { started: number; done: Promise<number>; settled: number | null } | null = null;
  /** Resolves when a frozen agent has been resumed ("I freeze the agent of X for N seconds"). */
  thawed: Promise<void> | null = null;
  /** Answers of the last burst of concurrent requests, with the value each one tried to set. */
  concurrent: { answer: RestAnswer; value: string }[] = [];
  /** Cluster state remembered by "I remember the state of the cluster". */
  rememberedState: string | null = null;

  constructor(options: IWorldOptions) {
    super(options);
  }

  get cluster(): ScenarioCluster {
    if (!this.clusterRef) throw new Error('no scenario cluster (the Before hook did not run)');
    return this.clusterRef;
  }

  set cluster(c: ScenarioCluster) {
    this.clusterRef = c;
  }

  get hasCluster(): boolean {
    return this.clusterRef !== null;
  }

  /** Resolves "the new leader" to the node name recorded by a failover step. */
  resolveName(name: string): string {
    if (name === 'the new leader') {
      if (!this.newLeader) throw new Error('no new leader recorded yet');
      return this.newLeader;
    }
    return name;
  }

  /** Every acknowledgement the writer and the probers got, oldest first. */
  allAcks(): Ack[] {
    return [...(this.writer?.acks ?? []), ...this.probers.flatMap((p) => p.acks)].sort((a, b) => a.at - b.at);
  }

  /** Seconds since the last fault, for progress lines. */
  sinceFault(): string {
    return this.faultAt ? `${((Date.now() - this.faultAt) / 1000).toFixed(1)} s after the fault` : '';
  }

  /** A progress line with measured times: attached to the scenario and printed on stderr. */
  note(text: string): void {
    this.log(text);
    process.stderr.write(`  | ${text}\n`);
  }
}

setWorldConstructor(PgWorld);
