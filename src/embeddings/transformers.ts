import { existsSync } from "node:fs";
import path from "node:path";
import { type Embedder, ModelUnavailableError, type TokenWindow } from "./embedder.js";
import { knownModel } from "./known-models.js";
import { onnxFileFor } from "./model-spec.js";
import type { LoadEvent } from "./registry.js";

export interface TransformersOptions {
  /** Hugging Face model id, or an absolute path to a local model directory. */
  model: string;
  dtype: string;
  local: boolean;
  cacheDir: string;
  offline: boolean;
  /** Hub (or mirror) to download from, e.g. https://huggingface.co. */
  hubUrl?: string;
  /** Called with download/read progress of the model's files. */
  onEvent?: (event: LoadEvent) => void;
  /**
   * Whether ONNX Runtime's worker threads spin while they wait for work; unset keeps its default
   * (spinning). Off, they sleep instead: 1.8-3.8x the throughput on a 2-vCPU machine that other
   * processes kept busy (bench/RESULTS.md), since a spinning thread holds a core that work needs.
   */
  spinning?: boolean;
}

/** What transformers.js passes to `progress_callback`. */
interface TransformersProgress {
  status: string;
  file?: string;
  loaded?: number;
  total?: number;
}

type Pooling = "mean" | "cls";

/** The slice of a transformers.js `Tensor` used here. */
interface TensorLike {
  data: ArrayLike<number | bigint>;
  dims: number[];
  type: string;
  normalize(p: number, dim: number): TensorLike;
  slice(...slices: (number | null)[]): TensorLike;
}

/** A tokenizer's output: model inputs, including the mask that tells tokens from padding. */
type ModelInputs = Record<string, TensorLike> & { attention_mask: TensorLike };

/**
 * The pipeline's parts, called one by one (as its `_call` does) so that pooling and normalisation
 * run here, over the tokens that are not padding, instead of in transformers.js's `mean_pooling`,
 * which converts every attention-mask entry from BigInt once per dimension and walks the hidden
 * states with a stride of one row: 2-4% of a whole forward pass for MiniLM on 2 cores.
 */
interface Pipeline {
  tokenize: (texts: string[]) => ModelInputs;
  run: (inputs: ModelInputs) => Promise<Record<string, TensorLike | undefined>>;
  /** transformers.js's own pooling and normalisation, for hidden states that are not float32. */
  poolInTransformers: (hidden: TensorLike, mask: TensorLike, pooling: Pooling) => TensorLike;
  /** Token ids of `text`, without special tokens. */
  encode: (text: string) => number[];
  /** Special tokens the tokenizer adds around every text (e.g. [CLS] and [SEP]). */
  specialTokens: number;
  /** The longest input the model takes, in tokens, specials included. */
  modelMaxTokens: number;
  dispose: () => Promise<void>;
}

const LOCAL_FILES = ["config.json", "tokenizer.json"];

/** Rows per forward pass: larger batches pad more and gain little on CPU. */
const BATCH = 32;

interface Recipe {
  pooling: Pooling;
  queryPrefix: string;
  documentPrefix: string;
  /** The sequence length the model was trained for, when known: often below what its files allow. */
  maxTokens?: number | undefined;
}

/**
 * A transformers.js feature-extraction model, pooled (mean unless the model is known to use CLS)
 * and L2-normalised, with the model's query/document prefixes applied. Loads the pipeline once;
 * `create` resolves only when the model is ready.
 */
export class TransformersEmbedder implements Embedder {
  private constructor(
    readonly id: string,
    readonly dimensions: number,
    private readonly pipeline: Pipeline,
    private readonly recipe: Recipe,
  ) {}

  /**
   * The model's limit (its files', or the shorter length it was trained for, e.g. 256 for MiniLM)
   * less its special tokens and the document prefix; beyond it the tokenizer truncates.
   */
  async tokenWindow(): Promise<TokenWindow> {
    const { encode, specialTokens, modelMaxTokens } = this.pipeline;
    const limit = Math.min(modelMaxTokens, this.recipe.maxTokens ?? modelMaxTokens);
    const prefix = this.recipe.documentPrefix ? encode(this.recipe.documentPrefix).length : 0;
    return {
      maxTokens: Math.max(1, limit - specialTokens - prefix),
      countTokens: (text) => encode(text).length,
    };
  }

  static async create(options: TransformersOptions): Promise<TransformersEmbedder> {
    if (options.local) checkLocalDirectory(options.model, options.dtype);
    const known = options.local ? undefined : knownModel(options.model);
    const recipe: Recipe = {
      pooling: known?.pooling ?? "mean",
      queryPrefix: known?.queryPrefix ?? "",
      documentPrefix: known?.documentPrefix ?? "",
      maxTokens: known?.maxTokens,
    };
    const pipeline = await loadPipeline(options);
    const [probe] = await embedBatch(pipeline, ["dimension probe"], recipe.pooling);
    const dimensions = probe?.length;
    if (!dimensions)
      throw new ModelUnavailableError(`Model ${options.model} returned no embedding dimension.`);
    return new TransformersEmbedder(`${options.model}@${options.dtype}`, dimensions, pipeline, recipe);
  }

  embedDocuments(texts: string[]): Promise<Float32Array[]> {
    return this.embed(texts, this.recipe.documentPrefix);
  }

  async embedQuery(text: string): Promise<Float32Array> {
    const [vector] = await this.embed([text], this.recipe.queryPrefix);
    if (!vector) throw new Error("bug: no vector for the query");
    return vector;
  }

  /**
   * Every text in a forward pass is padded to the longest, so more texts than one pass holds are
   * grouped by length (longest first; the caller's order is restored): a few long texts then cost
   * one padded pass, not one in every pass.
   */
  private async embed(texts: string[], prefix: string): Promise<Float32Array[]> {
    const order = texts.map((_, index) => index);
    if (texts.length > BATCH) {
      order.sort((a, b) => (texts[b]?.length ?? 0) - (texts[a]?.length ?? 0) || a - b);
    }
    const vectors = new Array<Float32Array>(texts.length);
    for (let start = 0; start < order.length; start += BATCH) {
      const rows = order.slice(start, start + BATCH);
      const batch = rows.map((index) => prefix + (texts[index] ?? ""));
      const embedded = await embedBatch(this.pipeline, batch, this.recipe.pooling);
      rows.forEach((index, row) => {
        const vector = embedded[row];
        if (!vector) throw new Error(`bug: no vector for row ${row} of ${batch.length}`);
        vectors[index] = vector;
      });
    }
    return vectors;
  }

  async dispose(): Promise<void> {
    await this.pipeline.dispose();
  }
}

/** transformers.js throws a raw TypeError for a missing local directory; say what is missing instead. */
function checkLocalDirectory(dir: string, dtype: string): void {
  const needed = [...LOCAL_FILES, path.join("onnx", onnxFileFor(dtype))];
  const missing = needed.filter((file) => !existsSync(path.join(dir, file)));
  if (missing.length > 0) {
    throw new ModelUnavailableError(
      `The local model directory ${dir} is missing ${missing.join(", ")} (dtype ${dtype}). A transformers.js model directory holds config.json, tokenizer.json and onnx/model*.onnx; pass --dtype to pick other weights, or point --model at another directory.`,
    );
  }
}

async function loadPipeline(options: TransformersOptions): Promise<Pipeline> {
  const transformers = await import("@huggingface/transformers");
  const { env } = transformers;
  // transformers.js keeps its settings in a module-global `env`; every embedder in this process shares them.
  env.cacheDir = options.cacheDir;
  if (options.hubUrl) env.remoteHost = options.hubUrl.endsWith("/") ? options.hubUrl : `${options.hubUrl}/`;
  env.allowLocalModels = true;
  env.allowRemoteModels = !options.offline && !options.local;
  try {
    const extractor = await transformers.pipeline("feature-extraction", options.model, {
      dtype: options.dtype as "fp32",
      device: "cpu",
      local_files_only: options.offline || options.local,
      ...(options.spinning === undefined
        ? {}
        : {
            session_options: {
              extra: { session: { intra_op: { allow_spinning: options.spinning ? "1" : "0" } } },
            },
          }),
      progress_callback: (info: unknown) => {
        const event = info as TransformersProgress;
        if (event.status === "progress" && event.file && event.total) {
          options.onEvent?.({ file: event.file, loaded: event.loaded ?? 0, total: event.total });
        }
      },
    });
    const parts = extractor as unknown as {
      tokenizer: ((texts: string[], options: { padding: true; truncation: true }) => ModelInputs) & {
        encode: (text: string, options: { add_special_tokens: boolean }) => number[];
        model_max_length?: unknown;
      };
      model: ((inputs: ModelInputs) => Promise<Record<string, TensorLike | undefined>>) & {
        config?: { max_position_embeddings?: unknown };
      };
    };
    const encode = (text: string) => parts.tokenizer.encode(text, { add_special_tokens: false });
    return {
      // What the feature-extraction pipeline does: pad to the batch's longest, cut at the model's limit.
      tokenize: (texts) => parts.tokenizer(texts, { padding: true, truncation: true }),
      run: (inputs) => parts.model(inputs),
      poolInTransformers: (hidden, mask, pooling) => {
        const pooled =
          pooling === "mean"
            ? (transformers.mean_pooling(hidden as never, mask as never) as unknown as TensorLike)
            : hidden.slice(null, 0);
        return pooled.normalize(2, -1);
      },
      encode,
      specialTokens: parts.tokenizer.encode("", { add_special_tokens: true }).length,
      modelMaxTokens: modelMaxTokens(
        parts.tokenizer.model_max_length,
        parts.model.config?.max_position_embeddings,
      ),
      dispose: () => extractor.dispose(),
    };
  } catch (error) {
    throw new ModelUnavailableError(explainLoadFailure(options, error));
  }
}

/** Models whose files state no limit: BERT's 512, the common size, is the assumption. */
const DEFAULT_MAX_TOKENS = 512;

/**
 * The smaller of the tokenizer's model_max_length and the model's position embeddings. Tokenizers
 * without a limit report a huge sentinel (1e30), which is ignored.
 */
function modelMaxTokens(...limits: unknown[]): number {
  const stated = limits.filter(
    (n): n is number => typeof n === "number" && Number.isInteger(n) && n > 0 && n < 1_000_000,
  );
  return stated.length > 0 ? Math.min(...stated) : DEFAULT_MAX_TOKENS;
}

function explainLoadFailure(options: TransformersOptions, error: unknown): string {
  const reason = error instanceof Error ? error.message : String(error);
  if (options.local) {
    return `Could not load the local model at ${options.model} (dtype ${options.dtype}): ${reason}`;
  }
  const fixes = [
    options.offline
      ? "run once without --offline (with network access) so it is downloaded into the cache"
      : "check network access to the Hugging Face hub",
    "download it elsewhere and copy it into the cache directory, or pass a local model directory with --model /path/to/model",
    "or use the bundled model that needs no download: --model use-lite",
  ];
  return `Could not load model ${options.model} (dtype ${options.dtype}, cache ${options.cacheDir}): ${reason}. To fix: ${fixes.join("; ")}.`;
}

/** One forward pass: the texts' vectors, pooled over their tokens and L2-normalised. */
async function embedBatch(pipeline: Pipeline, texts: string[], pooling: Pooling): Promise<Float32Array[]> {
  const inputs = pipeline.tokenize(texts);
  const outputs = await pipeline.run(inputs);
  // The names the feature-extraction pipeline looks for, in its order.
  const hidden = outputs.last_hidden_state ?? outputs.logits ?? outputs.token_embeddings;
  if (!hidden) throw new Error(`bug: the model returned none of last_hidden_state, logits, token_embeddings`);
  const [rows = 0, positions = 0, dimensions = 0] = hidden.dims;
  if (hidden.dims.length !== 3 || rows !== texts.length) {
    throw new Error(`bug: hidden states of shape [${hidden.dims.join(", ")}] for ${texts.length} texts`);
  }
  const states = hidden.data;
  if (!(states instanceof Float32Array)) {
    const pooled = pipeline.poolInTransformers(hidden, inputs.attention_mask, pooling);
    const data = Float32Array.from(pooled.data as ArrayLike<number>);
    return texts.map((_, row) => data.slice(row * dimensions, (row + 1) * dimensions));
  }
  const mask = inputs.attention_mask.data;
  return texts.map((_, row) => {
    const first = row * positions * dimensions;
    const vector =
      pooling === "cls"
        ? states.slice(first, first + dimensions)
        : meanOverTokens(states, mask, row, positions, dimensions);
    return normalize(vector);
  });
}

/** The mean of one row's hidden states over its real tokens (mask 1), skipping the padding. */
function meanOverTokens(
  hidden: Float32Array,
  mask: ArrayLike<number | bigint>,
  row: number,
  positions: number,
  dimensions: number,
): Float32Array {
  const sum = new Float64Array(dimensions);
  let tokens = 0;
  for (let position = 0; position < positions; position++) {
    const at = row * positions + position;
    if (!Number(mask[at])) continue;
    tokens++;
    const offset = at * dimensions;
    for (let d = 0; d < dimensions; d++) sum[d] = (sum[d] ?? 0) + (hidden[offset + d] ?? 0);
  }
  const mean = new Float32Array(dimensions);
  if (tokens > 0) for (let d = 0; d < dimensions; d++) mean[d] = (sum[d] ?? 0) / tokens;
  return mean;
}

function normalize(vector: Float32Array): Float32Array {
  let squares = 0;
  for (let d = 0; d < vector.length; d++) squares += (vector[d] ?? 0) ** 2;
  const norm = Math.sqrt(squares);
  if (norm > 0) for (let d = 0; d < vector.length; d++) vector[d] = (vector[d] ?? 0) / norm;
  return vector;
}
