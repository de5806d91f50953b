import { execFile } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../support/harness.js";
import { CLI, spawnServer, TINY_BERT } from "../support/stdio.js";

const run = promisify(execFile);

/** A loopback stand-in for the Hugging Face hub: serves the fixture as `test-org/tiny-bert`. */
function startHub(): Promise<{ server: Server; url: string; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? "");
    const match = /^\/test-org\/tiny-bert\/resolve\/main\/(.+)$/.exec(req.url ?? "");
    const file = match?.[1] ? path.join(TINY_BERT, decodeURIComponent(match[1])) : undefined;
    if (!file?.startsWith(TINY_BERT) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end("not found");
      return;
    }
    const body = readFileSync(file);
    res
      .writeHead(200, { "Content-Length": body.length, "Content-Type": "application/octet-stream" })
      .end(body);
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests });
    });
  });
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? "" },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("model management commands", () => {
  let hub: Awaited<ReturnType<typeof startHub>>;
  const work = tempDir("vmm-cli-");
  const cache = path.join(work.dir, "cache");
  const db = path.join(work.dir, "db");
  const base = ["--model-cache", cache, "--db-path", db];

  beforeAll(async () => {
    hub = await startHub();
  });
  afterAll(() => {
    hub.server.close();
    work.cleanup();
  });

  it("pulls a model once, then loads it with --offline without touching the network", async () => {
    const pulled = await cli([
      "models",
      "pull",
      "test-org/tiny-bert",
      "--dtype",
      "fp32",
      "--hub-url",
      hub.url,
      ...base,
    ]);
    expect(pulled.stderr).toContain("onnx/model.onnx");
    expect(pulled.code).toBe(0);
    expect(pulled.stdout).toContain("Pulled test-org/tiny-bert@fp32 (32 dimensions)");
    expect(existsSync(path.join(cache, "test-org", "tiny-bert", "onnx", "model.onnx"))).toBe(true);
    expect(hub.requests.length).toBeGreaterThan(0);

    const listed = await cli(["models", "list", "--json", ...base]);
    expect(listed.code).toBe(0);
    const report = JSON.parse(listed.stdout) as {
      cached: Array<{ id: string; dtypes: string[] }>;
      bundled: Array<{ id: string }>;
    };
    expect(report.cached).toEqual([expect.objectContaining({ id: "test-org/tiny-bert", dtypes: ["fp32"] })]);
    expect(report.bundled.map((m) => m.id)).toEqual(["use-lite"]);

    const before = hub.requests.length;
    const server = await spawnServer([
      "--model",
      "test-org/tiny-bert",
      "--dtype",
      "fp32",
      "--offline",
      "--hub-url",
      hub.url,
      ...base,
    ]);
    try {
      const added = await server.call("add_documents", {
        collection: "pulled",
        documents: [{ id: "a", text: "offline works" }],
      });
      expect(added.isError).toBeFalsy();
      const found = await server.call("search_similar", { collection: "pulled", query: "offline works" });
      expect(
        (found.structuredContent as { results: Array<{ id: string; score: number }> }).results[0]?.score,
      ).toBeCloseTo(1, 4);
    } finally {
      await server.close();
    }
    expect(hub.requests.length).toBe(before);

    const inUse = await cli(["models", "list", ...base]);
    expect(inUse.stdout).toMatch(/test-org\/tiny-bert\s+\[fp32\]\s+used by: pulled/);
  });

  it("fails clearly when the hub does not have the model, or when asked to pull offline", async () => {
    const missing = await cli(["models", "pull", "test-org/nothing-here", "--hub-url", hub.url, ...base]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("Could not load model test-org/nothing-here (dtype q8");
    const offline = await cli(["models", "pull", "test-org/tiny-bert", "--offline", ...base]);
    expect(offline.code).toBe(1);
    expect(offline.stderr).toContain("without --offline");
    const bundled = await cli(["models", "pull", "use-lite", ...base]);
    expect(bundled.code).toBe(0);
    expect(bundled.stderr).toContain("bundled");
  });

  it("re-embeds a collection with the bundled model, and rejects bad usage", async () => {
    const server = await spawnServer(["--model", TINY_BERT, "--offline", ...base]);
    try {
      await server.call("add_documents", {
        collection: "moving",
        documents: [
          { id: "cat", text: "The cat sits on the mat", metadata: { kind: "pet" } },
          { id: "market", text: "Stock markets fell sharply today" },
        ],
      });
    } finally {
      await server.close();
    }
    const moved = await cli(["reembed", "moving", "--model", "use-lite", "--offline", ...base]);
    expect(moved.stderr).toContain("re-embedding");
    expect(moved.code).toBe(0);
    expect(moved.stdout).toContain('Re-embedded 2 document(s) of "moving"');

    const after = await spawnServer(["--model", TINY_BERT, "--offline", ...base]);
    try {
      const list = await after.call("list_collections", {});
      expect(list.structuredContent).toMatchObject({
        collections: expect.arrayContaining([
          { name: "moving", count: 2, model: "use-lite", dtype: "fp32", dimensions: 512 },
        ]),
      });
      // Searched with its own (new) model, a real one: the paraphrase finds the cat.
      const hit = await after.call("search_similar", {
        collection: "moving",
        query: "A kitten is resting on a rug",
        n_results: 1,
      });
      expect(
        (hit.structuredContent as { results: Array<{ id: string; metadata: unknown }> }).results[0],
      ).toMatchObject({
        id: "cat",
        metadata: { kind: "pet" },
      });
    } finally {
      await after.close();
    }

    expect((await cli(["reembed", ...base])).code).toBe(2);
    const unknown = await cli(["reembed", "ghost", "--model", "use-lite", ...base]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('Collection "ghost" does not exist');
    expect((await cli(["frobnicate", ...base])).stderr).toContain('unknown command "frobnicate"');
  });
});
