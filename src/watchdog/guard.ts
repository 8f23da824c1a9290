/**
 * Everything that keeps a primary from outliving its lease when its agent cannot act: the
 * companion fencer (always on) and, per `watchdog.mode`, a kernel watchdog device.
 *
 * - `off`: companion fencer only.
 * - `automatic` (Patroni's default): the device is used when it can be opened and its timeout is
 *   short enough; otherwise one log line says the companion fencer guards this primary alone.
 * - `required`: this node does not take the leader key (nor bootstrap a cluster) without a
 *   working device, and advertises `watchdog_failed` so that others never pick it as candidate.
 *
 * The HA loop calls `mayLead` before taking the key, `arm` after every renewal etcd confirmed
 * while it runs a primary (the device is opened at the first and fed at every one, right there in
 * the loop: a hung agent stops feeding it), and `disarm` when it stops running a primary under a
 * lease, pauses, or shuts down.
 */
import type { WatchdogView } from '../domain/node-view.js';
import type { Logger } from '../log.js';
import type { OutOfProcessFence } from '../loop/fence.js';
import { checkDevice, KernelWatchdog, probeDevice } from './kernel.js';

export type WatchdogMode = WatchdogView['mode'];

export interface LeadershipGuard extends OutOfProcessFence {
  /** null when this node may take the leader key, else why it must not. */
  mayLead(): string | null;
  state(): WatchdogView;
}

export interface SafeguardOptions {
  mode: () => WatchdogMode;
  device: () => string;
  /** ttl − safety margin: the longest device timeout that still resets before the lease ends. */
  maxTimeoutSeconds: () => number;
  companion: OutOfProcessFence & { readonly failed: boolean };
  log: Logger;
}

export class Safeguards implements LeadershipGuard {
  private dog: KernelWatchdog | null = null;
  private problem: string | null = null;
  private lastLogged: string | null = null;

  constructor(private readonly o: SafeguardOptions) {}

  /**
   * Checks without opening: an open device resets the machine unless fed, and nothing feeds it
   * until a renewal arms it (a bootstrap's initdb can take longer than the device's timeout).
   */
  mayLead(): string | null {
    if (this.o.mode() !== 'required' || this.dog !== null) return null;
    const probe = probeDevice(this.o.device(), this.o.maxTimeoutSeconds());
    return probe.ok ? null : `watchdog.mode is required, but ${this.fail(probe.reason)}`;
  }

  arm(leaderUntil: number): void {
    this.o.companion.arm(leaderUntil);
    const wasOpen = this.dog !== null;
    // Opening writes the first keepalive itself.
    if (this.activate() !== null || this.dog === null || !wasOpen) return;
    try {
      this.dog.keepalive();
    } catch (e) {
      this.fail(`keepalive to ${this.dog.device} failed: ${e instanceof Error ? e.message : String(e)}`);
      this.closeDog();
    }
  }

  disarm(): void {
    this.o.companion.disarm();
    this.closeDog();
  }

  /**
   * Also while not leading: with `required`, a device that could not be opened now makes this
   * node report `watchdog_failed`, so no one picks it as a switchover or failover candidate.
   */
  state(): WatchdogView {
    if (this.o.mode() === 'required' && this.dog === null) {
      const probe = probeDevice(this.o.device(), this.o.maxTimeoutSeconds());
      this.problem = probe.ok ? null : probe.reason;
    }
    const fencerRunning = !this.o.companion.failed;
    const requiredBroken = this.o.mode() === 'required' && this.problem !== null;
    return { mode: this.o.mode(), device: this.dog?.device ?? null, failed: requiredBroken || !fencerRunning, fencerRunning, problem: this.problem };
  }

  /** Opens the device when the mode asks for one; returns why it is not usable, or null. */
  private activate(): string | null {
    if (this.o.mode() === 'off') {
      this.closeDog();
      this.problem = null;
      return null;
    }
    if (this.dog !== null) return null;
    const device = this.o.device();
    const check = checkDevice(device, this.o.maxTimeoutSeconds());
    if (!check.ok) return this.fail(check.reason);
    try {
      this.dog = KernelWatchdog.open(device);
    } catch (e) {
      return this.fail(`cannot open ${device}: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.problem = null;
    this.lastLogged = null;
    const timeout = check.timeoutSeconds === null ? 'timeout unknown: not a character device' : `resets ${check.timeoutSeconds} s after the last keepalive`;
    this.o.log.info(`watchdog ${device} armed (${timeout})`);
    return null;
  }

  private fail(reason: string): string {
    this.problem = reason;
    if (reason !== this.lastLogged) {
      this.lastLogged = reason;
      if (this.o.mode() === 'required') this.o.log.error(`watchdog: ${reason}; watchdog.mode is required, so this node will not lead`);
      else this.o.log.warn(`watchdog: ${reason}; the companion fencer alone guards this node's primary`);
    }
    return reason;
  }

  private closeDog(): void {
    if (this.dog === null) return;
    const device = this.dog.device;
    const problem = this.dog.close();
    this.dog = null;
    if (problem !== null) this.o.log.error(`watchdog: ${problem}`);
    else this.o.log.info(`watchdog ${device} disarmed`);
  }
}
