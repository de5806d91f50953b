/**
 * Retrieval quality on real data, through the server's own tools (a real MCP Client over
 * InMemoryTransport), with the bundled use-lite model, beside two baselines outside the server.
 *
 *   npx tsx bench/quality.ts            STS-B dev and LoCoMo dev
 *   npx tsx bench/quality.ts --all      also the other development tasks the fusion was chosen on
 *
 * Data: ../shared/data (or STS_DEV_CSV and LOCOMO_JSON); the tasks are described in
 * bench/lib/quality-tasks.ts. For each task it prints recall@1/5/10 and MRR@10 of every mode, of
 * plain BM25 and of a brute-force dense search with the same model, then the default mode's margin
 * over the best single mode. On LoCoMo it also shows what the turns' metadata changes: a `where`
 * on the speaker a question names, and the session date written into each memory's text.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { createApp } from "../src/app.js";
import { DEFAULT_SEARCH_MODE } from "../src/contract/index.js";
import { silentLogger } from "../src/logger.js";
import { createServer } from "../src/server.js";
import {
  locomoTask,
  type RetrievalTask,
  stsTask,
  type TaskQuery,
  taskFilesPresent,
} from "./lib/quality-tasks.js";
import { bm25Ranker, denseRanker, METRICS, type Scores, score } from "./lib/retrieval-metrics.js";

const MODES = ["semantic", "keyword", "hybrid"] as const;
type Mode = (typeof MODES)[number];
const BATCH = 1000;
const DEPTH = 10;

/** A server on a fresh database, as an agent's client sees it. */
async function startServer() {
  const dir = mkdtempSync(path.join(tmpdir(), "vmm-quality-"));
  const app = createApp(
    {
      dbPath: path.join(dir, "db"),
      model: "use-lite",
      dtype: undefined,
      modelCache: path.join(dir, "cache"),
      offline: true,
    },
    silentLogger,
  );
  const server = createServer({ memory: app.memory, logger: silentLogger });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: "quality-bench", version: "1.0.0" });
  await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
  const call = async (name: string, args: Record<string, unknown>) => {
    const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
    if (result.isError) throw new Error(`${name}: ${JSON.stringify(result.content)}`);
    return result.structuredContent as Record<string, unknown>;
  };
  return {
    app,
    call,
    async close() {
      await client.close();
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
type Server = Awaited<ReturnType<typeof startServer>>;

async function load(server: Server, task: RetrievalTask): Promise<void> {
  for (const { name, documents } of task.collections) {
    for (let start = 0; start < documents.length; start += BATCH) {
      await server.call("add_documents", {
        collection: name,
        documents: documents.slice(start, start + BATCH),
      });
    }
  }
}

/** Each query's ranked ids through search_similar; one more than scored, for the excluded id. */
async function searchAll(
  server: Server,
  queries: TaskQuery[],
  mode: Mode,
  where?: (q: TaskQuery) => Record<string, unknown> | undefined,
): Promise<{ rankings: string[][]; msPerQuery: number }> {
  const started = performance.now();
  const rankings: string[][] = [];
  for (const query of queries) {
    const filter = where?.(query);
    const out = await server.call("search_similar", {
      collection: query.collection,
      query: query.text,
      mode,
      n_results: DEPTH + 1,
      include_text: false,
      ...(filter ? { where: filter } : {}),
    });
    rankings.push((out.results as Array<{ id: string }>).map((r) => r.id));
  }
  return { rankings, msPerQuery: (performance.now() - started) / Math.max(1, queries.length) };
}

async function baselines(
  server: Server,
  task: RetrievalTask,
): Promise<{ bm25: string[][]; dense: string[][] }> {
  const embedder = await server.app.embedders.get(server.app.defaultModel);
  const bm25: string[][] = [];
  const dense: string[][] = [];
  for (const { name, documents } of task.collections) {
    const byWords = bm25Ranker(documents);
    const byMeaning = await denseRanker(embedder, documents);
    for (const [i, query] of task.queries.entries()) {
      if (query.collection !== name) continue;
      bm25[i] = byWords(query.text, DEPTH + 1);
      dense[i] = await byMeaning(query.text, DEPTH + 1);
    }
  }
  return { bm25, dense };
}

const f3 = (x: number) => x.toFixed(3);
const signed = (x: number) => `${x >= 0 ? "+" : "−"}${Math.abs(x).toFixed(3)}`;

function table(title: string, rows: Array<[string, Scores, string?]>): string {
  const head = `| ${title} | ${METRICS.map(([, label]) => label).join(" | ")} | ms/query |`;
  const rule = `| --- | ${METRICS.map(() => "---:").join(" | ")} | ---: |`;
  const body = rows.map(
    ([name, s, ms]) => `| ${name} | ${METRICS.map(([key]) => f3(s[key])).join(" | ")} | ${ms ?? ""} |`,
  );
  return [head, rule, ...body].join("\n");
}

/** The default mode against the better single mode, metric by metric. */
function margins(byMode: Record<Mode, Scores>): Scores {
  const def = byMode[DEFAULT_SEARCH_MODE as Mode];
  const best = (key: keyof Scores) => Math.max(byMode.semantic[key], byMode.keyword[key]);
  return {
    r1: def.r1 - best("r1"),
    r5: def.r5 - best("r5"),
    r10: def.r10 - best("r10"),
    mrr10: def.mrr10 - best("mrr10"),
  };
}

async function measure(task: RetrievalTask, out: string[]): Promise<{ name: string; margin: Scores }> {
  const server = await startServer();
  try {
    const started = performance.now();
    await load(server, task);
    const documents = task.collections.reduce((n, c) => n + c.documents.length, 0);
    const byMode = {} as Record<Mode, Scores>;
    const rows: Array<[string, Scores, string?]> = [];
    for (const mode of MODES) {
      const { rankings, msPerQuery } = await searchAll(server, task.queries, mode);
      byMode[mode] = score(task.queries, rankings);
      rows.push([
        `${mode}${mode === DEFAULT_SEARCH_MODE ? " (default)" : ""}`,
        byMode[mode],
        msPerQuery.toFixed(1),
      ]);
    }
    const { bm25, dense } = await baselines(server, task);
    rows.push(["baseline: plain BM25 outside the server, no stemming", score(task.queries, bm25)]);
    rows.push(["baseline: brute-force dense, same model, outside the server", score(task.queries, dense)]);
    const margin = margins(byMode);
    rows.push([`**default − best single mode**`, margin]);
    const seconds = ((performance.now() - started) / 1000).toFixed(0);
    out.push(
      `### ${task.name}: ${documents} documents in ${task.collections.length} collection(s), ${task.queries.length} queries (${seconds} s)\n`,
      table("mode", rows),
      "",
    );
    return { name: task.name, margin };
  } finally {
    await server.close();
  }
}

/** LoCoMo with the turns' metadata used: a speaker filter, and the session date in the text. */
async function locomoMetadata(out: string[]): Promise<void> {
  const plain = locomoTask();
  const named = plain.queries.filter((q) => q.speaker !== undefined);
  const server = await startServer();
  const rows: Array<[string, Scores, string?]> = [];
  try {
    await load(server, plain);
    const mode = DEFAULT_SEARCH_MODE as Mode;
    rows.push([
      `${named.length} questions that name one speaker, ${mode}`,
      score(named, (await searchAll(server, named, mode)).rankings),
    ]);
    const bySpeaker = await searchAll(server, named, mode, (q) => ({ speaker: q.speaker }));
    rows.push([`the same, where {"speaker": <named>}`, score(named, bySpeaker.rankings)]);
  } finally {
    await server.close();
  }
  const dated = locomoTask(undefined, { dateInText: true });
  const datedServer = await startServer();
  try {
    await load(datedServer, dated);
    for (const mode of MODES) {
      const { rankings } = await searchAll(datedServer, dated.queries, mode);
      rows.push([`all questions, date in each memory's text, ${mode}`, score(dated.queries, rankings)]);
    }
  } finally {
    await datedServer.close();
  }
  out.push("### LoCoMo dev: using the speaker and session date\n", table("variant", rows), "");
}

async function main(): Promise<void> {
  const missing = taskFilesPresent();
  if (missing) {
    process.stderr.write(`${missing}\n`);
    process.exitCode = 1;
    return;
  }
  const all = process.argv.includes("--all");
  const tasks = [
    stsTask(),
    locomoTask(),
    ...(all
      ? [
          stsTask(undefined, { reverse: true }),
          stsTask(undefined, { band: [3, 4] }),
          stsTask(undefined, { band: [3, 4], reverse: true }),
          locomoTask(undefined, { observations: true }),
        ]
      : []),
  ];
  const out: string[] = [
    `Model use-lite; default mode ${DEFAULT_SEARCH_MODE}; results through search_similar.\n`,
  ];
  const summary: Array<{ name: string; margin: Scores }> = [];
  for (const task of tasks) {
    summary.push(await measure(task, out));
    process.stdout.write(`${out.splice(0).join("\n")}\n`);
  }
  await locomoMetadata(out);
  out.push(
    "### The default against the best single mode, per task (positive: the default is better)\n",
    `| task | ${METRICS.map(([, label]) => label).join(" | ")} |`,
    `| --- | ${METRICS.map(() => "---:").join(" | ")} |`,
    ...summary.map(
      ({ name, margin }) => `| ${name} | ${METRICS.map(([key]) => signed(margin[key])).join(" | ")} |`,
    ),
    "",
  );
  process.stdout.write(`${out.join("\n")}\n`);
}

await main();
