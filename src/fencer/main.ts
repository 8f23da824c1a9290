/**
 * Entry point of the companion fencer process (`node dist/fencer/main.js`), started by the agent
 * with a pipe on stdin (see `fencer.ts` for what it does and `protocol.ts` for the messages).
 *
 * Lifetime: it ignores SIGINT, SIGTERM and SIGHUP (a Ctrl-C to the terminal's process group must
 * not take the fence away while the agent is still shutting down) and ends when its stdin closes:
 * at once when disarmed (the agent's clean shutdown disarms first), otherwise after the pending
 * fence has run — an agent killed while leading leaves a primary that nobody renews.
 * It imports nothing heavy, to stay small next to every agent.
 */
import { readFileSync } from 'node:fs';
import { createLogger } from '../log.js';
import { Fencer } from './fencer.js';
import { parseMessage } from './protocol.js';

const log = createLogger('INFO');

/** The postmaster PID of `dataDir`, checked against the data directory written beside it. */
function postmasterPid(dataDir: string): { pid: number } | { none: string } {
  let text: string;
  try {
    text = readFileSync(`${dataDir}/postmaster.pid`, 'utf8');
  } catch {
    return { none: `${dataDir}/postmaster.pid does not exist` };
  }
  const [pidLine, dirLine] = text.split('\n');
  const pid = Number(pidLine);
  if (!Number.isInteger(pid) || pid <= 0) return { none: `${dataDir}/postmaster.pid names no PID` };
  if (dirLine !== undefined && dirLine.replace(/\/+$/, '') !== dataDir.replace(/\/+$/, '')) {
    return { none: `${dataDir}/postmaster.pid belongs to ${dirLine}` };
  }
  // A postmaster.pid left by a crash may name a PID the kernel has since given to another process.
  let cmdline: string | null = null;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    cmdline = null; // gone, or no /proc: alive() decides
  }
  if (cmdline !== null && !cmdline.includes(dataDir.replace(/\/+$/, ''))) {
    return { none: `PID ${pid} from ${dataDir}/postmaster.pid is no postmaster of that directory (${cmdline.trim().slice(0, 120)})` };
  }
  return { pid };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const fencer = new Fencer({
  nowNs: () => process.hrtime.bigint(),
  setTimer(ms, f) {
    const t = setTimeout(f, ms);
    return { cancel: () => clearTimeout(t) };
  },
  postmasterPid,
  alive,
  signal: (pid, sig) => void process.kill(pid, sig),
  log: { info: (m) => log.info(m), warn: (m) => log.warn(m), error: (m) => log.error(m) },
});

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => undefined);

let buffered = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  buffered += chunk;
  let nl: number;
  while ((nl = buffered.indexOf('\n')) !== -1) {
    const line = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    const m = parseMessage(line);
    if (m === null) log.error(`fencer: ignoring a malformed message: ${line.slice(0, 200)}`);
    else fencer.handle(m);
  }
});
process.stdin.on('end', () => {
  if (!fencer.isArmed) process.exit(0);
  // The pending fence timer keeps the process alive; it exits by itself once the fence has run.
  log.warn('fencer: the agent is gone while this node leads; the fence stays armed until the lease would run out');
});
