import type { ObjectStoreOptions } from "../storage-uri.js";
import { type ProbeTarget, probeTarget } from "./commit-probe.js";
import { signS3Request } from "./sigv4.js";

type Env = Record<string, string | undefined>;

/**
 * Compaction of a database on S3 that several machines share: at most one machine compacts a
 * collection at a time, and the versions it replaces stay readable for a while.
 *
 * No lock server, so the lease is an object created with a conditional PUT (`If-None-Match: *`,
 * which the commit probe has shown the store honours): `<prefix>/_vector_memory_compaction/
 * <collection>/<slot>`, one name per SLOT_MS window. Whoever creates it compacts and deletes it
 * after; the others skip (their scheduler tries again after more writes). A machine that dies
 * holding it blocks that collection's compaction until the window ends, never longer, and no
 * lease needs taking over (S3 has no conditional delete to do that safely). Two compactions can
 * still overlap when one outlasts its window: that costs work, not data, since LanceDB orders
 * them like any two commits.
 */
export const SLOT_MS = 10 * 60_000;
/**
 * Versions are removed only once they are this old. A reader on another machine runs on the
 * version it opened (each call opens the latest): its files must outlive the call. Locally the
 * store removes what is older than the compaction at once, and a reader that loses its version
 * reopens and retries; over the network a call can take seconds, so keep them well beyond.
 */
export const REMOTE_RETENTION_MS = 5 * 60_000;

const LEASE_DIR = "_vector_memory_compaction";
const TIMEOUT_MS = 10_000;

/** The oldest version time a compaction on object storage that started at `started` may remove. */
export function remoteCleanupCutoff(started: number): Date {
  return new Date(started - REMOTE_RETENTION_MS);
}

export type CompactionLease = <T>(collection: string, work: () => Promise<T>) => Promise<T | undefined>;

/**
 * The lease for an `s3://` database with credentials; undefined where there is none to take
 * (another scheme, no credentials): compaction then runs unleased, as it is safe, only wasteful,
 * when two machines do it at once.
 */
export function compactionLease(
  dbPath: string,
  options: ObjectStoreOptions,
  env: Env,
  fetchImpl: typeof fetch = fetch,
  now: () => number = Date.now,
): CompactionLease | undefined {
  if (!probeTarget(dbPath, options, env)?.credentials) return undefined;
  return async (collection, work) => {
    const slot = Math.floor(now() / SLOT_MS);
    const target = probeTarget(dbPath, options, env, [LEASE_DIR, collection, String(slot)]) as ProbeTarget;
    const claimed = await request(fetchImpl, target, "PUT", {
      "if-none-match": "*",
      "content-type": "text/plain",
    });
    // 412: another machine holds it. Any other failure (store unreachable): skip this time too.
    if (!claimed) return undefined;
    try {
      return await work();
    } finally {
      await request(fetchImpl, target, "DELETE", {}).catch(() => false);
    }
  };
}

async function request(
  fetchImpl: typeof fetch,
  target: ProbeTarget,
  method: "PUT" | "DELETE",
  headers: Record<string, string>,
): Promise<boolean> {
  const credentials = target.credentials;
  if (!credentials) return false;
  const body = method === "PUT" ? `compaction lease, taken ${new Date().toISOString()}\n` : "";
  try {
    const response = await fetchImpl(target.url, {
      method,
      headers: signS3Request({ method, url: target.url, headers, body, region: target.region, credentials }),
      ...(method === "PUT" ? { body } : {}),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    await response.text();
    return response.ok;
  } catch {
    return false;
  }
}
