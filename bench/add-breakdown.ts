/**
 * Where a one-document add's time goes when 8 clients write one collection at once (issue 17's
 * group-commit goal): the same loop as bench/http-load.ts (add, search, every 4th round a delete),
 * through the real tools over InMemoryTransport in one process (no HTTP), with the bundled
 * use-lite model; the embedder's and the store's calls are timed from outside (wrapped).
 *
 *   npx tsx bench/add-breakdown.ts         LOAD_CLIENTS (8), LOAD_SECONDS (20)
 *
 * Per add: total, time inside embedDocuments (model work plus waiting for the one model instance,
 * which the other clients' searches and adds share), time inside store.upsert (waiting for the
 * collection's lock and the group's commit), the rest (duplicate check, shaping, transport).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { createApp } from "../src/app.js";
import type { Embedder } from "../src/embeddings/embedder.js";
import { createEmbedderFactory } from "../src/embeddings/providers.js";
import { silentLogger } from "../src/logger.js";
import { createServer } from "../src/server.js";
import { LanceStore } from "../src/store/lancedb-store.js";

const clients = Number(process.env.LOAD_CLIENTS ?? 8);
const seconds = Number(process.env.LOAD_SECONDS ?? 20);

type Part = "embed" | "upsert" | "search" | "delete" | "exact" | "otherStore";
const call = new AsyncLocalStorage<Record<Part, number>>();
const timedMethod = (target: object, name: string, part: Part) => {
  const holder = target as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const original = holder[name] as (...args: unknown[]) => Promise<unknown>;
  holder[name] = async function (this: unknown, ...args: unknown[]) {
    const started = performance.now();
    try {
      return await original.apply(this, args);
    } finally {
      const parts = call.getStore();
      if (parts) parts[part] += performance.now() - started;
    }
  };
};
timedMethod(LanceStore.prototype, "upsert", "upsert");
timedMethod(LanceStore.prototype, "search", "search");
// The near-duplicate check's searches (ids and distances only since 2026-12-02).
timedMethod(LanceStore.prototype, "nearest", "search");
timedMethod(LanceStore.prototype, "delete", "delete");
timedMethod(LanceStore.prototype, "exactTextCandidates", "exact");
for (const name of ["collectionModel", "fetch", "getCollection"])
  timedMethod(LanceStore.prototype, name, "otherStore");

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), "vmm-add-breakdown-"));
  const base = createEmbedderFactory({
    cacheDir: path.join(dir, "cache"),
    offline: true,
    spinning: undefined,
  });
  const app = createApp(
    {
      dbPath: path.join(dir, "db"),
      model: "use-lite",
      dtype: undefined,
      modelCache: path.join(dir, "cache"),
      offline: true,
    },
    silentLogger,
    async (spec, onEvent) => {
      const embedder: Embedder = await base(spec, onEvent);
      timedMethod(embedder, "embedDocuments", "embed");
      timedMethod(embedder, "embedQuery", "embed");
      return embedder;
    },
  );
  const server = createServer({ memory: app.memory, logger: silentLogger });
  const sessions: Client[] = [];
  // One server, one client per agent, as the HTTP server gives each session its own McpServer.
  for (let i = 0; i < clients; i++) {
    const own = createServer({ memory: app.memory, logger: silentLogger });
    const [a, b] = InMemoryTransport.createLinkedPair();
    const client = new Client({ name: `load-${i}`, version: "1.0.0" });
    await Promise.all([own.connect(b), client.connect(a)]);
    sessions.push(client);
  }
  const tool = async (c: Client, name: string, args: Record<string, unknown>) =>
    (await c.callTool({ name, arguments: args })) as CallToolResult;
  await tool(sessions[0] as Client, "add_documents", {
    collection: "load",
    documents: [{ id: "warm", text: "warm up" }],
  });
  const adds: Array<Record<Part, number> & { total: number }> = [];
  const searches: number[] = [];
  let failed = 0;
  const loadStart = loadavg()[0] as number;
  const until = Date.now() + seconds * 1000;
  await Promise.all(
    sessions.map(async (c, worker) => {
      for (let n = 0; Date.now() < until; n++) {
        const parts = { embed: 0, upsert: 0, search: 0, delete: 0, exact: 0, otherStore: 0 };
        const started = performance.now();
        const result = await call.run(parts, () =>
          tool(c, "add_documents", {
            collection: "load",
            documents: [
              {
                id: `w${worker}-${n}`,
                text: `memory ${n} written by agent ${worker} about topic ${n % 17}`,
                metadata: { worker, n },
              },
            ],
          }),
        );
        adds.push({ ...parts, total: performance.now() - started });
        if (result.isError) failed++;
        const s = performance.now();
        await tool(c, "search_similar", { collection: "load", query: `topic ${n % 17}`, n_results: 5 });
        searches.push(performance.now() - s);
        if (n % 4 === 3) await tool(c, "delete", { collection: "load", ids: [`w${worker}-${n - 1}`] });
      }
    }),
  );
  const loadEnd = loadavg()[0] as number;
  const col = (pick: (a: (typeof adds)[number]) => number) => {
    const sorted = adds.map(pick).sort((a, b) => a - b);
    return `${percentile(sorted, 50).toFixed(1)} / ${percentile(sorted, 99).toFixed(1)}`;
  };
  console.log(
    `${clients} clients, ${seconds} s, use-lite, in process (no HTTP); load ${loadStart.toFixed(1)} -> ${loadEnd.toFixed(1)}`,
  );
  console.log(`adds ${adds.length} (failed ${failed}), searches ${searches.length}`);
  console.log("| per add, ms | p50 / p99 |\n| --- | --- |");
  console.log(`| total | ${col((a) => a.total)} |`);
  console.log(`| in embedDocuments (model + waiting for it) | ${col((a) => a.embed)} |`);
  console.log(`| in store.upsert (lock wait + group commit) | ${col((a) => a.upsert)} |`);
  console.log(`| in store.nearest / search (near-duplicate check) | ${col((a) => a.search)} |`);
  console.log(`| in store.exactTextCandidates (exact-repeat check) | ${col((a) => a.exact)} |`);
  console.log(`| in other store reads (collectionModel, fetch) | ${col((a) => a.otherStore)} |`);
  console.log(
    `| the rest (tool, transport, waiting for the event loop) | ${col((a) => a.total - a.embed - a.upsert - a.search - a.exact - a.otherStore)} |`,
  );
  const share = (pick: (a: (typeof adds)[number]) => number) =>
    ((adds.reduce((s, a) => s + pick(a), 0) / adds.reduce((s, a) => s + a.total, 0)) * 100).toFixed(0);
  console.log(
    `share of all add time: embed ${share((a) => a.embed)}%, upsert ${share((a) => a.upsert)}%, search ${share((a) => a.search)}%`,
  );
  const s = [...searches].sort((a, b) => a - b);
  console.log(
    `search_similar p50 / p99: ${percentile(s, 50).toFixed(1)} / ${percentile(s, 99).toFixed(1)} ms`,
  );
  for (const c of sessions) await c.close();
  await server.close();
  await app.close();
  rmSync(dir, { recursive: true, force: true });
}

await main();
