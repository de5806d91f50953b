import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compileScanKernel, MODULE_PATH, renderModule } from "../../scripts/build-wasm.js";
import { createScanner, SIMD_LANES, SIMD_LANES_I8 } from "../../src/store/simd-scan.js";
import { SCAN_KERNEL_WASM } from "../../src/store/simd-scan.wasm.js";
import { random } from "../support/random.js";

const f32 = Math.fround;

/** scan's arithmetic in JS: four f32x4 accumulators over 16-float chunks, then its reduction order. */
function referenceDot(q: Float32Array, row: Float32Array): number {
  const acc = new Float32Array(16);
  for (let j = 0; j < row.length; j++) {
    const at = j % 16;
    acc[at] = f32((acc[at] as number) + f32((q[j] as number) * (row[j] as number)));
  }
  const lane = (l: number) =>
    f32(
      f32((acc[l] as number) + (acc[4 + l] as number)) +
        f32((acc[8 + l] as number) + (acc[12 + l] as number)),
    );
  return f32(f32(f32(lane(0) + lane(1)) + lane(2)) + lane(3));
}

describe("simd-scan kernel module", () => {
  it("ships exactly the bytes wabt compiles from simd-scan.wat (else run `npm run build:wasm`)", async () => {
    const compiled = await compileScanKernel();
    expect(Array.from(SCAN_KERNEL_WASM)).toEqual(Array.from(compiled));
    expect(readFileSync(MODULE_PATH, "utf8")).toBe(renderModule(compiled));
  });

  it("scan gives every row's float32 dot product, summed in the kernel's order", () => {
    const next = random(11);
    const d = 3 * SIMD_LANES;
    const n = 37;
    const { memory, scan } = createScanner((n * d + d + n) * 4);
    const rows = new Float32Array(memory.buffer, 0, n * d);
    const q = new Float32Array(memory.buffer, n * d * 4, d);
    const outAt = (n * d + d) * 4;
    for (let i = 0; i < rows.length; i++) rows[i] = (next() - 0.5) * 10;
    for (let j = 0; j < d; j++) q[j] = (next() - 0.5) * 10;
    scan(n * d * 4, 0, n, d * 4, outAt);
    const out = new Float32Array(memory.buffer, outAt, n);
    for (let i = 0; i < n; i++) expect(out[i]).toBe(referenceDot(q, rows.subarray(i * d, (i + 1) * d)));
  });

  it("scan8 gives every int8 row's exact integer dot product with the int16 query", () => {
    const next = random(12);
    const d = 3 * SIMD_LANES_I8;
    const n = 41;
    const queryAt = n * d + 16 - ((n * d) % 16); // the query is read 16-aligned
    const outAt = queryAt + d * 2;
    const { memory, scan8 } = createScanner(outAt + n * 4);
    const rows = new Int8Array(memory.buffer, 0, n * d);
    const q = new Int16Array(memory.buffer, queryAt, d);
    for (let i = 0; i < rows.length; i++) rows[i] = Math.floor(next() * 255) - 127;
    for (let j = 0; j < d; j++) q[j] = Math.floor(next() * 8191) - 4095;
    // The extremes, where an overflow or a wrong sign extension would show.
    rows.fill(127, 0, d);
    q.fill(4095, 0, d / 2);
    scan8(queryAt, 0, n, d, outAt);
    const out = new Float32Array(memory.buffer, outAt, n);
    for (let i = 0; i < n; i++) {
      let dot = 0;
      for (let j = 0; j < d; j++) dot += (rows[i * d + j] as number) * (q[j] as number);
      expect(out[i]).toBe(f32(dot));
    }
  });

  it("writes nothing for zero rows", () => {
    const { memory, scan, scan8 } = createScanner(1024);
    const out = new Float32Array(memory.buffer, 512, 4).fill(-1);
    scan(256, 0, 0, 64, 512);
    scan8(256, 0, 0, 32, 512);
    expect(Array.from(out)).toEqual([-1, -1, -1, -1]);
  });
});
