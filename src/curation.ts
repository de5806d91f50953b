/**
 * Pure pieces of curating a collection (the web UI's map, duplicate review and merge): no I/O, so
 * memory.ts keeps the reads and writes and these are tested on their own.
 */
import { LIMITS } from "./limits.js";
import type { Metadata, MetadataValue } from "./store/vector-store.js";

/** A document's one vector: the mean of its chunks' vectors, scaled to unit length. */
export function documentVector(chunks: Float32Array[]): Float32Array {
  const first = chunks[0];
  if (!first) throw new Error("documentVector needs at least one chunk vector");
  if (chunks.length === 1) return first;
  const sum = new Float32Array(first.length);
  for (const v of chunks) for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] ?? 0) + (v[i] ?? 0);
  let norm = 0;
  for (const x of sum) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] ?? 0) / norm;
  return sum;
}

/** 32-bit FNV-1a of a string's UTF-16 units: a cheap, stable rank for sampling. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * The ids to show when there are more than `max`: those with the smallest hash. The same ids are
 * picked on every call, and adding documents changes the sample only where a new id ranks in, so a
 * map does not jump about between reloads. Returned sorted.
 */
export function stableSample(ids: string[], max: number): string[] {
  if (ids.length <= max) return [...ids].sort(byCodeUnit);
  return ids
    .map((id) => ({ id, rank: fnv1a(id) }))
    .sort((a, b) => a.rank - b.rank || byCodeUnit(a.id, b.id))
    .slice(0, max)
    .map((x) => x.id)
    .sort(byCodeUnit);
}

export const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The metadata changes that merging `dropped` into `kept` makes to `kept`, as update_documents takes
 * them. The rule: `kept` keeps every value it has; a key only `dropped` has is added; where both hold
 * a list of strings, the kept list gains the dropped one's missing items (up to the per-list limit).
 * A key both have with different plain values keeps the kept document's value.
 */
export function mergedMetadataChanges(kept: Metadata, dropped: Metadata): Record<string, MetadataValue> {
  const changes: Record<string, MetadataValue> = {};
  for (const [key, value] of Object.entries(dropped)) {
    const mine = kept[key];
    if (mine === undefined) changes[key] = value;
    else if (Array.isArray(mine) && Array.isArray(value)) {
      const union = [...new Set([...mine, ...value])].slice(0, LIMITS.metadataArrayItems);
      if (union.length > mine.length) changes[key] = union;
    }
  }
  return changes;
}
