import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tempDir } from "../support/harness.js";
import { CLI, type StdioServer, spawnServer, TINY_BERT } from "../support/stdio.js";
import { TOOL_NAMES } from "../support/tools.js";

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function workspace() {
  const { dir, cleanup } = tempDir("vmm-e2e-");
  cleanups.push(cleanup);
  return { dbPath: path.join(dir, "db"), cache: path.join(dir, "cache"), dir };
}

async function start(dbPath: string, cache: string): Promise<StdioServer> {
  const server = await spawnServer([
    "--db-path",
    dbPath,
    "--model",
    TINY_BERT,
    "--model-cache",
    cache,
    "--offline",
  ]);
  cleanups.push(() => server.close());
  return server;
}

type Results = {
  results: Array<{ id: string; text: string; score: number; metadata: Record<string, unknown> }>;
};

describe("the built server over stdio", () => {
  it("adds, survives a restart, searches with the real transformers.js model, deletes", async () => {
    const { dbPath, cache, dir } = workspace();
    const docs = [
      { id: "deploy", text: "The deploy key lives in the team vault.", metadata: { topic: "ops" } },
      { id: "lunch", text: "Lunch on Fridays is at the noodle place.", metadata: { topic: "social" } },
      { id: "oncall", text: "The on-call rotation changes every Monday.", metadata: { topic: "ops" } },
    ];

    const first = await start(dbPath, cache);
    const { tools } = await first.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(TOOL_NAMES);
    const added = await first.call("add_documents", { collection: "team", documents: docs });
    expect(added.isError).toBeFalsy();
    expect(added.structuredContent).toMatchObject({
      added: 3,
      created: true,
      model: { model: TINY_BERT, dtype: "fp32", dimensions: 32 },
    });
    await first.close();

    const second = await start(dbPath, cache);
    const found = await second.call("search_similar", {
      collection: "team",
      query: "Lunch on Fridays is at the noodle place.",
      n_results: 3,
    });
    const { results } = found.structuredContent as Results;
    expect(results[0]).toMatchObject({ id: "lunch", metadata: { topic: "social" } });
    expect(results[0]?.score).toBeCloseTo(1, 4);
    expect(results).toHaveLength(3);

    const filtered = await second.call("search_similar", {
      collection: "team",
      query: "Lunch on Fridays",
      where: { topic: "ops" },
    });
    expect((filtered.structuredContent as Results).results.map((r) => r.id).sort()).toEqual([
      "deploy",
      "oncall",
    ]);

    const deleted = await second.call("delete", { collection: "team", ids: ["lunch", "ghost"] });
    expect(deleted.structuredContent).toMatchObject({ deleted: 1, not_found: ["ghost"] });
    const listed = await second.call("list_collections", {});
    expect(listed.structuredContent).toEqual({
      collections: [{ name: "team", count: 2, model: TINY_BERT, dtype: "fp32", dimensions: 32 }],
    });

    expect(first.transportErrors).toEqual([]);
    expect(second.transportErrors).toEqual([]);
    expect(second.stderr()).toContain("ready on stdio");
    // Nothing is written outside --db-path and --model-cache.
    expect(readdirSync(dir).sort()).toEqual(["db"].concat(existsSync(cache) ? ["cache"] : []).sort());
  });

  it("answers an unknown collection with a tool error, not a crash", async () => {
    const { dbPath, cache } = workspace();
    const server = await start(dbPath, cache);
    const result = await server.call("search_similar", { collection: "nothing", query: "q" });
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toContain("There are no collections yet");
    // Still serving.
    expect((await server.call("list_collections", {})).structuredContent).toEqual({ collections: [] });
  });

  it("reports a model that cannot be loaded offline, naming the model, the cache and the fixes", async () => {
    const { dbPath, cache } = workspace();
    const server = await spawnServer(["--db-path", dbPath, "--model-cache", cache, "--offline"]);
    cleanups.push(() => server.close());
    const result = await server.call("add_documents", { collection: "c", documents: [{ text: "x" }] });
    expect(result.isError).toBe(true);
    const text = JSON.stringify(result.content);
    expect(text).toContain("Xenova/all-MiniLM-L6-v2");
    expect(text).toContain(cache);
    expect(text).toContain("--model use-lite");
    const tables = existsSync(dbPath) ? readdirSync(dbPath).filter((name) => name.endsWith(".lance")) : [];
    expect(tables).toEqual([]);
  });

  it("exits 1 with a message on stderr for bad configuration, and prints help on stdout", () => {
    const bad = spawnSync(process.execPath, [CLI, "--dtype", "q7"], { encoding: "utf8" });
    expect(bad.status).toBe(1);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toContain("--dtype / VECTOR_MEMORY_DTYPE");
    const env = spawnSync(process.execPath, [CLI], {
      encoding: "utf8",
      env: { ...process.env, VECTOR_MEMORY_OFFLINE: "perhaps" },
    });
    expect(env.status).toBe(1);
    expect(env.stderr).toContain("VECTOR_MEMORY_OFFLINE");
    const help = spawnSync(process.execPath, [CLI, "--help"], { encoding: "utf8" });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("--db-path");
  });
});
