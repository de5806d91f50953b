import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { silentLogger } from "../../src/logger.js";
import type { ObjectStoreOptions } from "../../src/storage-uri.js";
import { LanceStore } from "../../src/store/lancedb-store.js";
import { chunkKey } from "../../src/store/vector-store.js";

export interface S3TestStore {
  bucket: string;
  options: ObjectStoreOptions;
}

const ENV_FILE = path.resolve(import.meta.dirname, "../../.radosgw/env");

/**
 * The radosgw that tools/radosgw/start.sh runs: from the environment it exports (`. .radosgw/env`)
 * or, when those are unset, from the env file it leaves in <repo>/.radosgw/. Returns the reason
 * instead when there is none or it does not answer, so tests can say why they skip.
 */
export async function findRadosgw(env = process.env): Promise<S3TestStore | { reason: string }> {
  const vars: Record<string, string | undefined> = { ...env };
  if (!vars.VECTOR_MEMORY_S3_ENDPOINT && existsSync(ENV_FILE)) {
    for (const line of readFileSync(ENV_FILE, "utf8").split("\n")) {
      const match = /^export (\w+)=(.*)$/.exec(line.trim());
      if (match?.[1]) vars[match[1]] = match[2];
    }
  }
  const endpoint = vars.VECTOR_MEMORY_S3_ENDPOINT;
  const bucket = vars.VMM_TEST_S3_BUCKET;
  if (!endpoint || !bucket)
    return { reason: "no radosgw: run tools/radosgw/start.sh (it writes .radosgw/env) to run these tests" };
  try {
    await fetch(endpoint, { signal: AbortSignal.timeout(3000) }).then((r) => r.text());
  } catch (error) {
    return {
      reason: `radosgw at ${endpoint} does not answer (${String(error)}): run tools/radosgw/start.sh`,
    };
  }
  return {
    bucket,
    options: {
      endpoint,
      region: vars.VECTOR_MEMORY_S3_REGION ?? "us-east-1",
      accessKeyId: vars.VECTOR_MEMORY_S3_ACCESS_KEY_ID,
      secretAccessKey: vars.VECTOR_MEMORY_S3_SECRET_ACCESS_KEY,
      allowHttp: true,
    },
  };
}

/**
 * Every (id, chunk) key of a collection, as one more machine reads it (a store of its own without
 * a cache): a key found twice is a doubled row.
 */
export async function storedChunkKeys(
  dbPath: string,
  options: ObjectStoreOptions,
  collection: string,
): Promise<string[]> {
  const reader = new LanceStore({ dbPath, logger: silentLogger, objectStore: options, vectorCacheBytes: 0 });
  try {
    return (await reader.scan(collection)).map((chunk) => chunkKey(chunk.id, chunk.chunk));
  } finally {
    await reader.close();
  }
}
