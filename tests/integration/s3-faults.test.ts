import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/logger.js";
import { LanceStore } from "../../src/store/lancedb-store.js";
import { ackedAdds, type Harness, startHarness } from "../support/harness.js";
import { type Relay, startRelay } from "../support/netns.js";
import { findRadosgw, type S3TestStore, storedChunkKeys } from "../support/radosgw.js";

/**
 * The store going away under a running server: the S3 endpoint is a relay (tests/support/netns.ts)
 * in front of radosgw, so the test can cut every connection and refuse new ones for a few
 * seconds, as a stopped radosgw or a network partition would, without stopping the radosgw other
 * tests share. Skipped when radosgw is not running (s3.test.ts fails CI then).
 */
const found = await findRadosgw();
const s3: S3TestStore | undefined = "bucket" in found ? found : undefined;
const reason = "reason" in found ? found.reason : "";

describe.skipIf(!s3)(`s3:// store unreachable for a while${s3 ? "" : ` (skipped: ${reason})`}`, () => {
  const store = s3 as S3TestStore;
  const open: Array<Harness | Relay> = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((h) => h.close()));
  });

  it("calls fail with a retryable error while it is down; afterwards nothing acknowledged is lost", async () => {
    const relay = await startRelay("127.0.0.1", new URL(store.options.endpoint as string).host);
    open.push(relay);
    const dbPath = `s3://${store.bucket}/faults-${randomUUID()}`;
    const objectStore = { ...store.options, endpoint: `http://127.0.0.1:${relay.port}` };
    const h = await startHarness({ dbPath, objectStore });
    open.push(h);
    const { acked, add } = ackedAdds(h);
    for (const id of ["a", "b", "c"]) expect((await add(id)).isError).toBeFalsy();
    relay.pause();
    const started = Date.now();
    const down = await Promise.all([
      add("d"),
      h.call("search_similar", { collection: "notes", query: "note", n_results: 2 }),
    ]);
    const waited = Date.now() - started;
    for (const result of down) {
      expect(result.isError).toBe(true);
      expect(JSON.stringify(result.content)).toMatch(/did not answer \(is it running.*then retry/);
    }
    expect(waited).toBeLessThan(60_000);
    relay.resume();
    for (const id of ["e", "f"]) expect((await add(id)).isError).toBeFalsy();
    // A fresh server (a restart) opens the store and finds every acknowledged document.
    const fresh = await startHarness({ dbPath, objectStore: store.options });
    open.push(fresh);
    const got = (await fresh.ok("get_documents", { collection: "notes", ids: acked })) as {
      not_found: string[];
    };
    expect(got.not_found).toEqual([]);
  }, 90_000);

  it("a writer killed with -9 mid-commit loses nothing acknowledged, and the others go on", async () => {
    const dbPath = `s3://${store.bucket}/kill-${randomUUID()}`;
    const writer = (prefix: string) => {
      const child = spawn(
        process.execPath,
        [
          "--import",
          "tsx",
          path.resolve("tests/fixtures/s3-writer.ts"),
          dbPath,
          prefix,
          JSON.stringify(store.options),
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      const acked: string[] = [];
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      child.stdout.on("data", (chunk: Buffer) => {
        for (const line of chunk.toString().split("\n"))
          if (line.startsWith("ack ")) acked.push(line.slice(4));
      });
      const exited = new Promise<string | null>((resolve) =>
        child.on("exit", (_code, signal) => resolve(signal)),
      );
      return { child, acked, exited, stderr: () => stderr };
    };
    const [victim, survivor] = [writer("v"), writer("s")];
    const until = async (check: () => boolean) => {
      for (let waited = 0; !check(); waited += 20) {
        if (waited > 60_000) throw new Error(`writers stalled: ${victim.stderr()} ${survivor.stderr()}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    await until(() => victim.acked.length >= 6 && survivor.acked.length >= 2);
    // Some milliseconds into its next call: in the middle of writing data files or the manifest.
    await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 40));
    victim.child.kill("SIGKILL");
    expect(await victim.exited).toBe("SIGKILL");
    const survivorBefore = survivor.acked.length;
    await until(() => survivor.acked.length >= survivorBefore + 5);
    survivor.child.kill("SIGTERM");
    await survivor.exited;
    const keys = await storedChunkKeys(dbPath, store.options, "shared");
    expect(keys.length).toBe(new Set(keys).size);
    const stored = new Set(keys.map((key) => (JSON.parse(key) as [string, number])[0]));
    expect([...victim.acked, ...survivor.acked].filter((id) => !stored.has(id))).toEqual([]);
    const reader = new LanceStore({
      dbPath,
      logger: silentLogger,
      objectStore: store.options,
      vectorCacheBytes: 0,
    });
    try {
      // The table takes writes after the crash.
      const model = { model: "random", dtype: "fp32", dimensions: 8 };
      await reader.upsert("shared", model, [
        { id: "after", text: "after", vector: new Float32Array(8).fill(1), metadata: {} },
      ]);
      expect((await reader.fetch("shared", ["after"])).map((c) => c.text)).toEqual(["after"]);
    } finally {
      await reader.close();
    }
  }, 120_000);
});
