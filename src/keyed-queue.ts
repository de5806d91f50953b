/**
 * Runs work one at a time per key, in arrival order, within this process: each piece starts once
 * the one before it under the same key has settled, whether it succeeded or failed.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<undefined>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const run = (this.tails.get(key) ?? Promise.resolve()).then(work, work);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, settled);
    try {
      return await run;
    } finally {
      if (this.tails.get(key) === settled) this.tails.delete(key);
    }
  }
}
