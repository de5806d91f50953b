/**
 * Where the database lives: a local directory, or a URI LanceDB opens on object storage
 * (`s3://bucket/prefix`, `s3+ddb://...`, `gs://...`, `az://...`). Neutral: the config, the app
 * and the store all ask it, so "is this remote?" has one answer.
 */

/** Options for a database on S3-compatible object storage; unset fields leave LanceDB's `AWS_*` env in charge. */
export interface ObjectStoreOptions {
  endpoint?: string | undefined;
  region?: string | undefined;
  accessKeyId?: string | undefined;
  secretAccessKey?: string | undefined;
  sessionToken?: string | undefined;
  allowHttp?: boolean | undefined;
  /**
   * Skip the conditional-PUT probe: the user promises a single writer, so a store that ignores
   * `If-None-Match` cannot lose a concurrent commit.
   */
  unsafeSingleWriter?: boolean | undefined;
}

const URI = /^([a-z][a-z0-9+.-]*):\/\//i;

/** The URI scheme in lower case (`s3`, `s3+ddb`, `gs`), or undefined for a local path. */
export function uriScheme(dbPath: string): string | undefined {
  const scheme = URI.exec(dbPath)?.[1]?.toLowerCase();
  return scheme === "file" ? undefined : scheme;
}

/**
 * True when the database is not a local directory: nothing may then be made under `dbPath` on
 * the local disk (lock files, directories), since `path.join("s3://b/p", ...)` is a local path
 * starting with `s3:`.
 */
export function isRemoteUri(dbPath: string): boolean {
  return uriScheme(dbPath) !== undefined;
}

/** Bucket and key prefix of an `s3://bucket/prefix` URI (not `s3+ddb://`); undefined otherwise. */
export function parseS3Uri(dbPath: string): { bucket: string; prefix: string } | undefined {
  if (uriScheme(dbPath) !== "s3") return undefined;
  const rest = dbPath.slice("s3://".length);
  const slash = rest.indexOf("/");
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const prefix = slash < 0 ? "" : rest.slice(slash + 1).replace(/^\/+|\/+$/g, "");
  return bucket ? { bucket, prefix } : undefined;
}
