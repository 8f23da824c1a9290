/**
 * PostgreSQL prints timestamps as `2026-11-22 11:51:02.473627+00` (or `+05:30`). Patroni shows
 * them as Python prints a timezone-aware datetime (`...473627+00:00`) in `/patroni`, and as epoch
 * seconds with microseconds in `/metrics`. These helpers convert without losing microseconds.
 */

const PG_TS = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/;

function normalOffset(offset: string | undefined): string {
  if (offset === undefined || offset === 'Z') return '+00:00';
  if (offset.length === 3) return `${offset}:00`;
  if (offset.length === 5) return `${offset.slice(0, 3)}:${offset.slice(3)}`;
  return offset;
}

/**
 * Renders a PostgreSQL timestamp the way Patroni's `/patroni` does (`+00` becomes `+00:00`).
 * Text that does not look like a timestamp is returned unchanged.
 */
export function patroniTimestamp(text: string): string {
  const m = PG_TS.exec(text.trim());
  if (!m) return text;
  const frac = m[3] === undefined ? '' : `.${m[3]}`;
  return `${m[1]} ${m[2]}${frac}${normalOffset(m[4])}`;
}

/** Epoch seconds (with microseconds) of a PostgreSQL timestamp, or 0 when null or unparseable. */
export function epochSeconds(text: string | null): number {
  if (text === null) return 0;
  const m = PG_TS.exec(text.trim());
  if (!m) return 0;
  const ms = Date.parse(`${m[1]}T${m[2]}${normalOffset(m[4])}`);
  if (Number.isNaN(ms)) return 0;
  const micros = m[3] === undefined ? 0 : Number(m[3].padEnd(6, '0'));
  return ms / 1000 + micros / 1e6;
}
