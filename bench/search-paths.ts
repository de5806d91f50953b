/**
 * Where a search's time goes, store level and through the tools, with and without a `where`
 * filter, for one or more source trees side by side in one process (issue 17).
 *
 *   npx tsx bench/search-paths.ts
 *   BENCH_TREES=before=/tmp/base,after=. npx tsx bench/search-paths.ts    a baseline checkout too
 *
 *   BENCH_ROWS     100000   documents in the big collection (short synthetic notes)
 *   BENCH_DIM      384      dimensions of the hash test embedder (no model: the embedding is ~free)
 *   BENCH_QUERIES  100      timed queries per measurement, after 10 warm-up ones
 *   BENCH_ROUNDS   2        rounds of them (variants alternate query by query, see interleaved)
 *   BENCH_PARTS    store,tools   which parts to run
 *
 * Every document has metadata {p: i % 100, project: "p" + (i % 10)}: {p: {$lt: 50}} admits 50% of
 * the rows, {project: "p3"} 10%, {p: 0} 1%. Each tree gets its own app (store, cache, MCP server
 * over InMemoryTransport) on the same database, which the first tree fills; "LanceDB" rows are a
 * store without the vector cache (every search LanceDB's own, as filtered searches were before).
 * "scalar query" is the other way to evaluate a filter that issue 17 names: LanceDB's scalar query
 * for the matching rows' ids (what a per-version cache of it would cost at each new version).
 */
import path from "node:path";
import { pathToFileURL } from "node:url";
import * as lancedb from "@lancedb/lancedb";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { tempDir } from "../tests/support/harness.js";
import { HashEmbedder, hashFactory } from "../tests/support/hash-embedder.js";
import { interleaved, median, quantile } from "./lib/timing.js";
import { syntheticTexts } from "./lib/vectors.js";

const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const DIM = Number(process.env.BENCH_DIM ?? 384);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const PARTS = (process.env.BENCH_PARTS ?? "store,tools").split(",");
const TREES = (process.env.BENCH_TREES ?? "this=.").split(",").map((entry) => {
  const [name, dir] = entry.split("=");
  return { name: name as string, dir: path.resolve(dir as string) };
});
const MODEL = `test/hash-${DIM}`;
const K = 10;

const FILTERS: Record<string, Record<string, unknown>> = {
  "50%": { p: { $lt: 50 } },
  "10%": { project: "p3" },
  "1%": { p: 0 },
};

// The source modules a tree is measured with, loaded from that tree (two trees: two module graphs).
interface Tree {
  name: string;
  /** `settled` in trees since the app had it. */
  app: { memory: unknown; settled?(collection: string): Promise<void>; close(): Promise<void> };
  call(args: Record<string, unknown>): Promise<CallToolResult>;
  cached: StoreLike;
  flat: StoreLike;
  parseWhere(where: Record<string, unknown>): unknown;
  close(): Promise<void>;
}
interface StoreLike {
  search(
    collection: string,
    vector: Float32Array,
    options: { limit: number; where?: unknown },
  ): Promise<Array<{ id: string; distance: number }>>;
  keywordSearch(collection: string, query: string, options: { limit: number }): Promise<unknown[]>;
  /** Trees with the cache's keyword index (keyword-index.ts) have it. */
  keywordIndexSettled?(collection: string): Promise<void>;
  close(): Promise<void>;
}

async function openTree(name: string, dir: string, dbPath: string): Promise<Tree> {
  const load = (file: string) => import(pathToFileURL(path.join(dir, "src", file)).href);
  const [{ createApp }, { createServer }, { LanceStore }, { silentLogger }, { parseWhere }] =
    await Promise.all([
      load("app.ts"),
      load("server.ts"),
      load("store/lancedb-store.ts"),
      load("logger.ts"),
      load("filter.ts"),
    ]);
  const app = createApp(
    { dbPath, model: MODEL, dtype: "fp32", modelCache: path.join(dbPath, "..", "cache"), offline: true },
    silentLogger,
    hashFactory(() => DIM),
  );
  const server = createServer({ memory: app.memory, logger: silentLogger });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: "bench", version: "1.0.0" });
  await Promise.all([server.connect(serverTransport), client.connect(clientTransport)]);
  // Filtered searches from the cache (the store's default; see its cacheFilteredSearches).
  const cached: StoreLike = new LanceStore({ dbPath, logger: silentLogger });
  const flat: StoreLike = new LanceStore({ dbPath, logger: silentLogger, vectorCacheBytes: 0 });
  return {
    name,
    app,
    call: async (args) =>
      (await client.callTool({ name: "search_similar", arguments: args })) as CallToolResult,
    cached,
    flat,
    parseWhere,
    async close() {
      await client.close();
      await server.close();
      await app.close();
      await cached.close();
      await flat.close();
    },
  };
}

async function fill(tree: Tree): Promise<void> {
  const memory = tree.app.memory as {
    addDocuments(
      collection: string,
      docs: Array<{ id: string; text: string; metadata: Record<string, unknown> }>,
    ): Promise<unknown>;
  };
  const texts = syntheticTexts(ROWS, 42);
  const started = performance.now();
  await memory.addDocuments("one", [
    { id: "n0", text: texts[0] as string, metadata: { p: 0, project: "p0" } },
  ]);
  const BATCH = 5000;
  for (let start = 0; start < ROWS; start += BATCH) {
    await memory.addDocuments(
      "big",
      texts.slice(start, start + BATCH).map((text, j) => {
        const i = start + j;
        return { id: `n${i}`, text, metadata: { p: i % 100, project: `p${i % 10}` } };
      }),
    );
  }
  console.log(`filled ${ROWS} documents in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

type Row = { name: string; p50: number; p95: number };
const results: Row[] = [];

/** Runs the variants interleaved (see interleaved), after 10 warm-up calls each, and records p50/p95 in ms. */
async function measure(
  variants: Record<string, (q: string) => Promise<unknown>>,
  queries: string[],
): Promise<void> {
  for (const run of Object.values(variants)) for (const q of queries.slice(0, 10)) await run(q);
  const times = await interleaved(variants, queries, ROUNDS);
  for (const [name, rounds] of Object.entries(times)) {
    const all = rounds.flat().map((s) => s * 1000);
    const row = { name, p50: median(all), p95: quantile(all, 0.95) };
    results.push(row);
    console.log(
      `${name.padEnd(58)} p50 ${row.p50.toFixed(2).padStart(8)} ms   p95 ${row.p95.toFixed(2).padStart(8)} ms`,
    );
  }
}

function ok(result: CallToolResult): CallToolResult {
  if (result.isError) throw new Error(`search_similar failed: ${JSON.stringify(result.content)}`);
  return result;
}

async function storePart(
  trees: Tree[],
  dbPath: string,
  queries: string[],
  vectors: Map<string, Float32Array>,
) {
  const v = (q: string) => vectors.get(q) as Float32Array;
  let unique = 0;
  const perTree: Record<string, (q: string) => Promise<unknown>> = {};
  for (const tree of trees) {
    const where = Object.fromEntries(
      Object.entries(FILTERS).map(([share, f]) => [share, tree.parseWhere(f)]),
    );
    const variants: Record<string, (q: string) => Promise<unknown>> = {
      [`${tree.name}: store, unfiltered`]: (q) => tree.cached.search("big", v(q), { limit: K }),
    };
    for (const share of Object.keys(FILTERS)) {
      variants[`${tree.name}: store, ${share} filter`] = (q) =>
        tree.cached.search("big", v(q), { limit: K, where: where[share] });
    }
    // A filter not seen before at this version: the mask is evaluated anew (p < 50 - tiny, same rows).
    variants[`${tree.name}: store, 50% filter, each one new`] = (q) =>
      tree.cached.search("big", v(q), {
        limit: K,
        where: tree.parseWhere({ p: { $lt: 49.5 + ++unique * 1e-9 } }),
      });
    Object.assign(perTree, variants);
  }
  // Every tree's variants in one interleaved measurement: load that comes and goes hits all alike.
  await measure(perTree, queries);
  // LanceDB's own filtered search (the store without a cache) and its scalar query, once: the same in every tree.
  const tree = trees[0] as Tree;
  const where = Object.fromEntries(Object.entries(FILTERS).map(([share, f]) => [share, tree.parseWhere(f)]));
  const db = await lancedb.connect(dbPath);
  const table = await db.openTable("big");
  const sql: Record<string, string> = {
    "50%": "`m_p` < 50.0",
    "10%": "`m_project` = 'p3'",
    "1%": "`m_p` = 0.0",
  };
  const slots = new Map<string, number>();
  for (let i = 0; i < ROWS; i++) slots.set(JSON.stringify([`n${i}`, 0]), i);
  const variants: Record<string, (q: string) => Promise<unknown>> = {};
  for (const share of Object.keys(FILTERS)) {
    variants[`LanceDB: filtered search, ${share}`] = (q) =>
      tree.flat.search("big", v(q), { limit: K, where: where[share] });
    variants[`LanceDB: scalar query for the ${share} rows, to slots`] = async () => {
      const rows = (await table
        .query()
        .where(sql[share] as string)
        .select(["id", "chunk"])
        .withRowId()
        .toArray()) as Array<{
        id: string;
        chunk: number;
      }>;
      const mask = new Uint8Array(ROWS);
      for (const row of rows) mask[slots.get(JSON.stringify([row.id, row.chunk])) ?? 0] = 1;
      return mask;
    };
  }
  await measure(variants, queries.slice(0, Math.max(20, QUERIES / 4)));
  // Recall of the cache's filtered answers against LanceDB's filtered exact search.
  for (const t of trees) {
    for (const share of Object.keys(FILTERS)) {
      const w = t.parseWhere(FILTERS[share] as Record<string, unknown>);
      // Hash vectors of short notes tie often: a hit at the same distance as LanceDB's counts too.
      let found = 0;
      let wanted = 0;
      for (const q of queries.slice(0, 50)) {
        const got = await t.cached.search("big", v(q), { limit: K, where: w });
        const want = await tree.flat.search("big", v(q), { limit: K, where: w });
        wanted += want.length;
        found += want.filter((h, at) => {
          const other = got[at];
          return other !== undefined && (other.id === h.id || Math.abs(other.distance - h.distance) < 1e-6);
        }).length;
      }
      console.log(
        `${t.name}: recall@${K} of the ${share} filtered search vs LanceDB's exact: ${(found / wanted).toFixed(3)}`,
      );
    }
  }
  table.close();
  db.close();
}

async function toolsPart(trees: Tree[], queries: string[], vectors: Map<string, Float32Array>) {
  const v = (q: string) => vectors.get(q) as Float32Array;
  const variants: Record<string, (q: string) => Promise<unknown>> = {};
  for (const tree of trees) {
    for (const collection of ["one", "big"]) {
      // The cache's keyword index is built beside the searches after the first one: timed once
      // built, in the bench's own store and in the app's (the tools' keyword side).
      await tree.cached.keywordSearch(collection, queries[0] as string, { limit: 1 });
      await tree.cached.keywordIndexSettled?.(collection);
      ok(await tree.call({ collection, query: queries[0] as string, n_results: 1, mode: "keyword" }));
      await tree.app.settled?.(collection);
      const size = collection === "one" ? "1 doc" : `${ROWS / 1000}k`;
      variants[`${tree.name}: store search, ${size}`] = (q) =>
        tree.cached.search(collection, v(q), { limit: K });
      // Limit 40: what the default mode asks of each side for 10 results.
      variants[`${tree.name}: store search (limit 40), ${size}`] = (q) =>
        tree.cached.search(collection, v(q), { limit: 40 });
      variants[`${tree.name}: store keywordSearch (limit 40), ${size}`] = (q) =>
        tree.cached.keywordSearch(collection, q, { limit: 40 });
      for (const mode of ["semantic", "hybrid", "keyword"]) {
        variants[`${tree.name}: tool ${mode}${mode === "hybrid" ? " (default)" : ""}, ${size}`] = async (q) =>
          ok(await tree.call({ collection, query: q, n_results: K, mode }));
      }
    }
    variants[`${tree.name}: tool semantic, 10% filter, ${ROWS / 1000}k`] = async (q) =>
      ok(
        await tree.call({
          collection: "big",
          query: q,
          n_results: K,
          mode: "semantic",
          where: FILTERS["10%"],
        }),
      );
    variants[`${tree.name}: tool hybrid, 10% filter, ${ROWS / 1000}k`] = async (q) =>
      ok(await tree.call({ collection: "big", query: q, n_results: K, where: FILTERS["10%"] }));
  }
  await measure(variants, queries);
}

async function main(): Promise<void> {
  const { dir, cleanup } = tempDir("vmm-bench-paths-");
  const dbPath = path.join(dir, "db");
  console.log(
    `search-paths: ${ROWS} rows x ${DIM}, ${QUERIES} queries x ${ROUNDS} rounds, trees ${TREES.map((t) => `${t.name}=${t.dir}`).join(" ")}`,
  );
  const trees: Tree[] = [];
  try {
    // Filled by an app of its own, closed after: every tree's server then loads the collection from
    // disk alike (a server that wrote the rows itself knows fewer row ids until it compacts).
    const filler = await openTree("filler", (TREES[0] as { dir: string }).dir, dbPath);
    await fill(filler);
    await filler.close();
    for (const { name, dir: treeDir } of TREES) trees.push(await openTree(name, treeDir, dbPath));
    const queries = syntheticTexts(QUERIES, 7).map((t) => t.replace(/ \(note \d+\)$/, ""));
    const embedder = new HashEmbedder(MODEL, DIM);
    const vectors = new Map<string, Float32Array>();
    for (const q of queries) vectors.set(q, await embedder.embedQuery(q));
    if (PARTS.includes("store")) await storePart(trees, dbPath, queries, vectors);
    if (PARTS.includes("tools")) await toolsPart(trees, queries, vectors);
  } finally {
    for (const tree of trees) await tree.close();
    cleanup();
  }
}

await main();
