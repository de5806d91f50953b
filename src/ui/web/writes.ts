/**
 * When the page last wrote: its own writes already show (and a redraw would wipe their "Deleted …"
 * notice), so live updates take a new fingerprint as the baseline for a while after one.
 */
let quietUntil = 0;

export function ownWrite(quietMs: number): void {
  quietUntil = Date.now() + quietMs;
}

export function quiet(): boolean {
  return Date.now() < quietUntil;
}
