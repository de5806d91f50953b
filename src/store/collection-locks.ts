import { KeyedQueue } from "../keyed-queue.js";
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
  private readonly queues = new KeyedQueue();
  private readonly crossProcess: CrossProcessLock;

  constructor(crossProcess: CrossProcessLock) {
    this.crossProcess = sharedInProcess(crossProcess);
  }

  /**
   * Runs `work` beside this process's writers to the collection: not in their queue, but holding
   * the cross-process lock (shared with them: a writer here takes it over as it is), so no other
   * process commits to the collection meanwhile. For compaction, which rewrites the table for
   * seconds without changing a row: this process's writes go on, and every commit that this
   * process did not make while it runs is its own (see VectorCache.compacting).
   */
  beside<T>(collection: string, work: () => Promise<T>): Promise<T> {
    assertCollectionName(collection);
    return this.crossProcess(collection, work);
  }

  async run<T>(collection: string, work: () => Promise<T>): Promise<T> {
    // The name becomes a lock file's name: validate it before anything touches the disk.
    assertCollectionName(collection);
    return this.queues.run(collection, () => this.crossProcess(collection, work));
  }
}

/**
 * The cross-process lock, held once per process per collection however many of its callers want
 * it at a time: the first takes it, later ones join while it is held, the last one out releases
 * it. (Callers in the write queue come one at a time; a compaction beside them is the other.)
 */
function sharedInProcess(lock: CrossProcessLock): CrossProcessLock {
  const leases = new Map<string, { users: number; held: Promise<void>; release: () => void }>();
  return async <T>(collection: string, work: () => Promise<T>): Promise<T> => {
    let lease = leases.get(collection);
    if (!lease) {
      let release = () => {};
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      let entered: () => void = () => {};
      const held = new Promise<void>((resolve) => {
        entered = resolve;
      });
      const created = { users: 0, held, release };
      leases.set(collection, created);
      const done = lock(collection, async () => {
        entered();
        await released;
      });
      // A lock that cannot be taken fails every caller waiting for it.
      created.held = Promise.race([held, done.then(() => undefined)]);
      done.catch(() => {
        if (leases.get(collection) === created) leases.delete(collection);
      });
      lease = created;
    }
    lease.users++;
    const current = lease;
    try {
      await current.held;
      return await work();
    } finally {
      if (--current.users === 0) {
        if (leases.get(collection) === current) leases.delete(collection);
        current.release();
      }
    }
  };
}
