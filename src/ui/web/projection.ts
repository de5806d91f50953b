/**
 * The map's projections, as pure functions (the worker runs them; the benchmark measures them):
 * vectors in (int8 with a scale per row, as the server sends them), 2D points out. PCA (druid.js)
 * fits its two components on at most PCA_FIT rows and places every point; UMAP (umap-js) lays out
 * at most `umapMax` points, an evenly spread subset.
 */
import { Matrix, PCA } from "@saehrimnir/druidjs";
import { UMAP } from "umap-js";
import type { ProjectionJob } from "./map-protocol.js";

/** Rows the PCA is fitted on: its components settle long before this, and fitting costs rows × dims². */
const PCA_FIT = 1000;

function row(job: ProjectionJob, i: number): Float64Array {
  const out = new Float64Array(job.dimensions);
  const scale = job.scales[i] ?? 1;
  const at = i * job.dimensions;
  for (let j = 0; j < job.dimensions; j++) out[j] = (job.data[at + j] ?? 0) * scale;
  return out;
}

/** Evenly spread row indices, `max` of `n` (all when n <= max). */
function spread(n: number, max: number): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: max }, (_, k) => Math.floor((k * n) / max));
}

/** A seeded generator (mulberry32), so the same collection gives the same UMAP layout. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pca(job: ProjectionJob): { indices: Int32Array; coords: Float32Array } {
  const fit = spread(job.count, PCA_FIT).map((i) => row(job, i));
  const V = PCA.principal_components(Matrix.from(fit), { d: 2, seed: 1212 });
  const v0 = Float64Array.from({ length: job.dimensions }, (_, j) => V.entry(j, 0));
  const v1 = Float64Array.from({ length: job.dimensions }, (_, j) => V.entry(j, 1));
  const coords = new Float32Array(job.count * 2);
  for (let i = 0; i < job.count; i++) {
    const x = row(job, i);
    let a = 0;
    let b = 0;
    for (let j = 0; j < job.dimensions; j++) {
      a += (x[j] ?? 0) * (v0[j] ?? 0);
      b += (x[j] ?? 0) * (v1[j] ?? 0);
    }
    coords[2 * i] = a;
    coords[2 * i + 1] = b;
  }
  return { indices: Int32Array.from({ length: job.count }, (_, i) => i), coords };
}

export async function umap(
  job: ProjectionJob,
  onProgress: (done: number) => void = () => {},
): Promise<{ indices: Int32Array; coords: Float32Array }> {
  const picked = spread(job.count, job.umapMax);
  const data = picked.map((i) => Array.from(row(job, i)));
  // UMAP needs more points than neighbours; a handful is drawn by PCA instead.
  if (picked.length < 4) return pca(job);
  const model = new UMAP({
    nComponents: 2,
    nNeighbors: Math.min(15, picked.length - 1),
    minDist: 0.1,
    random: seeded(42),
  });
  const epochs = model.initializeFit(data);
  for (let epoch = 0; epoch < epochs; epoch++) {
    model.step();
    if (epoch % 20 === 0) onProgress(epoch / epochs);
  }
  const layout = model.getEmbedding();
  const coords = new Float32Array(picked.length * 2);
  layout.forEach((p, k) => {
    coords[2 * k] = p[0] ?? 0;
    coords[2 * k + 1] = p[1] ?? 0;
  });
  return { indices: Int32Array.from(picked), coords };
}
