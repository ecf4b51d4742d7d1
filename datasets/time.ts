/**
 * ISO 8601 timestamps with a zone, as every import format writes them. A time without `Z` or an
 * offset is refused: the grid is UTC and a local time without its offset cannot be placed on it.
 */

// date, `T` or space, hh:mm[:ss[.fff]], then Z or ±hh[:]mm
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:(Z|z)|([+-])(\d{2}):?(\d{2}))$/;

export interface ParsedTime {
  /** Epoch milliseconds (UTC). */
  ms: number;
  /** Offset from UTC in minutes as written (0 for Z). */
  offsetMin: number;
}

/** Parses an ISO 8601 date-time with zone; returns a reason string when it is not one. */
export function parseIsoTime(text: string): ParsedTime | string {
  const m = ISO_TIME.exec(text.trim());
  if (m === null) {
    if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text.trim())) return 'has no time zone (add Z or an offset such as +01:00)';
    return 'is not an ISO 8601 date-time with a zone (e.g. 2024-03-01T08:00:00Z)';
  }
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number) as [number, number, number, number, number];
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const millis = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000 + 1e-6);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return 'has a field out of range';
  const local = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  // Date.UTC rolls 2024-02-30 over to March: refuse dates that do not exist.
  if (new Date(local).getUTCDate() !== day) return 'names a day that does not exist';
  let offsetMin = 0;
  if (m[8] === undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return 'has an offset out of range';
    offsetMin = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  return { ms: local - offsetMin * 60_000, offsetMin };
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** `2024-03-01T08:00:00+01:00` (or `…Z` for offset 0); milliseconds only when non-zero. */
export function formatIsoTime(ms: number, offsetMin = 0): string {
  const d = new Date(ms + offsetMin * 60_000);
  const frac = d.getUTCMilliseconds() === 0 ? '' : `.${pad(d.getUTCMilliseconds(), 3)}`;
  const base = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${frac}`;
  if (offsetMin === 0) return `${base}Z`;
  const abs = Math.abs(offsetMin);
  return `${base}${offsetMin < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** Short UTC rendering for messages: `2024-03-01 08:05Z`. */
export function shortTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')}Z`;
}

/** `+01:00` / `Z` */
export function formatOffset(offsetMin: number): string {
  if (offsetMin === 0) return 'Z';
  const abs = Math.abs(offsetMin);
  return `${offsetMin < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}
