/**
 * Runs the benchmarks, each in its own process (TF.js and ONNX Runtime keep process-wide state),
 * one after another, and prints how each went.
 *
 *   npm run bench                      every benchmark below
 *   npm run bench -- throughput sts    only these, in this order
 *   npm run bench -- --list            names and what they measure
 *
 * A benchmark is one script in bench/ that prints its own numbers; add one by adding an entry.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

interface Benchmark {
  name: string;
  /** Path from the repository root. */
  script: string;
  about: string;
  /** Files it needs that a plain checkout lacks, and how to make them. */
  needs?: { file: string; fix: string };
}

const BENCHMARKS: readonly Benchmark[] = [
  { name: "sts", script: "bench/sts.ts", about: "STS-B dev Spearman of the bundled model (~35 s)" },
  {
    name: "quality",
    script: "bench/quality.ts",
    about: "retrieval recall/MRR of semantic, keyword and hybrid search through the tools (~1 min)",
  },
  {
    name: "throughput",
    script: "bench/embed-throughput.ts",
    about: "embedding texts/s, ours vs the raw runtime, use-lite and MiniLM-shaped (~4 min)",
  },
  {
    name: "store",
    script: "bench/store-bench.ts",
    about: "store ingest, search, one-document writes and disk vs peers (~10-20 min; knobs in the file)",
    needs: { file: "bench/peers/node_modules", fix: "npm ci --prefix bench/peers" },
  },
  {
    name: "http-load",
    script: "bench/http-load.ts",
    about: "HTTP transport under 8 concurrent clients for 60 s, checked for lost writes",
    needs: { file: "dist/cli.js", fix: "npm run build" },
  },
  {
    name: "daemon",
    script: "bench/daemon.ts",
    about:
      "shared daemon vs in-process: memory of 5 clients, relay RSS, handshake, search/add latency (~1 min)",
    needs: { file: "dist/cli.js", fix: "npm run build" },
  },
];

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

type Outcome = "ok" | "failed" | "skipped";

function runScript(script: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(repoRoot, script)], {
      cwd: repoRoot,
      stdio: "inherit",
    });
    child.on("error", () => resolve(1));
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes("--list") || args.includes("--help")) {
    for (const benchmark of BENCHMARKS) console.log(`${benchmark.name.padEnd(12)} ${benchmark.about}`);
    return;
  }
  const unknown = args.filter((name) => !BENCHMARKS.some((benchmark) => benchmark.name === name));
  if (unknown.length > 0) {
    console.error(
      `Unknown benchmark ${unknown.join(", ")}. Known: ${BENCHMARKS.map((b) => b.name).join(", ")}.`,
    );
    process.exitCode = 2;
    return;
  }
  const chosen =
    args.length === 0 ? BENCHMARKS : args.map((name) => BENCHMARKS.find((b) => b.name === name) as Benchmark);

  const outcomes: Array<{ name: string; outcome: Outcome; seconds: number; note: string }> = [];
  for (const benchmark of chosen) {
    if (benchmark.needs && !existsSync(path.join(repoRoot, benchmark.needs.file))) {
      const note = `needs ${benchmark.needs.file}: run ${benchmark.needs.fix} first`;
      console.log(`\n== ${benchmark.name}: skipped (${note})`);
      outcomes.push({ name: benchmark.name, outcome: "skipped", seconds: 0, note });
      continue;
    }
    console.log(`\n== ${benchmark.name}: ${benchmark.about}\n`);
    const started = performance.now();
    const code = await runScript(benchmark.script);
    outcomes.push({
      name: benchmark.name,
      outcome: code === 0 ? "ok" : "failed",
      seconds: (performance.now() - started) / 1000,
      note: code === 0 ? "" : `exit code ${code}`,
    });
  }

  console.log("\n== summary");
  for (const { name, outcome, seconds, note } of outcomes) {
    console.log(`${name.padEnd(12)} ${outcome.padEnd(8)} ${seconds.toFixed(0).padStart(5)} s  ${note}`);
  }
  if (outcomes.some((entry) => entry.outcome === "failed")) process.exitCode = 1;
}

await main();
