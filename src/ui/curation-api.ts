import { z } from "zod";
import { collectionName, documentId, whereFilter } from "../contract/index.js";
import type { VectorMemory } from "../memory.js";

/**
 * The UI's curation routes (map, find similar, duplicates, merge, chunk layout). Each reads or
 * writes through a VectorMemory method, as the tools do; inputs use the contract's fields.
 */

/** Documents a map shows at most; above this it shows a stable sample (README "Web UI"). */
export const MAP_MAX_DOCUMENTS = 20_000;

export const mapInput = z.object({
  collection: collectionName,
  where: whereFilter.optional(),
  max: z.number().int().min(1).max(MAP_MAX_DOCUMENTS).default(MAP_MAX_DOCUMENTS),
});

export const similarInput = z.object({
  collection: collectionName,
  id: documentId,
  n: z.number().int().min(1).max(100).default(10),
  where: whereFilter.optional(),
});

export const duplicatesInput = z.object({
  collection: collectionName,
  min: z.number().min(-1).max(1).default(0.9),
  limit: z.number().int().min(1).max(200).default(20),
  cursor: z.string().max(2000).optional(),
});

export const mergeInput = z.object({ collection: collectionName, keep: documentId, drop: documentId });

/** A collection file (JSON Lines, as `export` writes it) to import; the server takes up to IMPORT_BODY_BYTES. */
export const importInput = z.object({ collection: collectionName, file: z.string() });
export const IMPORT_BODY_BYTES = 64 * 1024 * 1024;

export const chunksInput = z.object({ collection: collectionName, id: documentId });

/** Characters of each document's text a map point carries (for hover). */
const MAP_PREVIEW_CHARS = 240;

/**
 * The map's payload, binary because it is mostly vectors: a little-endian u32 with the JSON
 * header's byte length, the header (ids, previews, metadata, counts), zero padding to 4 bytes, one
 * float32 scale per document, then each vector as int8 (value = byte × scale). Int8 is a quarter of
 * float32 on the wire and moves a 2D projection by far less than a point's width.
 */
export async function mapPayload(memory: VectorMemory, input: z.output<typeof mapInput>): Promise<Buffer> {
  const { total, documents } = await memory.documentVectors(input.collection, {
    where: input.where,
    max: input.max,
  });
  const dimensions = documents[0]?.vector.length ?? 0;
  const header = Buffer.from(
    JSON.stringify({
      total,
      count: documents.length,
      sampled: documents.length < total,
      dimensions,
      ids: documents.map((d) => d.id),
      texts: documents.map((d) => d.text.slice(0, MAP_PREVIEW_CHARS)),
      metadata: documents.map((d) => d.metadata),
    }),
    "utf8",
  );
  const headerEnd = 4 + header.length;
  const scalesAt = headerEnd + ((4 - (headerEnd % 4)) % 4);
  const vectorsAt = scalesAt + 4 * documents.length;
  const out = Buffer.alloc(vectorsAt + documents.length * dimensions);
  out.writeUInt32LE(header.length, 0);
  header.copy(out, 4);
  const scales = new Float32Array(out.buffer, out.byteOffset + scalesAt, documents.length);
  const vectors = new Int8Array(out.buffer, out.byteOffset + vectorsAt, documents.length * dimensions);
  documents.forEach((d, i) => {
    let max = 0;
    for (const x of d.vector) max = Math.max(max, Math.abs(x));
    const scale = max / 127 || 1;
    scales[i] = scale;
    const row = i * dimensions;
    for (let j = 0; j < dimensions; j++) vectors[row + j] = Math.round((d.vector[j] ?? 0) / scale);
  });
  return out;
}
