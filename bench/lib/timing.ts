/**
 * Timing helpers for throughput comparisons on a machine that other work may share.
 */

/** The q-quantile (0-1) by linear interpolation between the closest ranks; NaN for no values. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const below = sorted[Math.floor(at)] ?? Number.NaN;
  const above = sorted[Math.ceil(at)] ?? Number.NaN;
  return below + (above - below) * (at - Math.floor(at));
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** Seconds one call of `work` takes, by the monotonic clock. */
export async function seconds(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

/**
 * Calls `work(0)`, `work(1)`, ... until at least `minSeconds` have passed (at least once), so that
 * JIT compilation, allocator growth and first-shape setup stay out of the timed rounds. Returns the
 * seconds of the last call.
 */
export async function warmUp(work: (call: number) => Promise<unknown>, minSeconds: number): Promise<number> {
  const started = performance.now();
  let last = 0;
  for (let call = 0; call === 0 || performance.now() - started < minSeconds * 1000; call++) {
    last = await seconds(() => work(call));
  }
  return last;
}

/**
 * Times every variant on every step, in turns, for several rounds: `times[name][round][step]` is
 * seconds. The variants alternate step by step (which goes first rotates), so load from other
 * processes that comes and goes lands on all of them alike, and each step gives a paired comparison.
 * Warm-up is the caller's: run each variant before calling this.
 */
export async function interleaved<Name extends string, Step>(
  variants: Record<Name, (step: Step) => Promise<unknown>>,
  steps: readonly Step[],
  rounds: number,
): Promise<Record<Name, number[][]>> {
  const names = Object.keys(variants) as Name[];
  const times = Object.fromEntries(names.map((name) => [name, [] as number[][]])) as Record<Name, number[][]>;
  for (let round = 0; round < rounds; round++) {
    for (const name of names) times[name].push([]);
    for (let index = 0; index < steps.length; index++) {
      const step = steps[index] as Step;
      for (let turn = 0; turn < names.length; turn++) {
        const name = names[(round + index + turn) % names.length] as Name;
        times[name][round]?.push(await seconds(() => variants[name](step)));
      }
    }
  }
  return times;
}

export function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
