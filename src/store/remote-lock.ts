import type { Logger } from "../logger.js";
import { type ObjectStoreOptions, uriScheme } from "../storage-uri.js";
import type { CrossProcessLock } from "./collection-locks.js";
import { ProbeError, probeConditionalPut, probeTarget } from "./commit-probe.js";

type Env = Record<string, string | undefined>;

/**
 * The cross-process "lock" of a database on object storage: no lock file (there is no shared
 * disk), only the backend's conditional commits, which a writer may rely on once the store has
 * been shown to honour them. So the first write waits for the probe (commit-probe.ts); a store
 * that fails it refuses every write with the probe's reason. A probe that could not reach the
 * store is not remembered: the next write tries again.
 *
 * `s3+ddb://` commits through a DynamoDB table instead of conditional PUTs, and `gs://`/`az://`
 * stores have their own conditional writes: those pass through unprobed.
 */
export function remoteCommitLock(
  dbPath: string,
  options: ObjectStoreOptions,
  env: Env,
  logger: Logger,
): CrossProcessLock {
  let verdict: Promise<void> | undefined;
  const probed = (): Promise<void> => {
    if (options.unsafeSingleWriter || uriScheme(dbPath) !== "s3") return Promise.resolve();
    verdict ??= (async () => {
      const target = probeTarget(dbPath, options, env);
      if (!target) return;
      await probeConditionalPut(dbPath, target);
      logger.info(
        `${dbPath}: the store refuses overwrites (If-None-Match), so concurrent commits cannot overwrite each other`,
      );
    })().catch((error: unknown) => {
      // A refusal is the store's nature and stays; a store that could not be reached may come back.
      if (error instanceof ProbeError && error.retryable) verdict = undefined;
      throw error;
    });
    return verdict;
  };
  if (options.unsafeSingleWriter)
    logger.warn(
      `${dbPath}: conditional-PUT check skipped (--s3-unsafe-single-writer); only one process may write`,
    );
  return async (_collection, work) => {
    await probed();
    return work();
  };
}
