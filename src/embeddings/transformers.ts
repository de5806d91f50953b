import { existsSync } from "node:fs";
import path from "node:path";
import { type Embedder, ModelUnavailableError } from "./embedder.js";
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
}

/** What transformers.js passes to `progress_callback`. */
interface TransformersProgress {
  status: string;
  file?: string;
  loaded?: number;
  total?: number;
}

type Pooling = "mean" | "cls";

type FeatureExtractor = (
  texts: string[],
  options: { pooling: Pooling; normalize: true },
) => Promise<{ data: Float32Array | number[]; dims: number[]; dispose?: () => void }>;

interface Pipeline {
  extractor: FeatureExtractor;
  dispose: () => Promise<void>;
}

const LOCAL_FILES = ["config.json", "tokenizer.json"];

/** Rows per forward pass: larger batches pad more and gain little on CPU. */
const BATCH = 32;

interface Recipe {
  pooling: Pooling;
  queryPrefix: string;
  documentPrefix: string;
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

  static async create(options: TransformersOptions): Promise<TransformersEmbedder> {
    if (options.local) checkLocalDirectory(options.model, options.dtype);
    const known = options.local ? undefined : knownModel(options.model);
    const recipe: Recipe = {
      pooling: known?.pooling ?? "mean",
      queryPrefix: known?.queryPrefix ?? "",
      documentPrefix: known?.documentPrefix ?? "",
    };
    const pipeline = await loadPipeline(options);
    const probe = await pipeline.extractor(["dimension probe"], { pooling: recipe.pooling, normalize: true });
    const dimensions = probe.dims.at(-1);
    probe.dispose?.();
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

  private async embed(texts: string[], prefix: string): Promise<Float32Array[]> {
    const vectors: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += BATCH) {
      const batch = texts.slice(start, start + BATCH).map((text) => prefix + text);
      const output = await this.pipeline.extractor(batch, { pooling: this.recipe.pooling, normalize: true });
      const data = output.data instanceof Float32Array ? output.data : Float32Array.from(output.data);
      for (let row = 0; row < batch.length; row++) {
        vectors.push(data.slice(row * this.dimensions, (row + 1) * this.dimensions));
      }
      output.dispose?.();
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
      progress_callback: (info: unknown) => {
        const event = info as TransformersProgress;
        if (event.status === "progress" && event.file && event.total) {
          options.onEvent?.({ file: event.file, loaded: event.loaded ?? 0, total: event.total });
        }
      },
    });
    return {
      extractor: extractor as unknown as FeatureExtractor,
      dispose: () => extractor.dispose(),
    };
  } catch (error) {
    throw new ModelUnavailableError(explainLoadFailure(options, error));
  }
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
