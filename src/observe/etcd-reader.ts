/**
 * The observer's only handle on etcd: a reader that CANNOT write.
 *
 * The observer is a bystander. Whatever it sees (two primaries, a leader key on a replica), it
 * must not change the cluster it judges: a third party that deletes keys or takes leases would
 * be one more actor in the very race it is meant to watch. So the etcd client is wrapped at
 * construction into an object that has just the three read methods; the write methods of the
 * `Dcs` port (lease, member key, leader key, config, failover, sync, ...) are not reachable from
 * the observer, neither by type nor at run time. `test/unit/observe/etcd-reader.test.ts` checks
 * that the wrapper exposes nothing else.
 */
import type { Dcs } from '../dcs/port.js';
import type { Logger } from '../log.js';
import { connectScope } from '../watch/run.js';
import type { ObserverConfig } from './config.js';

/** The read side of the `Dcs` port: one read of the cluster, change notification, close. */
export type ClusterReader = Pick<Dcs, 'getCluster' | 'waitForChange' | 'close'>;

/** Wraps `dcs` so that only its reads are reachable (see the module comment). */
export function readOnly(dcs: Dcs): ClusterReader {
  return {
    getCluster: () => dcs.getCluster(),
    waitForChange: (timeoutMs, signal) => dcs.waitForChange(timeoutMs, signal),
    close: () => dcs.close(),
  };
}

/** A read-only etcd client for one observed scope (the watcher's connection settings). */
export function connectReader(config: ObserverConfig, scope: string, log: Logger): ClusterReader {
  return readOnly(connectScope(config, scope, log));
}
