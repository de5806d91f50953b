import { randomUUID } from "node:crypto";
import { MemoryError } from "../errors.js";
import { type ObjectStoreOptions, parseS3Uri } from "../storage-uri.js";
import { type Credentials, signS3Request } from "./sigv4.js";

type Env = Record<string, string | undefined>;

const PROBE_DIR = "_vector_memory_probe";
const TIMEOUT_MS = 10_000;
const UNSAFE_FLAG = "--s3-unsafe-single-writer / VECTOR_MEMORY_S3_UNSAFE_SINGLE_WRITER=1";

/** The store failed the probe; `retryable` when it could not be asked (unreachable, 5xx), not when it answered wrong. */
export class ProbeError extends MemoryError {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super("storage_unavailable", message);
  }
}

/** Where and as whom the probe talks to the bucket: our options first, then LanceDB's own `AWS_*` env. */
export interface ProbeTarget {
  url: URL;
  region: string;
  credentials: Credentials | undefined;
  allowHttp: boolean;
}

/** `name`: the object's key under the database's prefix (default: a fresh probe object). */
export function probeTarget(
  dbPath: string,
  options: ObjectStoreOptions,
  env: Env,
  name: string[] = [PROBE_DIR, randomUUID()],
): ProbeTarget | undefined {
  const s3 = parseS3Uri(dbPath);
  if (!s3) return undefined;
  const region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1";
  // Path-style, as LanceDB's object_store addresses a bucket unless told to use virtual hosts.
  const endpoint =
    options.endpoint ??
    env.AWS_ENDPOINT_URL_S3 ??
    env.AWS_ENDPOINT_URL ??
    env.AWS_ENDPOINT ??
    `https://s3.${region}.amazonaws.com`;
  const key = [s3.prefix, ...name].filter(Boolean).join("/");
  const url = new URL(`${endpoint.replace(/\/+$/, "")}/${s3.bucket}/${key}`);
  const accessKeyId = options.accessKeyId ?? env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = options.secretAccessKey ?? env.AWS_SECRET_ACCESS_KEY;
  const sessionToken = options.sessionToken ?? env.AWS_SESSION_TOKEN;
  const allowHttp = options.allowHttp ?? /^(1|true|yes|on)$/i.test(env.AWS_ALLOW_HTTP ?? "");
  return {
    url,
    region,
    credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, sessionToken } : undefined,
    allowHttp,
  };
}

/**
 * LanceDB's commits on S3 are safe between writers only if the store refuses a PUT with
 * `If-None-Match: *` of a key that exists: that is how two machines committing the same table
 * version find out. Some S3-compatible stores ignore the header and then lose writes silently
 * (the npm `s3rver` does), so before the first write: PUT a fresh probe object, PUT it again with
 * the header (a safe store answers 412 Precondition Failed), delete it. Resolves when safe; throws
 * a MemoryError naming the reason (and the way out) otherwise.
 */
export async function probeConditionalPut(
  dbPath: string,
  target: ProbeTarget,
  fetchImpl: typeof fetch = fetch,
): Promise<void> {
  const refuse = (reason: string, retryable = false) =>
    new ProbeError(
      `The memory database at ${dbPath} cannot be used: ${reason}. Nothing was written.`,
      retryable,
    );
  if (target.url.protocol === "http:" && !target.allowHttp)
    throw refuse(
      `its endpoint ${target.url.origin} is plain HTTP; allow it with --s3-allow-http / VECTOR_MEMORY_S3_ALLOW_HTTP=1 (or AWS_ALLOW_HTTP=true), or use https`,
    );
  const credentials = target.credentials;
  if (!credentials)
    throw refuse(
      `no S3 credentials to check that the store refuses overwrites (If-None-Match): give --s3-access-key-id and --s3-secret-access-key (VECTOR_MEMORY_S3_ACCESS_KEY_ID / VECTOR_MEMORY_S3_SECRET_ACCESS_KEY, or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), or skip the check with ${UNSAFE_FLAG} if this is the only writer`,
    );
  const request = async (method: "PUT" | "DELETE", headers: Record<string, string>) => {
    const body = method === "PUT" ? "vector-memory-mcp conditional PUT probe\n" : "";
    try {
      return await fetchImpl(target.url, {
        method,
        headers: signS3Request({
          method,
          url: target.url,
          headers,
          body,
          region: target.region,
          credentials,
        }),
        ...(method === "PUT" ? { body } : {}),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw refuse(
        `${target.url.origin} did not answer (${cause?.code ?? cause?.message ?? String(error)}); check the endpoint (--s3-endpoint / VECTOR_MEMORY_S3_ENDPOINT) and that the store is running, then retry`,
        true,
      );
    }
  };
  const conditional = { "if-none-match": "*", "content-type": "text/plain" };
  const first = await request("PUT", conditional);
  const firstText = await first.text();
  if (!first.ok)
    throw refuse(
      `a test write to ${target.url.pathname} was refused with HTTP ${first.status}${s3Code(firstText)}${first.status === 403 ? " (check the access key, secret and region)" : ""}`,
      first.status >= 500,
    );
  try {
    const second = await request("PUT", conditional);
    const secondText = await second.text();
    if (second.status === 412) return;
    throw refuse(
      second.ok
        ? `the store ignores conditional writes: a second PUT with If-None-Match: * of an existing object succeeded (HTTP ${second.status}) instead of being refused with 412, so two writers committing at once would overwrite each other's versions and lose writes silently. Use a store that honours it (AWS S3, Ceph radosgw, ...) or s3+ddb:// with a DynamoDB commit table, or, if only one process ever writes, ${UNSAFE_FLAG}`
        : `a conditional PUT (If-None-Match: *) of an existing object got HTTP ${second.status}${s3Code(secondText)} instead of 412, so the store cannot be shown to refuse overwrites. Use s3+ddb:// or, if only one process ever writes, ${UNSAFE_FLAG}`,
    );
  } finally {
    await request("DELETE", {})
      .then((r) => r.text())
      .catch(() => undefined);
  }
}

/** The S3 error code of an XML error body, for the message (" (AccessDenied)"). */
function s3Code(body: string): string {
  const code = /<Code>([^<]{1,64})<\/Code>/.exec(body)?.[1];
  return code ? ` (${code})` : "";
}
