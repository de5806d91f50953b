import { mkdir } from "node:fs/promises";
import path from "node:path";
import lockfile from "proper-lockfile";
import type { Logger } from "../logger.js";

/** Lock directories live inside the database directory, so nothing is written outside it. */
export const LOCK_DIR = ".locks";

/**
 * Runs `work` holding a lock that other processes on the same database respect. Every editor
 * window runs its own server, and LanceDB alone does not stop two processes from both creating
 * a table (the second commits as an overwrite) or both inserting the same new id. The lock is
 * a directory made atomically (proper-lockfile); a holder that dies leaves it stale after
 * STALE_MS, when others take it over.
 */
export async function withProcessLock<T>(
  dbPath: string,
  name: string,
  logger: Logger,
  work: () => Promise<T>,
): Promise<T> {
  const dir = path.join(dbPath, LOCK_DIR);
  await mkdir(dir, { recursive: true });
  const release = await acquire(path.join(dir, name), name, logger);
  try {
    return await work();
  } finally {
    await release().catch(() => undefined);
  }
}

export const STALE_MS = 10_000;
/** Longest wait for a busy lock: past a stale holder's takeover, with room for a queue of writers. */
const WAIT_MS = 3 * STALE_MS;

/**
 * Retries only while the lock is held by someone else (ELOCKED); any other failure (a read-only
 * or full disk) is thrown at once, so the caller reports it instead of waiting it out.
 */
async function acquire(file: string, name: string, logger: Logger): Promise<() => Promise<void>> {
  const deadline = Date.now() + WAIT_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      return await lockfile.lock(file, {
        realpath: false,
        stale: STALE_MS,
        update: STALE_MS / 4,
        // The default throws asynchronously, which would take the whole server down.
        onCompromised: (error) => logger.warn(`lock ${name} was taken over while held: ${error.message}`),
      });
    } catch (error) {
      if ((error as { code?: string }).code !== "ELOCKED" || Date.now() > deadline) throw error;
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(100, 2 * 1.3 ** attempt) * (0.5 + Math.random())),
      );
    }
  }
}
