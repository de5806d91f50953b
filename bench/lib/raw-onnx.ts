/**
 * ONNX Runtime alone: the `onnxruntime-node` that transformers.js itself loads, called directly on
 * pre-tokenized inputs. It is not a dependency of ours, so it is resolved from transformers.js's
 * install and typed here with only what the benchmark uses.
 */
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

export interface OrtTensor {
  readonly dims: readonly number[];
  readonly data: unknown;
}

export interface OrtSession {
  readonly inputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

interface Ort {
  InferenceSession: {
    create(path: string, options: { executionProviders: string[]; extra?: object }): Promise<OrtSession>;
  };
  Tensor: new (type: "int64", data: BigInt64Array, dims: readonly number[]) => OrtTensor;
}

/** What a transformers.js tokenizer returns (its tensors hold `int64` data). */
export interface Encoded {
  input_ids: { data: unknown; dims: number[] };
  attention_mask: { data: unknown; dims: number[] };
  token_type_ids?: { data: unknown; dims: number[] };
}

export interface RawOnnx {
  session: OrtSession;
  /** Turns tokenizer output into the session's feeds: new ORT tensors over the same int64 arrays. */
  feeds(encoded: Encoded): Record<string, OrtTensor>;
}

async function importOrt(): Promise<Ort> {
  const fromHere = createRequire(import.meta.url);
  const fromTransformers = createRequire(fromHere.resolve("@huggingface/transformers"));
  const entry = fromTransformers.resolve("onnxruntime-node");
  const ort = (await import(pathToFileURL(entry).href)) as Ort & { default?: Ort };
  return ort.default ?? ort;
}

/**
 * A CPU session on `modelFile`, with the options transformers.js uses for `device: "cpu"`, and
 * `spinning` passed as TransformersEmbedder passes it (unset: ONNX Runtime's default).
 */
export async function openRawOnnx(modelFile: string, spinning?: boolean): Promise<RawOnnx> {
  const ort = await importOrt();
  const session = await ort.InferenceSession.create(modelFile, {
    executionProviders: ["cpu"],
    ...(spinning === undefined
      ? {}
      : { extra: { session: { intra_op: { allow_spinning: spinning ? "1" : "0" } } } }),
  });
  const feeds = (encoded: Encoded): Record<string, OrtTensor> => {
    const named: Record<string, Encoded["input_ids"] | undefined> = {
      input_ids: encoded.input_ids,
      attention_mask: encoded.attention_mask,
      token_type_ids: encoded.token_type_ids,
    };
    return Object.fromEntries(
      session.inputNames.map((name) => {
        const tensor = named[name];
        if (!tensor || !(tensor.data instanceof BigInt64Array)) {
          throw new Error(`raw ONNX: no int64 ${name} in the tokenizer output`);
        }
        return [name, new ort.Tensor("int64", tensor.data, tensor.dims)];
      }),
    );
  };
  return { session, feeds };
}
