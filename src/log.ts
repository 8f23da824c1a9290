/**
 * A small line logger: `2026-11-22 20:36:06.123 INFO: message`, on stderr, like the PostgreSQL
 * and Patroni logs operators already read. Levels use Patroni's names.
 */
export type LogLevel = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR' | 'CRITICAL';

const ORDER: Record<LogLevel, number> = { DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40, CRITICAL: 50 };

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  critical(msg: string): void;
}

function stamp(d: Date): string {
  const iso = d.toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
}

export function createLogger(level: LogLevel = 'INFO', write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const min = ORDER[level];
  const emit = (lvl: LogLevel, msg: string): void => {
    if (ORDER[lvl] >= min) write(`${stamp(new Date())} ${lvl}: ${msg}\n`);
  };
  return {
    debug: (m) => emit('DEBUG', m),
    info: (m) => emit('INFO', m),
    warn: (m) => emit('WARNING', m),
    error: (m) => emit('ERROR', m),
    critical: (m) => emit('CRITICAL', m),
  };
}

export function parseLogLevel(text: string | undefined): LogLevel {
  const up = (text ?? 'INFO').toUpperCase();
  if (up === 'WARN') return 'WARNING';
  return up in ORDER ? (up as LogLevel) : 'INFO';
}
