/**
 * The JSON a watcher plugin reads on stdin.
 *
 * One run of a plugin gets every cluster it follows at once, under `clusters`, rather than one
 * run per cluster: a plugin usually rewrites one file (a pgbouncer ini, an haproxy config) and
 * runs are never concurrent, so one run with the whole picture cannot lose a cluster's update
 * to another cluster's run. Each entry is the same document callbacks and cluster triggers get
 * (`events/document.ts`), so one `jq` filter serves all of them: a plugin for one cluster reads
 * `.clusters[0]`, or picks its cluster with `.clusters[] | select(.scope == "batman")`.
 */
import type { ClusterSnapshot } from '../domain/cluster.js';
import { buildEventDocument, type ClusterEventDocument } from '../events/document.js';

/**
 * Why a plugin runs:
 * - `watch_started`: its first run since the watcher started (plugins are idempotent: this
 *   re-applies the current topology after a restart of the watcher or of the host);
 * - `topology_changed`: the leader or the healthy members of one of its clusters changed;
 * - `retry`: its last run failed and the topology is still the same.
 */
export type WatchEvent = 'watch_started' | 'topology_changed' | 'retry';

export interface WatchDocument {
  event: WatchEvent;
  /** The plugin's `name` in the watch YAML. */
  plugin: string;
  /** One sentence: what changed (or why it runs again). */
  reason: string;
  /** When the document was built, ISO-8601 UTC. */
  timestamp: string;
  /** One document per scope the plugin follows, in the order the watch YAML lists them. */
  clusters: ClusterEventDocument[];
}

/** One cluster as last read from etcd. */
export interface WatchedCluster {
  scope: string;
  snapshot: ClusterSnapshot;
  /** What changed since the plugin's last successful run (its document's `reason`). */
  change: string;
  /** Members whose key vanished since the plugin's last successful run. */
  lost: readonly string[];
}

export function buildWatchDocument(input: {
  event: WatchEvent;
  plugin: string;
  reason: string;
  clusters: readonly WatchedCluster[];
  now?: Date;
}): WatchDocument {
  const now = input.now ?? new Date();
  return {
    event: input.event,
    plugin: input.plugin,
    reason: input.reason,
    timestamp: now.toISOString(),
    clusters: input.clusters.map((c) =>
      buildEventDocument({ event: input.event, scope: c.scope, cluster: c.snapshot, lost: c.lost, reason: c.change, now }),
    ),
  };
}
