/**
 * `maintenance_mode_file` (pglookout's switch): while the file exists, this node is no
 * promotion candidate, exactly as if it were tagged `nofailover` — it publishes the tag, so the
 * other members and switchover checks skip it too, and it does not race for a free leader key.
 * It changes nothing else: a leader keeps leading (as with the tag), a replica keeps streaming.
 * Creating or deleting the file takes effect at the next HA cycle, without a reload.
 */
import { existsSync } from 'node:fs';
import type { Logger } from '../log.js';

export class MaintenanceMode {
  private active = false;

  /** @param path `maintenance_mode_file`, read at each call so a reload can change it. */
  constructor(
    private readonly path: () => string | undefined,
    private readonly log: Logger,
  ) {}

  /** True while the file exists. Logs once when it appears and once when it goes. */
  check(): boolean {
    const path = this.path();
    const now = path !== undefined && existsSync(path);
    if (now !== this.active) {
      if (now) this.log.warn(`maintenance_mode_file ${path ?? ''} exists: this node is not a failover candidate (published as nofailover) until it is removed`);
      else this.log.info(`maintenance mode ended${path === undefined ? '' : ` (${path} is gone)`}: this node is a failover candidate again unless tagged nofailover`);
    }
    this.active = now;
    return now;
  }
}
