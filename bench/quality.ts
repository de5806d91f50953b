/**
 * Retrieval quality on real data, through the server's own tools (a real MCP Client over
 * InMemoryTransport), with the bundled use-lite model.
 *
 *   npx tsx bench/quality.ts
 *
 * Task built from the STS Benchmark dev split (../shared/data/stsbenchmark/sts-dev.csv, or STS_DEV_CSV):
 * every distinct sentence is a document; each pair scored >= 4.0 gives a query (its first sentence)
 * whose one relevant document is its second sentence. The query's own sentence is in the corpus
 * too, so it is removed from that query's results before scoring (otherwise rank 1 is trivially
 * the query itself). Prints recall@1, recall@10 and MRR@10 for semantic, keyword and hybrid search.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { createApp } from "../src/app.js";
import { silentLogger } from "../src/logger.js";
import { createServer } from "../src/server.js";

const MODES = ["semantic", "keyword", "hybrid"] as const;
const RELEVANT_SCORE = 4.0;
const BATCH = 1000;

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dataFile = process.env.STS_DEV_CSV ?? path.resolve(repoRoot, "../shared/data/stsbenchmark/sts-dev.csv");

/** Tab-separated; some lines carry extra fields after the sentences, so split on tabs, no CSV quoting. */
function parsePairs(text: string): Array<{ score: number; first: string; second: string }> {
  return text.split(/\r?\n/).flatMap((line) => {
    const [, , , , score, first, second] = line.split("\t");
    const value = Number.parseFloat(score ?? "");
    return first !== undefined && second !== undefined && Number.isFinite(value)
      ? [{ score: value, first, second }]
      : [];
  });
}

async function main(): Promise<void> {
  if (!existsSync(dataFile)) {
    process.stderr.write(`STS data not found at ${dataFile}; set STS_DEV_CSV to the sts-dev.csv file.\n`);
    process.exitCode = 1;
    return;
  }
  const pairs = parsePairs(readFileSync(dataFile, "utf8"));
  const sentences = [...new Set(pairs.flatMap((p) => [p.first, p.second]))];
  const idOf = new Map(sentences.map((s, i) => [s, `s${i}`]));
  const queries = pairs
    .filter((p) => p.score >= RELEVANT_SCORE && p.first !== p.second)
    .map((p) => ({
      text: p.first,
      self: idOf.get(p.first) as string,
      relevant: idOf.get(p.second) as string,
    }));

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

  try {
    const loadStart = performance.now();
    for (let start = 0; start < sentences.length; start += BATCH) {
      const documents = sentences.slice(start, start + BATCH).map((text) => ({ id: idOf.get(text), text }));
      await call("add_documents", { collection: "sts", documents });
    }
    const loadSeconds = (performance.now() - loadStart) / 1000;
    process.stdout.write(
      `corpus: ${sentences.length} sentences loaded in ${loadSeconds.toFixed(1)} s; ${queries.length} queries (pairs scored >= ${RELEVANT_SCORE})\n\n`,
    );
    process.stdout.write(
      "| mode | recall@1 | recall@10 | MRR@10 | ms/query |\n| --- | --- | --- | --- | --- |\n",
    );
    for (const mode of MODES) {
      let hits1 = 0;
      let hits10 = 0;
      let reciprocal = 0;
      const started = performance.now();
      for (const query of queries) {
        const out = await call("search_similar", {
          collection: "sts",
          query: query.text,
          mode,
          n_results: 11,
          include_text: false,
        });
        const ranked = (out.results as Array<{ id: string }>)
          .map((r) => r.id)
          .filter((id) => id !== query.self);
        const rank = ranked.slice(0, 10).indexOf(query.relevant);
        if (rank === 0) hits1 += 1;
        if (rank >= 0) {
          hits10 += 1;
          reciprocal += 1 / (rank + 1);
        }
      }
      const msPerQuery = (performance.now() - started) / queries.length;
      const n = queries.length;
      process.stdout.write(
        `| ${mode} | ${(hits1 / n).toFixed(3)} | ${(hits10 / n).toFixed(3)} | ${(reciprocal / n).toFixed(3)} | ${msPerQuery.toFixed(1)} |\n`,
      );
    }
  } finally {
    await client.close();
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
