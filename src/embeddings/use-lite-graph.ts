import { readFile } from "node:fs/promises";
import path from "node:path";
import { format } from "node:util";
import type { GraphModel } from "@tensorflow/tfjs-converter";
import type { io, Tensor } from "@tensorflow/tfjs-core";

/**
 * The use-lite graph on TF.js's wasm backend: what runs in the model's worker thread (see
 * use-lite-worker.ts). Nothing here tokenizes; it takes token ids.
 */
type Tf = typeof import("@tensorflow/tfjs-core");

export const DIMENSIONS = 512;

export interface Graph {
  /** One forward pass over the token ids of a few texts: one unit vector per text, in order. */
  embed(rows: readonly (readonly number[])[]): Promise<Float32Array[]>;
  /** Tensors TF.js holds in this thread (for tests: a pass must leave none behind). */
  tensors(): number;
  dispose(): void;
}

export async function loadGraph(dir: string): Promise<Graph> {
  const tf = await startRuntime();
  const { loadGraphModel } = await import("@tensorflow/tfjs-converter");
  const model = await loadGraphModel(fileHandler(tf, dir));
  return {
    embed: (rows) => embedBatch(tf, model, rows),
    tensors: () => tf.memory().numTensors,
    dispose: () => model.dispose(),
  };
}

/** TF.js keeps one engine and one backend per thread, so it is started once per thread. */
let runtime: Promise<Tf> | undefined;

function startRuntime(): Promise<Tf> {
  runtime ??= withConsoleOnStderr(initRuntime).catch((error: unknown) => {
    runtime = undefined;
    throw error;
  });
  return runtime;
}

async function initRuntime(): Promise<Tf> {
  const tf = await import("@tensorflow/tfjs-core");
  await import("@tensorflow/tfjs-backend-wasm");
  // Production mode drops TF.js's debug checks and its console warnings.
  tf.enableProdMode();
  if (!(await tf.setBackend("wasm"))) throw new Error("the TF.js wasm backend failed to initialise");
  await tf.ready();
  return tf;
}

/**
 * On stdio, stdout carries MCP messages only. TF.js and its Emscripten module print with console.log,
 * so anything printed while TF.js starts goes to stderr. The wasm module binds console.log when it is
 * instantiated, which happens inside this window, so its later prints go to stderr too.
 */
async function withConsoleOnStderr<T>(work: () => Promise<T>): Promise<T> {
  const saved = { log: console.log, info: console.info, debug: console.debug };
  const toStderr = (...args: unknown[]): void => {
    process.stderr.write(`${format(...args)}\n`);
  };
  Object.assign(console, { log: toStderr, info: toStderr, debug: toStderr });
  try {
    return await work();
  } finally {
    Object.assign(console, saved);
  }
}

/** Reads model.json and its shards from disk; TF.js's own file loader expects a browser or tfjs-node. */
function fileHandler(tf: Tf, dir: string): io.IOHandler {
  return {
    load: async () => {
      const modelJson = parseModelJson(await readJson(path.join(dir, "model.json")));
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const shardPaths = manifest.flatMap((group) => group.paths.map((shard) => path.join(dir, shard)));
        const shards = await Promise.all(shardPaths.map(readArrayBuffer));
        return [tf.io.getWeightSpecs(manifest), shards];
      });
    },
  };
}

export async function readJson(file: string): Promise<unknown> {
  return JSON.parse(await readFile(file, "utf8"));
}

async function readArrayBuffer(file: string): Promise<ArrayBuffer> {
  const bytes = await readFile(file);
  // A Buffer may be a view into a larger pool; TF.js needs an ArrayBuffer of exactly the shard.
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

function parseModelJson(raw: unknown): io.ModelJSON {
  if (!isRecord(raw) || !isRecord(raw.modelTopology) || !Array.isArray(raw.weightsManifest)) {
    throw new Error("model.json is not a TF.js graph model (no modelTopology or weightsManifest)");
  }
  for (const group of raw.weightsManifest) {
    if (!isRecord(group) || !isStringArray(group.paths) || !Array.isArray(group.weights)) {
      throw new Error("model.json has a malformed weightsManifest entry");
    }
  }
  return raw as unknown as io.ModelJSON;
}

/** One forward pass over the token ids of a few texts. */
async function embedBatch(
  tf: Tf,
  model: GraphModel,
  rows: readonly (readonly number[])[],
): Promise<Float32Array[]> {
  const batch = toSparseBatch(rows);
  const indices = tf.tensor2d(batch.indices, [batch.values.length, 2], "int32");
  const values = tf.tensor1d(batch.values, "int32");
  let output: Tensor | Tensor[] | undefined;
  try {
    output = await model.executeAsync({ indices, values });
    const embeddings = Array.isArray(output) ? output[0] : output;
    const [outputRows = 0, columns = 0] = embeddings?.shape ?? [];
    if (!embeddings || outputRows < rows.length || columns !== DIMENSIONS) {
      throw new Error(
        `bug: use-lite returned shape [${embeddings?.shape.join(", ")}] for ${rows.length} texts`,
      );
    }
    const data = await embeddings.data<"float32">();
    return rows.map((_, row) => normalize(data.slice(row * DIMENSIONS, (row + 1) * DIMENSIONS)));
  } finally {
    tf.dispose([indices, values]);
    if (output) tf.dispose(output);
  }
}

/**
 * The graph takes a batch as a sparse matrix of token ids and infers the number of rows from the
 * largest row index, so a text with no ids at the end of a batch would vanish (and an all-empty batch
 * fails). An empty (or, once folded, whitespace-only) text keeps its row and gets what the model makes
 * of zero tokens — the vector the reference implementation returns for "" anywhere but last: a fixed
 * unit vector, the same every time, which an agent's memory can store and compare like any other.
 * To keep the last row, a batch ending in one gets a throwaway one-token row whose output is ignored.
 */
export function toSparseBatch(rows: readonly (readonly number[])[]): {
  indices: Int32Array;
  values: Int32Array;
} {
  const padded = rows.at(-1)?.length === 0 ? [...rows, [0]] : rows;
  const count = padded.reduce((sum, ids) => sum + ids.length, 0);
  const indices = new Int32Array(count * 2);
  const values = new Int32Array(count);
  let at = 0;
  padded.forEach((ids, row) => {
    ids.forEach((id, column) => {
      indices[at * 2] = row;
      indices[at * 2 + 1] = column;
      values[at] = id;
      at++;
    });
  });
  return { indices, values };
}

/** The graph already L2-normalises; doing it again here guards the interface's promise cheaply. */
function normalize(vector: Float32Array): Float32Array {
  let sum = 0;
  for (const x of vector) sum += x * x;
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < vector.length; i++) vector[i] = (vector[i] ?? 0) / norm;
  return vector;
}
