/**
 * `restore` from one process while a server process keeps writing to the same collection: the
 * writer's calls all succeed (the restore takes the collection's lock, as a write does), the
 * collection opens whole afterwards, and every write acknowledged after the restore returned is there.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { tempDir } from "../support/harness.js";
import { CLI, spawnServer, TINY_BERT } from "../support/stdio.js";

const run = promisify(execFile);

describe("restore while another process writes", () => {
  it("neither loses the writer's later writes nor fails its calls", async () => {
    const { dir, cleanup } = tempDir();
    const base = [
      "--db-path",
      path.join(dir, "db"),
      "--model",
      TINY_BERT,
      "--model-cache",
      path.join(dir, "cache"),
      "--offline",
    ];
    const server = await spawnServer(base);
    try {
      const add = async (id: string) => {
        const result = await server.call("add_documents", {
          collection: "c",
          documents: [{ id, text: `memory ${id}` }],
        });
        if (result.isError) throw new Error(`add ${id} failed: ${JSON.stringify(result.content)}`);
      };
      for (let i = 0; i < 5; i++) await add(`base${i}`);
      const cli = async (args: string[]) =>
        JSON.parse(
          (await run(process.execPath, [CLI, ...args, ...base, "--json"], { cwd: dir })).stdout,
        ) as Record<string, unknown>;
      const history = (await cli(["history", "c"])) as { versions: Array<{ version: number }> };
      const target = history.versions.at(-1)?.version as number;

      let writing = true;
      const acknowledged: Array<{ id: string; at: number }> = [];
      const writer = (async () => {
        for (let i = 0; writing; i++) {
          await add(`w${i}`);
          acknowledged.push({ id: `w${i}`, at: Date.now() });
        }
      })();
      await new Promise((resolve) => setTimeout(resolve, 300));
      const restored = (await cli(["restore", "c", "--version", String(target)])) as { restoredAs: number };
      const restoreDone = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 500));
      writing = false;
      await writer;
      expect(restored.restoredAs).toBeGreaterThan(target);

      const page = await server.call("get_documents", { collection: "c", limit: 100 });
      const ids = new Set(
        (page.structuredContent as { documents: Array<{ id: string }> }).documents.map((d) => d.id),
      );
      for (let i = 0; i < 5; i++) expect(ids.has(`base${i}`)).toBe(true);
      const after = acknowledged.filter((w) => w.at > restoreDone + 50);
      expect(after.length).toBeGreaterThan(0);
      for (const w of after) expect(ids.has(w.id), w.id).toBe(true);
    } finally {
      await server.close();
      cleanup();
    }
  }, 60_000);
});
