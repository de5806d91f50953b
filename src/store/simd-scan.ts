/**
 * Exact dot-product scan over float32 rows with a WebAssembly SIMD kernel (f32x4, four
 * accumulators, 16 floats per step). Measured in bench/RESULTS.md ("Store performance"): about 7x
 * a plain JS loop and within 2x of the memory-bandwidth bound at 100k x 384, on one thread.
 *
 * The kernels are written in simd-scan.wat and shipped compiled in simd-scan.wasm.ts
 * (`npm run build:wasm`), so the runtime needs no toolchain:
 *
 *   scan(q, data, n, rowBytes, out): for each row i, out[i] = dot(q, row i)           (float32)
 *   scan8(q, data, n, rowBytes, out): the same for int8 rows and an int16 query, out as float32
 *
 * All offsets are byte offsets into the memory the caller supplies; rows are `rowBytes` apart,
 * and rowBytes must be a positive multiple of 64 for scan (rows padded with zeros to 16 floats)
 * and of 32 for scan8 (32 int8 values).
 */
import { SCAN_KERNEL_WASM } from "./simd-scan.wasm.js";

/** Floats per kernel step: rows and the query are padded to a multiple of this. */
export const SIMD_LANES = 16;
/** Int8 values per scan8 step. */
export const SIMD_LANES_I8 = 32;

export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

export type ScanFunction = (q: number, data: number, n: number, rowBytes: number, out: number) => void;

/** The WebAssembly API, typed here: the project's lib settings (ES2023, no DOM) do not declare it. */
const wasm = (
  globalThis as unknown as {
    WebAssembly: {
      Memory: new (descriptor: { initial: number }) => WasmMemory;
      Module: new (bytes: Uint8Array) => object;
      Instance: new (
        module: object,
        imports: Record<string, Record<string, unknown>>,
      ) => {
        exports: Record<string, unknown>;
      };
    };
  }
).WebAssembly;

export const WASM_PAGE = 65_536;

let compiled: object | undefined;

/** A fresh memory of at least `bytes` and the kernel bound to it (compiled once per process). */
export function createScanner(bytes: number): {
  memory: WasmMemory;
  scan: ScanFunction;
  scan8: ScanFunction;
} {
  compiled ??= new wasm.Module(SCAN_KERNEL_WASM);
  const memory = new wasm.Memory({ initial: Math.max(1, Math.ceil(bytes / WASM_PAGE)) });
  const instance = new wasm.Instance(compiled, { env: { mem: memory } });
  return {
    memory,
    scan: instance.exports.scan as ScanFunction,
    scan8: instance.exports.scan8 as ScanFunction,
  };
}

/** Indices of the k largest scores among the first n, best first (ties: the lower index first). */
export function topK(scores: Float32Array, n: number, k: number): Int32Array {
  const size = Math.min(k, n);
  const ids = new Int32Array(size);
  const best = new Float64Array(size);
  let filled = 0;
  let worst = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const score = scores[i] as number;
    if (filled === size && !(score > worst)) continue;
    let at = filled < size ? filled++ : size - 1;
    while (at > 0 && (best[at - 1] as number) < score) {
      best[at] = best[at - 1] as number;
      ids[at] = ids[at - 1] as number;
      at--;
    }
    best[at] = score;
    ids[at] = i;
    if (filled === size) worst = best[size - 1] as number;
  }
  return ids;
}
