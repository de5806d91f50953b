import type { Embedder } from "./embedder.js";
import type { ModelSpec } from "./model-spec.js";
import type { EmbedderFactory } from "./registry.js";
import { TransformersEmbedder } from "./transformers.js";

export interface ProviderOptions {
  cacheDir: string;
  offline: boolean;
  hubUrl?: string;
  /** ONNX Runtime thread spinning; undefined keeps its default. */
  spinning?: boolean | undefined;
}

/** Picks the runtime for a model: bundled models run on TF.js, everything else on transformers.js. */
export function createEmbedderFactory(options: ProviderOptions): EmbedderFactory {
  return async (spec: ModelSpec, onEvent): Promise<Embedder> => {
    if (spec.kind === "bundled") {
      // Imported on demand: TF.js is only loaded by servers that use the bundled model.
      const { createUseLiteEmbedder } = await import("./use-lite.js");
      return createUseLiteEmbedder();
    }
    return TransformersEmbedder.create({
      model: spec.name,
      dtype: spec.dtype,
      local: spec.kind === "local",
      cacheDir: options.cacheDir,
      offline: options.offline,
      ...(options.hubUrl ? { hubUrl: options.hubUrl } : {}),
      ...(options.spinning === undefined ? {} : { spinning: options.spinning }),
      onEvent,
    });
  };
}
