/**
 * `log.syslog`: a copy of every log line sent to a syslog server over UDP (RFC 5424 framing), for
 * sites that collect logs centrally rather than from the agent's stderr. Like statsd, sending is
 * fire-and-forget: nothing waits, throws, or keeps the process alive, and a send failure is
 * written once to stderr (not to syslog, which is what failed).
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { hostname } from 'node:os';
import type { Logger, LogLevel } from './log.js';

/** syslog facilities by name (RFC 5424 §6.2.1). */
export const SYSLOG_FACILITIES = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10, ftp: 11,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
} as const;
export type SyslogFacility = keyof typeof SYSLOG_FACILITIES;

export interface SyslogOptions {
  host: string;
  port: number;
  facility: SyslogFacility;
  /** Lines below this level are not sent (the agent's `log.level`). */
  level: LogLevel;
}

/** syslog severities of pgwarden's levels (RFC 5424 §6.2.1). */
const SEVERITY: Record<LogLevel, number> = { DEBUG: 7, INFO: 6, WARNING: 4, ERROR: 3, CRITICAL: 2 };
const ORDER: Record<LogLevel, number> = { DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40, CRITICAL: 50 };

/** One RFC 5424 message: `<PRI>1 TIMESTAMP HOST pgwarden PID - - MSG`. */
export function syslogMessage(facility: SyslogFacility, level: LogLevel, msg: string, now: Date, host: string, pid: number): string {
  const pri = SYSLOG_FACILITIES[facility] * 8 + SEVERITY[level];
  return `<${pri}>1 ${now.toISOString()} ${host || '-'} pgwarden ${pid} - - ${msg}`;
}

/** A Logger that sends to syslog; combine it with the stderr logger through {@link teeLogger}. */
export class SyslogLogger implements Logger {
  private readonly socket: Socket;
  private failed = false;
  private readonly host = hostname();

  constructor(
    private readonly o: SyslogOptions,
    private readonly reportFailure: (text: string) => void = (t) => process.stderr.write(`${t}\n`),
  ) {
    this.socket = createSocket(isIPv6(o.host) ? 'udp6' : 'udp4');
    this.socket.on('error', (e) => this.fail(e));
    this.socket.unref();
  }

  debug = (m: string): void => this.send('DEBUG', m);
  info = (m: string): void => this.send('INFO', m);
  warn = (m: string): void => this.send('WARNING', m);
  error = (m: string): void => this.send('ERROR', m);
  critical = (m: string): void => this.send('CRITICAL', m);

  close(): void {
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }

  private send(level: LogLevel, msg: string): void {
    if (ORDER[level] < ORDER[this.o.level]) return;
    try {
      this.socket.send(syslogMessage(this.o.facility, level, msg, new Date(), this.host, process.pid), this.o.port, this.o.host, (e) => {
        if (e) this.fail(e);
      });
    } catch (e) {
      this.fail(e);
    }
  }

  private fail(e: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.reportFailure(`log.syslog: cannot send to ${this.o.host}:${this.o.port}: ${e instanceof Error ? e.message : String(e)} (further failures are not reported; stderr has every line)`);
  }
}

/** A Logger writing every line to each of `loggers`. */
export function teeLogger(...loggers: Logger[]): Logger {
  return {
    debug: (m) => loggers.forEach((l) => l.debug(m)),
    info: (m) => loggers.forEach((l) => l.info(m)),
    warn: (m) => loggers.forEach((l) => l.warn(m)),
    error: (m) => loggers.forEach((l) => l.error(m)),
    critical: (m) => loggers.forEach((l) => l.critical(m)),
  };
}
