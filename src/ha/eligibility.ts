import type { ClusterSnapshot } from '../domain/cluster.js';
import { failsafeLeadRefusal } from './failsafe.js';
import { syncLeadRefusal } from './sync.js';
import type { Settings } from './types.js';

/**
 * Why member `name` may not take a free leader key even when it is healthy and up to date, or
 * null when it may: the sync key (synchronous mode) and the failsafe key (failsafe mode) name the
 * only nodes that may. One rule for this node's race, for peers it defers to, for the candidates a
 * leader hands a switchover to, and for the key a replica claims before promoting.
 */
export function leadRefusal(settings: Settings, cluster: ClusterSnapshot, name: string): string | null {
  return syncLeadRefusal(settings, cluster, name) ?? failsafeLeadRefusal(settings, cluster, name);
}
