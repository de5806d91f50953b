/**
 * Load test of the HTTP transport: N concurrent clients doing mixed add/search/delete for a fixed
 * time against one server on loopback, then a check that every acknowledged write is there.
 *
 *   npm run build && npx tsx bench/http-load.ts            # 8 clients, 60 s
 *   LOAD_CLIENTS=4 LOAD_SECONDS=10 npx tsx bench/http-load.ts
 *
 * Uses the bundled use-lite model (real embeddings, no network). Loopback only; bounded in time.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { connectHttp, spawnHttpServer } from "../tests/support/http.js";

const clients = Number(process.env.LOAD_CLIENTS ?? 8);
const seconds = Number(process.env.LOAD_SECONDS ?? 60);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), "vmm-load-"));
  const token = "load-test-token-0123456789abcdef";
  const server = await spawnHttpServer(
    ["--db-path", path.join(dir, "db"), "--model", "use-lite", "--offline"],
    {
      VECTOR_MEMORY_TOKEN: token,
    },
  );
  const latencies: Record<"add" | "search" | "delete", number[]> = { add: [], search: [], delete: [] };
  const failures: string[] = [];
  const acknowledged = new Set<string>();
  const deleted = new Set<string>();
  try {
    const sessions = await Promise.all(
      Array.from({ length: clients }, (_, i) => connectHttp(server.url, token, `load-${i}`)),
    );
    // Warm the model so the first calls do not measure its load.
    await sessions[0]?.call("add_documents", {
      collection: "load",
      documents: [{ id: "warm", text: "warm up" }],
    });
    const timed = async (
      kind: keyof typeof latencies,
      run: () => Promise<{ isError?: boolean; content: unknown }>,
    ) => {
      const started = performance.now();
      const result = await run();
      latencies[kind].push(performance.now() - started);
      if (result.isError) failures.push(`${kind}: ${JSON.stringify(result.content).slice(0, 200)}`);
      return !result.isError;
    };
    const until = Date.now() + seconds * 1000;
    await Promise.all(
      sessions.map(async (c, worker) => {
        for (let n = 0; Date.now() < until; n++) {
          const id = `w${worker}-${n}`;
          const text = `memory ${n} written by agent ${worker} about topic ${n % 17}`;
          if (
            await timed("add", () =>
              c.call("add_documents", {
                collection: "load",
                documents: [{ id, text, metadata: { worker, n } }],
              }),
            )
          ) {
            acknowledged.add(id);
          }
          await timed("search", () =>
            c.call("search_similar", { collection: "load", query: `topic ${n % 17}`, n_results: 5 }),
          );
          if (n % 4 === 3) {
            const victim = `w${worker}-${n - 1}`;
            if (await timed("delete", () => c.call("delete", { collection: "load", ids: [victim] })))
              deleted.add(victim);
          }
        }
      }),
    );
    const expected = [...acknowledged].filter((id) => !deleted.has(id));
    const check = sessions[0] as (typeof sessions)[number];
    let missing = 0;
    for (let start = 0; start < expected.length; start += 1000) {
      const got = await check.call("get_documents", {
        collection: "load",
        ids: expected.slice(start, start + 1000),
      });
      missing += (got.structuredContent as { not_found: string[] }).not_found.length;
    }
    let resurrected = 0;
    const gone = [...deleted];
    for (let start = 0; start < gone.length; start += 1000) {
      const got = await check.call("get_documents", {
        collection: "load",
        ids: gone.slice(start, start + 1000),
      });
      resurrected += (got.structuredContent as { documents: unknown[] }).documents.length;
    }
    await Promise.all(sessions.map((c) => c.close()));

    const total = latencies.add.length + latencies.search.length + latencies.delete.length;
    process.stdout.write(`${clients} clients, ${seconds} s, model use-lite, loopback HTTP\n`);
    process.stdout.write(`calls: ${total} (${(total / seconds).toFixed(0)}/s), failed: ${failures.length}\n`);
    process.stdout.write(
      `acknowledged writes: ${acknowledged.size}, deleted: ${deleted.size}, lost: ${missing}, deleted but present: ${resurrected}\n\n`,
    );
    process.stdout.write("| call | count | p50 ms | p99 ms |\n| --- | --- | --- | --- |\n");
    for (const [kind, values] of Object.entries(latencies)) {
      const sorted = [...values].sort((a, b) => a - b);
      process.stdout.write(
        `| ${kind} | ${sorted.length} | ${percentile(sorted, 50).toFixed(1)} | ${percentile(sorted, 99).toFixed(1)} |\n`,
      );
    }
    for (const failure of failures.slice(0, 5)) process.stdout.write(`failure: ${failure}\n`);
    if (failures.length > 0 || missing > 0 || resurrected > 0) process.exitCode = 1;
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
