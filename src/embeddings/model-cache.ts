import { existsSync, readdirSync } from "node:fs";
import path from "node:path";

export interface CachedModel {
  id: string;
  /** Weight variants present, e.g. ["fp32", "q8"]. */
  dtypes: string[];
  path: string;
}

const SUFFIX_DTYPE: Record<string, string> = {
  "": "fp32",
  _fp16: "fp16",
  _quantized: "q8",
  _int8: "int8",
  _uint8: "uint8",
  _q4: "q4",
  _q4f16: "q4f16",
  _bnb4: "bnb4",
};

function dtypesIn(dir: string): string[] {
  const onnx = path.join(dir, "onnx");
  if (!existsSync(onnx)) return [];
  return readdirSync(onnx)
    .map((file) => /^model(.*)\.onnx$/.exec(file)?.[1])
    .filter((suffix): suffix is string => suffix !== undefined && suffix in SUFFIX_DTYPE)
    .map((suffix) => SUFFIX_DTYPE[suffix] as string)
    .sort();
}

function isModelDir(dir: string): boolean {
  return existsSync(path.join(dir, "config.json")) && dtypesIn(dir).length > 0;
}

function subdirs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name);
}

/** Models downloaded into the transformers.js cache (`<cache>/<org>/<name>/...` or `<cache>/<name>/...`). */
export function listCachedModels(cacheDir: string): CachedModel[] {
  if (!existsSync(cacheDir)) return [];
  const found: CachedModel[] = [];
  for (const first of subdirs(cacheDir)) {
    const top = path.join(cacheDir, first);
    if (isModelDir(top)) {
      found.push({ id: first, dtypes: dtypesIn(top), path: top });
      continue;
    }
    for (const second of subdirs(top)) {
      const dir = path.join(top, second);
      if (isModelDir(dir)) found.push({ id: `${first}/${second}`, dtypes: dtypesIn(dir), path: dir });
    }
  }
  return found.sort((a, b) => a.id.localeCompare(b.id));
}
