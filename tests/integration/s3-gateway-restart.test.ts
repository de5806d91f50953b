import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ackedAdds, type Harness, startHarness, tempDir } from "../support/harness.js";
import { findRadosgw, type S3TestStore } from "../support/radosgw.js";

/**
 * radosgw itself stopped for a few seconds mid-run and started again (not a cut relay, as in
 * s3-faults.test.ts). The test starts a radosgw instance of its own (tools/radosgw/start.sh with a
 * state directory under the temp dir and free ports), so stopping its gateway disturbs no other
 * test; only the gateway is stopped (tools/radosgw/restart-gateway.sh): its OSD keeps the objects
 * in RAM, and stopping that would lose them. Skipped when radosgw is not installed.
 */
const repo = path.resolve(import.meta.dirname, "../..");
const installed = spawnSync("sh", ["-c", "command -v radosgw && command -v ceph-mon"]).status === 0;

describe.skipIf(!installed)(
  `radosgw stopped and started again${installed ? "" : " (skipped: radosgw is not installed)"}`,
  () => {
    const { dir, cleanup } = tempDir();
    const rgw = path.join(dir, "rgw");
    // Generous waits: in CI this starts while the other test files keep both cores busy.
    const env = {
      ...process.env,
      VMM_RADOSGW_DIR: rgw,
      VMM_RADOSGW_PORT: "0",
      VMM_RADOSGW_MEMORY_MB: "256",
      VMM_RADOSGW_WAIT_S: "180",
    };
    /** Runs one of the radosgw scripts; a failure says what the script printed. */
    const script = (name: string, args: string[] = []) => {
      const run = spawnSync(path.join(repo, "tools/radosgw", name), args, {
        env,
        encoding: "utf8",
        timeout: 230_000,
      });
      if (run.status !== 0)
        throw new Error(
          `${name} ${args.join(" ")} failed (${run.status ?? run.signal}): ${run.stderr.slice(-2000)}`,
        );
    };
    const gateway = (action: string) => script("restart-gateway.sh", [action]);
    let store: S3TestStore;
    const open: Harness[] = [];

    beforeAll(() => {
      try {
        script("start.sh");
      } catch (first) {
        // Once more on a failed start (it cleans up after itself), saying why the first failed.
        process.stderr.write(
          `s3-gateway-restart: first radosgw start failed, trying again: ${String(first)}\n`,
        );
        script("start.sh");
      }
    }, 470_000);
    afterAll(async () => {
      await Promise.all(open.splice(0).map((h) => h.close()));
      spawnSync(path.join(repo, "tools/radosgw/stop.sh"), { env, stdio: "ignore" });
      cleanup();
    }, 60_000);

    it("calls fail with a retryable error while it is down; afterwards nothing acknowledged is lost", async () => {
      const vars: Record<string, string> = {};
      for (const line of readFileSync(path.join(rgw, "env"), "utf8").split("\n")) {
        const match = /^export (\w+)=(.*)$/.exec(line.trim());
        if (match?.[1] && match[2] !== undefined) vars[match[1]] = match[2];
      }
      const found = await findRadosgw(vars);
      if (!("bucket" in found)) throw new Error(found.reason);
      store = found;
      const dbPath = `s3://${store.bucket}/restart-${randomUUID()}`;
      const h = await startHarness({ dbPath, objectStore: store.options });
      open.push(h);
      const { acked, add } = ackedAdds(h);
      for (const id of ["a", "b", "c"]) expect((await add(id)).isError).toBeFalsy();
      gateway("stop");
      const down = await Promise.all([
        add("d"),
        h.call("search_similar", { collection: "notes", query: "note", n_results: 2 }),
      ]);
      for (const result of down) {
        expect(result.isError).toBe(true);
        expect(JSON.stringify(result.content)).toMatch(/did not answer \(is it running.*then retry/);
      }
      gateway("start");
      for (const id of ["e", "f"]) expect((await add(id)).isError).toBeFalsy();
      const hits = (await h.ok("search_similar", { collection: "notes", query: "note", n_results: 10 })) as {
        results: unknown[];
      };
      expect(hits.results.length).toBe(acked.length);
      // A fresh server (a restart) opens the store and finds every acknowledged document.
      const fresh = await startHarness({ dbPath, objectStore: store.options });
      open.push(fresh);
      const got = (await fresh.ok("get_documents", { collection: "notes", ids: acked })) as {
        not_found: string[];
      };
      expect(got.not_found).toEqual([]);
      expect(acked).toEqual(expect.arrayContaining(["a", "b", "c", "e", "f"]));
    }, 180_000);
  },
);
