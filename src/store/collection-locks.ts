import { assertCollectionName } from "./vector-store.js";

/**
 * Runs `work` holding whatever orders a collection's writers across processes (a lock file next to
 * a local database; on shared object storage, where there is no such file, the backend's commit
 * protocol alone).
 */
export type CrossProcessLock = <T>(collection: string, work: () => Promise<T>) => Promise<T>;

/**
 * Serialises writes to one collection: within this process they queue here (schema changes and
 * merges must not interleave), across processes `crossProcess` orders them.
 */
export class CollectionLocks {
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly crossProcess: CrossProcessLock) {}

  async run<T>(collection: string, work: () => Promise<T>): Promise<T> {
    // The name becomes a lock file's name: validate it before anything touches the disk.
    assertCollectionName(collection);
    const previous = this.queues.get(collection) ?? Promise.resolve();
    const locked = () => this.crossProcess(collection, work);
    const run = previous.then(locked, locked);
    const settled = run.catch(() => undefined);
    this.queues.set(collection, settled);
    try {
      return await run;
    } finally {
      if (this.queues.get(collection) === settled) this.queues.delete(collection);
    }
  }
}
