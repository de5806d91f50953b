/**
 * A random-weight model with the architecture of all-MiniLM-L6-v2 (the default model), for timing
 * without a hub: `tests/fixtures/make-tiny-bert.py --shape minilm` writes it (about 90 MB), once, into
 * a cache directory outside the repository.
 */
import { spawnSync } from "node:child_process";
import { existsSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const generator = path.join(repoRoot, "tests/fixtures/make-tiny-bert.py");
/** Debian's interpreter, where `apt-get install python3-onnx python3-numpy` puts the modules. */
const python = process.env.VECTOR_MEMORY_BENCH_PYTHON ?? "/usr/bin/python3";
const MODEL_FILES = ["config.json", "tokenizer.json", "tokenizer_config.json", "onnx/model.onnx"];

/** Where the benchmarks keep generated models: VECTOR_MEMORY_BENCH_DIR, or a folder in the temp dir. */
export const benchCacheDir: string =
  process.env.VECTOR_MEMORY_BENCH_DIR ?? path.join(tmpdir(), "vector-memory-bench");

export type Generated = { dir: string; generated: boolean } | { skipped: string };

/**
 * The model directory (an absolute path: transformers.js reads a bare name as a hub id), generated
 * if it is missing. When Python or its onnx module is missing, says how to fix it instead of failing.
 */
export function ensureMinilmShaped(dir: string = path.join(benchCacheDir, "minilm-shaped")): Generated {
  const absolute = path.resolve(dir);
  if (MODEL_FILES.every((file) => existsSync(path.join(absolute, file)))) {
    return { dir: absolute, generated: false };
  }
  const command = `${python} ${path.relative(process.cwd(), generator) || generator} --out ${absolute} --shape minilm`;
  const fix = `To fix: apt-get install -y python3-onnx python3-numpy, then run ${command}`;
  // Written beside the target and renamed into place, so an interrupted run leaves no half model.
  const partial = `${absolute}.partial-${process.pid}`;
  const result = spawnSync(python, [generator, "--out", partial, "--shape", "minilm"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (result.error || result.status !== 0) {
    rmSync(partial, { recursive: true, force: true });
    const why =
      result.error?.message ?? (result.stderr.trim().split("\n")[0] || `exit status ${result.status}`);
    return { skipped: `could not generate the MiniLM-shaped model (${why}). ${fix}` };
  }
  rmSync(absolute, { recursive: true, force: true });
  renameSync(partial, absolute);
  return { dir: absolute, generated: true };
}
