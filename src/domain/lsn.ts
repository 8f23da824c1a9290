/**
 * WAL positions are handled as plain numbers of bytes. A JavaScript number is exact up to
 * 2^53 bytes (8 PiB of WAL), far beyond any cluster's lifetime, and Patroni's contract stores
 * them as JSON integers (`xlog_location`, `status.optime`).
 */
export type Lsn = number;

/** Parses PostgreSQL's `X/Y` text form (e.g. `0/3000060`) into bytes. */
export function parseLsn(text: string): Lsn {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!m) throw new Error(`not a WAL position: ${JSON.stringify(text)}`);
  return parseInt(m[1]!, 16) * 0x1_0000_0000 + parseInt(m[2]!, 16);
}

/** Renders bytes as PostgreSQL's `X/Y` text form. */
export function formatLsn(lsn: Lsn): string {
  const hi = Math.floor(lsn / 0x1_0000_0000);
  const lo = lsn - hi * 0x1_0000_0000;
  return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`;
}
