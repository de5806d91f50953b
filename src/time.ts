/**
 * Times as the memory accepts them: ISO 8601 date-times with a zone, or dates. Accepted forms:
 * `2026-11-01` (midnight UTC), `2026-11-01T09:30Z`, `2026-11-01T09:30:00Z`,
 * `2026-11-01T09:30:00.123Z`, and any of the date-times with an offset instead of `Z`
 * (`+02:00`, `-0500`); a space may stand for `T`. A date-time without a zone is refused: it would
 * mean a different moment on every machine.
 */
const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/i;

export const TIME_FORMS =
  '"2026-11-01" (midnight UTC), "2026-11-01T09:30:00Z", "2026-11-01T09:30:00.123Z" or with an offset like "+02:00"';

/** Milliseconds since the epoch, or undefined when `value` is not one of the accepted forms (or no real date). */
export function parseTime(value: string): number | undefined {
  const match = ISO_TIME.exec(value.trim());
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second, fraction, zone] = match;
  const [y, mo, d] = [Number(year), Number(month), Number(day)];
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return undefined;
  const h = Number(hour ?? 0);
  const mi = Number(minute ?? 0);
  const s = Number(second ?? 0);
  if (h > 23 || mi > 59 || s > 59) return undefined;
  const ms = fraction ? Math.floor(Number(`0${fraction}`) * 1000) : 0;
  let offset = 0;
  if (zone && zone.toUpperCase() !== "Z") {
    const digits = zone.replace(":", "");
    const sign = digits.startsWith("-") ? -1 : 1;
    const oh = Number(digits.slice(1, 3));
    const om = Number(digits.slice(3, 5));
    if (oh > 23 || om > 59) return undefined;
    offset = sign * (oh * 60 + om) * 60_000;
  }
  // Not Date.UTC(y, ...): it reads years 0-99 as 1900-1999.
  const utc = new Date(0).setUTCFullYear(y, mo - 1, d) + ((h * 60 + mi) * 60 + s) * 1000 + ms;
  // The date rolls 2026-02-31 over to March: refuse dates that do not exist.
  const check = new Date(new Date(0).setUTCFullYear(y, mo - 1, d));
  if (check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d) return undefined;
  return utc - offset;
}

/** The canonical form times are returned in: ISO 8601, UTC, milliseconds. */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString();
}
