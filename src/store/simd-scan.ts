/**
 * Exact dot-product scan over float32 rows with a WebAssembly SIMD kernel (f32x4, four
 * accumulators, 16 floats per step). Measured in bench/RESULTS.md ("Store performance"): about 7x
 * a plain JS loop and within 2x of the memory-bandwidth bound at 100k x 384, on one thread.
 *
 * The module is assembled here byte by byte, so no toolchain and no dependency is needed:
 *
 *   scan(q, data, n, rowBytes, out): for each row i, out[i] = dot(q, row i)           (float32)
 *   scan8(q, data, n, rowBytes, out): the same for int8 rows and an int16 query, out as float32
 *
 * All offsets are byte offsets into the memory the caller supplies; rows are `rowBytes` apart,
 * and rowBytes must be a positive multiple of 64 for scan (rows padded with zeros to 16 floats)
 * and of 32 for scan8 (32 int8 values).
 */

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
  compiled ??= new wasm.Module(scanModule());
  const memory = new wasm.Memory({ initial: Math.max(1, Math.ceil(bytes / WASM_PAGE)) });
  const instance = new wasm.Instance(compiled, { env: { mem: memory } });
  return {
    memory,
    scan: instance.exports.scan as ScanFunction,
    scan8: instance.exports.scan8 as ScanFunction,
  };
}

/**
 * scan8's body: per 32 int8 values of a row, two 16-byte loads of the row, each widened to two
 * int16x8 halves and multiplied with the int16 query by i32x4.dot_i16x8_s into two int32x4 sums.
 * Int32 cannot overflow for |row| <= 127, |query| <= 4095 and up to 4096 dimensions.
 */
function scan8Body(): number[] {
  const get = (i: number) => [0x20, i];
  const set = (i: number) => [0x21, i];
  const simd = (op: number) => [0xfd, ...leb(op)];
  const [Q, DATA, N, ROW_BYTES, OUT, I, J, ROW, ACC0, ACC1, V] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] as const;
  const zero = [0xfd, 0x0c, ...new Array<number>(16).fill(0)];
  const queryLoad = (offset: number) => [
    ...get(Q),
    ...get(J),
    0x41,
    1,
    0x74, // i32.shl: j * 2 (the query is int16)
    0x6a,
    ...simd(0x00),
    4, // align 16
    ...leb(offset),
  ];
  const chunk = (offset: number) => [
    ...get(ROW),
    ...get(J),
    0x6a,
    ...simd(0x00),
    0, // align 1
    ...leb(offset),
    ...set(V),
    ...get(ACC0),
    ...get(V),
    ...simd(0x87), // i16x8.extend_low_i8x16_s
    ...queryLoad(offset * 2),
    ...simd(0xba), // i32x4.dot_i16x8_s
    ...simd(0xae), // i32x4.add
    ...set(ACC0),
    ...get(ACC1),
    ...get(V),
    ...simd(0x88), // i16x8.extend_high_i8x16_s
    ...queryLoad(offset * 2 + 16),
    ...simd(0xba),
    ...simd(0xae),
    ...set(ACC1),
  ];
  const lane = (l: number) => [...get(ACC0), ...simd(0x1b), l]; // i32x4.extract_lane
  return [
    2,
    3,
    0x7f, // 3 locals i32: i, j, row
    3,
    0x7b, // 3 locals v128: two accumulators, the loaded chunk
    ...get(DATA),
    ...set(ROW),
    0x02,
    0x40,
    0x03,
    0x40,
    ...get(I),
    ...get(N),
    0x4f,
    0x0d,
    1,
    ...zero,
    ...set(ACC0),
    ...zero,
    ...set(ACC1),
    0x41,
    0,
    ...set(J),
    0x03,
    0x40,
    ...chunk(0),
    ...chunk(16),
    ...get(J),
    0x41,
    32,
    0x6a,
    0x22,
    J,
    ...get(ROW_BYTES),
    0x49,
    0x0d,
    0,
    0x0b,
    ...get(ACC0),
    ...get(ACC1),
    ...simd(0xae),
    ...set(ACC0),
    ...get(OUT),
    ...get(I),
    0x41,
    2,
    0x74,
    0x6a,
    ...lane(0),
    ...lane(1),
    0x6a,
    ...lane(2),
    0x6a,
    ...lane(3),
    0x6a,
    0xb2, // f32.convert_i32_s
    ...storeScoreAndNextRow(),
  ];
}

function scanModule(): Uint8Array {
  const get = (i: number) => [0x20, i];
  const set = (i: number) => [0x21, i];
  const simd = (op: number) => [0xfd, ...leb(op)];
  const [Q, DATA, N, ROW_BYTES, OUT, I, J, ROW] = [0, 1, 2, 3, 4, 5, 6, 7] as const;
  const ACC = [8, 9, 10, 11] as const;
  const zero = [0xfd, 0x0c, ...new Array<number>(16).fill(0)]; // v128.const 0
  const multiplyAdd = (acc: number, offset: number) => [
    ...get(acc),
    ...get(Q),
    ...get(J),
    0x6a, // i32.add
    ...simd(0x00), // v128.load align=4
    2,
    ...leb(offset),
    ...get(ROW),
    ...get(J),
    0x6a,
    ...simd(0x00),
    2,
    ...leb(offset),
    ...simd(230), // f32x4.mul
    ...simd(228), // f32x4.add
    ...set(acc),
  ];
  const lane = (acc: number, l: number) => [...get(acc), ...simd(0x1f), l]; // f32x4.extract_lane
  const body = [
    2,
    3,
    0x7f, // 3 locals i32: i, j, row
    4,
    0x7b, // 4 locals v128: the accumulators
    ...get(DATA),
    ...set(ROW),
    0x02,
    0x40, // block
    0x03,
    0x40, // loop over rows
    ...get(I),
    ...get(N),
    0x4f, // i32.ge_u
    0x0d,
    1, // br_if out of the block
    ...ACC.flatMap((acc) => [...zero, ...set(acc)]),
    0x41,
    0, // i32.const 0
    ...set(J),
    0x03,
    0x40, // loop over 16-float chunks of the row
    ...ACC.flatMap((acc, k) => multiplyAdd(acc, k * 16)),
    ...get(J),
    0x41,
    0xc0,
    0x00, // i32.const 64
    0x6a,
    0x22,
    J, // local.tee j
    ...get(ROW_BYTES),
    0x49, // i32.lt_u
    0x0d,
    0, // br_if to the chunk loop
    0x0b, // end chunk loop
    ...get(ACC[0]),
    ...get(ACC[1]),
    ...simd(228),
    ...get(ACC[2]),
    ...get(ACC[3]),
    ...simd(228),
    ...simd(228),
    ...set(ACC[0]),
    ...get(OUT),
    ...get(I),
    0x41,
    2,
    0x74, // i32.shl: i * 4
    0x6a,
    ...lane(ACC[0], 0),
    ...lane(ACC[0], 1),
    0x92, // f32.add
    ...lane(ACC[0], 2),
    0x92,
    ...lane(ACC[0], 3),
    0x92,
    ...storeScoreAndNextRow(),
  ];
  const scan8 = scan8Body();
  const section = (id: number, content: number[]) => [id, ...leb(content.length), ...content];
  const name = (s: string) => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
    ...section(1, [1, 0x60, 5, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0]), // type: (i32 x5) -> ()
    ...section(2, [1, ...name("env"), ...name("mem"), 0x02, 0x00, 1]), // import memory, min 1 page
    ...section(3, [2, 0, 0]),
    ...section(7, [2, ...name("scan"), 0x00, 0, ...name("scan8"), 0x00, 1]),
    ...section(10, [2, ...leb(body.length), ...body, ...leb(scan8.length), ...scan8]),
  ]);
}

/**
 * The end shared by both kernels, whose locals are numbered alike (ROW_BYTES 3, I 5, ROW 7): store
 * the f32 score on the stack at the address below it, step to the next row, close the loops.
 */
function storeScoreAndNextRow(): number[] {
  const [ROW_BYTES, I, ROW] = [3, 5, 7];
  return [
    0x38,
    2,
    0, // f32.store
    0x20,
    ROW, // local.get row
    0x20,
    ROW_BYTES,
    0x6a, // i32.add
    0x21,
    ROW, // local.set row
    0x20,
    I,
    0x41,
    1,
    0x6a,
    0x21,
    I, // i += 1
    0x0c,
    0, // br to the row loop
    0x0b, // end row loop
    0x0b, // end block
    0x0b, // end function
  ];
}

function leb(value: number): number[] {
  const bytes: number[] = [];
  let v = value;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (v !== 0);
  return bytes;
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
