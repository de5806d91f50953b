import { MemoryError } from "../../errors.js";
import type { Logger } from "../../logger.js";
import { isRemoteUri } from "../../storage-uri.js";

/** ENOSPC, EDQUOT, EFBIG: as Node words them, and as LanceDB (Rust) reports them ("os error 28"). */
const DISK_FULL = /No space left|Disk quota exceeded|File too large|os error (?:28|122|27)\b/i;
/** EROFS, EACCES. */
const NOT_WRITABLE = /Read-only file system|Permission denied|os error (?:30|13)\b/i;

/** An operating-system level failure of the database directory (from LanceDB or from Node's fs). */
export function isStorageError(error: unknown): boolean {
  const message = String(error);
  return (
    DISK_FULL.test(message) ||
    NOT_WRITABLE.test(message) ||
    /os error \d+|Failed to connect to namespace|Unable to create/i.test(message) ||
    // An object store that did not answer or refused (read as objectStoreReason words it).
    /Generic (?:S3|GCS|MicrosoftAzure) error|error sending request/i.test(message)
  );
}

/** Storage failures (read-only disk, no space, not a directory) become an error that names the fix. */
export async function guardStorage<T>(
  dbPath: string,
  logger: Logger,
  operation: () => Promise<T>,
): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof MemoryError || !isStorageError(error)) throw error;
    const reason =
      (isRemoteUri(dbPath) ? objectStoreReason(String(error)) : undefined) ??
      String(error)
        .replace(/^Error: /, "")
        .split(/\s+Caused by:/)[0]
        ?.replace(/,?\s*\/\S+\.rs:\d+:\d+/g, "")
        .slice(0, 300);
    logger.error(`storage error on ${dbPath}: ${String(error)}`);
    throw new MemoryError(
      "storage_unavailable",
      `The memory database at ${dbPath} cannot be used: ${reason}. Nothing was written. ${storageAdvice(dbPath, error)}`,
    );
  }
}

/**
 * What an object store said, from LanceDB's long debug-formatted error (its request URI, the HTTP
 * status and the S3 error code in the body), worded for a person: "http://127.0.0.1:7480 answered
 * HTTP 403 (SignatureDoesNotMatch): check the access key, secret and region".
 */
export function objectStoreReason(message: string): string | undefined {
  const uri = /uri: Some\(([^)\s]+)\)/.exec(message)?.[1];
  let where = "the object store";
  try {
    if (uri) where = new URL(uri).origin;
  } catch {
    // Not a URL: keep the generic name.
  }
  const status = /\bstatus: (\d{3})\b/.exec(message)?.[1];
  const code = /<Code>([^<]{1,64})<\/Code>/.exec(message)?.[1];
  if (status) {
    const hint =
      status === "403"
        ? ": check the access key, secret and region"
        : code === "NoSuchBucket"
          ? ": the bucket does not exist (create it, or fix the bucket in --db-path)"
          : "";
    return `${where} answered HTTP ${status}${code ? ` (${code})` : ""}${hint}`;
  }
  if (/error sending request|connection refused|timed out|dns error/i.test(message))
    return `${where} did not answer (is it running, and is the endpoint right?)`;
  return undefined;
}

/** What to do about a storage error, by its cause: the agent relays this to the user. */
function storageAdvice(dbPath: string, error: unknown): string {
  const where = "--db-path / VECTOR_MEMORY_DB_PATH";
  if (isRemoteUri(dbPath))
    return `Check that the object store is reachable and that the bucket, endpoint, region and credentials are right (${where}, --s3-endpoint, --s3-region, --s3-access-key-id or the AWS_* variables), then retry.`;
  if (DISK_FULL.test(String(error)))
    return `The disk is full: free space on it (or move the database with ${where}), then retry the same call; the documents stored before are intact.`;
  if (NOT_WRITABLE.test(String(error)))
    return `The directory is not writable (read-only, or no permission): make it writable for this server's user (or use another directory with ${where}), then retry.`;
  return `Check that it is a writable directory on a disk with free space (${where}), then retry.`;
}

/**
 * Another process committed to the table first; the write is safe to repeat. "Incompatible
 * transaction" is LanceDB's word for a commit it cannot rebase onto the other one (setting the
 * primary key while another machine rewrote the table): repeated from scratch, it is fine too.
 */
export function isCommitConflict(error: unknown): boolean {
  return /commit conflict|preempted by concurrent transaction|retryable|incompatible transaction/i.test(
    String(error),
  );
}

/** The table (or a version of it) is gone: dropped, re-embedded or compacted away by another process. */
export function isNotFound(error: unknown): boolean {
  return /not found|does not exist/i.test(String(error));
}

/**
 * A table, column or index this store meant to make already exists: another process (or one
 * without our lock, e.g. an older version) made it first, which is what was wanted.
 */
export function isAlreadyExists(error: unknown): boolean {
  return /already exists/i.test(String(error));
}
