/**
 * A Linux watchdog device (`/dev/watchdog`, softdog or hardware): once opened, the machine is
 * reset unless something is written to it within the driver's timeout. pgwarden opens it while
 * it leads and writes after every confirmed lease renewal, so if the agent hangs the machine is
 * reset — taking PostgreSQL with it — before the lease can expire. Writing `V` before closing
 * (the "magic close") disarms it again.
 *
 * Node has no ioctl, so pgwarden cannot set the timeout as Patroni does; it reads it from sysfs
 * (`/sys/dev/char/M:m/timeout`, or `/sys/class/watchdog/watchdog0/timeout` behind the legacy
 * `/dev/watchdog` node) without opening the device, and refuses a device whose timeout is too
 * long. Files that are not character devices (what tests use instead of a real device) are
 * accepted with their timeout unknown.
 */
import { accessSync, closeSync, constants, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { errorText } from '../errors.js';

/** The legacy misc device node `/dev/watchdog` is char 10:130 and stands for watchdog0. */
const MISC_MAJOR = 10;
const WATCHDOG_MINOR = 130;

export type DeviceCheck = { ok: true; timeoutSeconds: number | null } | { ok: false; reason: string };

/** Reads the device's timeout without opening it; refuses one longer than `maxSeconds`. */
export function checkDevice(device: string, maxSeconds: number): DeviceCheck {
  let st;
  try {
    st = statSync(device);
  } catch (e) {
    return { ok: false, reason: `${device}: ${errorText(e)}` };
  }
  if (!st.isCharacterDevice()) return { ok: true, timeoutSeconds: null };
  const major = (st.rdev >> 8) & 0xfff;
  const minor = (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00);
  const sysfs = major === MISC_MAJOR && minor === WATCHDOG_MINOR ? '/sys/class/watchdog/watchdog0/timeout' : `/sys/dev/char/${major}:${minor}/timeout`;
  let timeout: number;
  try {
    timeout = Number(readFileSync(sysfs, 'utf8').trim());
  } catch (e) {
    return { ok: false, reason: `cannot read the timeout of ${device} from ${sysfs}: ${errorText(e)}` };
  }
  if (!Number.isFinite(timeout) || timeout <= 0) return { ok: false, reason: `${sysfs} holds no timeout` };
  if (timeout > maxSeconds) {
    return {
      ok: false,
      reason: `${device} resets the machine ${timeout} s after the last keepalive, later than ttl − safety_margin = ${maxSeconds} s ` +
        `(the lease could expire first); configure the driver's timeout (softdog: modprobe softdog soft_margin=${Math.floor(maxSeconds)})`,
    };
  }
  return { ok: true, timeoutSeconds: timeout };
}

/** `checkDevice` plus "may this process write it", still without opening it (which would arm it). */
export function probeDevice(device: string, maxSeconds: number): DeviceCheck {
  const check = checkDevice(device, maxSeconds);
  if (!check.ok) return check;
  try {
    accessSync(device, constants.W_OK);
  } catch (e) {
    return { ok: false, reason: `${device} is not writable: ${errorText(e)}` };
  }
  return check;
}

/** An open watchdog device. */
export class KernelWatchdog {
  private constructor(
    readonly device: string,
    private fd: number | null,
  ) {}

  /** Opens the device (which arms it) and writes the first keepalive. Throws with the reason. */
  static open(device: string): KernelWatchdog {
    // No O_CREAT: a missing /dev/watchdog must not become a regular file. O_APPEND means nothing
    // to a device and keeps a stand-in file's history.
    const fd = openSync(device, constants.O_WRONLY | constants.O_APPEND);
    const dog = new KernelWatchdog(device, fd);
    dog.keepalive();
    return dog;
  }

  get isOpen(): boolean {
    return this.fd !== null;
  }

  keepalive(): void {
    if (this.fd === null) throw new Error(`${this.device} is closed`);
    writeSync(this.fd, '1');
  }

  /** Magic close: `V` then close, which disarms a driver that allows it. Never throws. */
  close(): string | null {
    if (this.fd === null) return null;
    const fd = this.fd;
    this.fd = null;
    let problem: string | null = null;
    try {
      writeSync(fd, 'V');
    } catch (e) {
      problem = `magic close of ${this.device} failed: ${errorText(e)}`;
    }
    try {
      closeSync(fd);
    } catch (e) {
      problem ??= `closing ${this.device} failed: ${errorText(e)}`;
    }
    return problem;
  }
}
