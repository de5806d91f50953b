import { randomUUID } from "node:crypto";
import { it } from "vitest";
import { useRemoteDatabases } from "../support/harness.js";
import { findRadosgw } from "../support/radosgw.js";

/**
 * The tool-level suites written for a directory (tools.test.ts, chunking.test.ts,
 * search-queries.test.ts, timestamps.test.ts) again, as they are, each harness on a fresh `s3://` prefix on the
 * loopback radosgw instead of a temp directory (tests that name their own local dbPath keep it).
 * Skipped, saying why, without radosgw; in CI its absence fails (s3.test.ts).
 */
const found = await findRadosgw();
if ("bucket" in found) {
  const { bucket, options } = found;
  useRemoteDatabases(() => ({ dbPath: `s3://${bucket}/tools-${randomUUID()}`, objectStore: options }));
  await import("./tools.test.js");
  await import("./chunking.test.js");
  await import("./search-queries.test.js");
  await import("./timestamps.test.js");
} else {
  it.skip(`the tool suites on s3:// (skipped: ${found.reason})`, () => {});
}
