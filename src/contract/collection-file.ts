import { z } from "zod";
import { type ModelSpec, specFromRecord } from "../embeddings/model-spec.js";
import { LIMITS } from "../limits.js";
import type { NewDocument, VectorMemory } from "../memory.js";
import { documentId, isoTime, metadata, storedText } from "./fields.js";

/**
 * A collection as a file: JSON Lines, the format of `export` and `import` (CLI and web UI alike).
 * A header line records the collection and its model, then one {id, text, metadata, created_at,
 * updated_at} line per document, ordered by id. Vectors are not in it: import re-embeds with the
 * recorded model, so a file stays valid across LanceDB versions. The times travel with the
 * documents (null where unknown) and import keeps them; a line without either (a file written
 * before times were kept, or by hand) is stored as new.
 */
export const COLLECTION_FILE_TYPE = "vector-memory-mcp/collection";

const headerSchema = z.object({
  type: z.literal(COLLECTION_FILE_TYPE),
  version: z.literal(1),
  name: z.string(),
  model: z.object({ model: z.string(), dtype: z.string(), dimensions: z.number().int().positive() }),
});

const lineSchema = z.object({
  id: documentId,
  text: storedText(LIMITS.textChars),
  metadata: metadata.optional(),
  created_at: isoTime.nullable().optional(),
  updated_at: isoTime.nullable().optional(),
});

/** A line of the file that is not a document; `line` counts from 1. */
export class CollectionFileError extends Error {
  constructor(
    readonly line: number,
    why: string,
  ) {
    super(`line ${line}: ${why}`);
  }
}

/** Every line validated before anything is written; the model is the header's, if there is one. */
export function parseCollectionFile(text: string): { model?: ModelSpec; documents: NewDocument[] } {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== "");
  let model: ModelSpec | undefined;
  const documents: NewDocument[] = [];
  for (const [index, line] of lines.entries()) {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new CollectionFileError(index + 1, "is not JSON");
    }
    const header = headerSchema.safeParse(value);
    if (header.success && index === 0) {
      model = specFromRecord(header.data.model);
      continue;
    }
    const doc = lineSchema.safeParse(value);
    if (!doc.success)
      throw new CollectionFileError(index + 1, doc.error.issues[0]?.message ?? "invalid document");
    const { created_at, updated_at, ...rest } = doc.data;
    const timed = created_at !== undefined || updated_at !== undefined;
    documents.push(
      timed ? { ...rest, times: { createdAt: created_at ?? null, updatedAt: updated_at ?? null } } : rest,
    );
  }
  return model ? { model, documents } : { documents };
}

/** The file's lines (each without its newline): the header, then every document by id. */
export async function* collectionFileLines(memory: VectorMemory, collection: string): AsyncGenerator<string> {
  const info = (await memory.listCollections()).find((c) => c.name === collection);
  let page = await memory.getDocuments(collection, { limit: 100 });
  yield JSON.stringify({
    type: COLLECTION_FILE_TYPE,
    version: 1,
    name: collection,
    model: info?.model,
    count: page.total,
  });
  for (;;) {
    for (const doc of page.documents) {
      const { id, text, metadata, createdAt, updatedAt } = doc;
      yield JSON.stringify({ id, text, metadata, created_at: createdAt, updated_at: updatedAt });
    }
    if (!page.nextCursor) return;
    page = await memory.getDocuments(collection, { limit: 100, cursor: page.nextCursor });
  }
}

/** Documents per addDocuments call while importing (each call is one commit). */
const IMPORT_BATCH = 500;

/** Adds a parsed file's documents in batches; a new collection takes the header's model. */
export async function importCollectionFile(
  memory: VectorMemory,
  collection: string,
  file: { model?: ModelSpec; documents: NewDocument[] },
): Promise<{ collection: string; documents: number; added: number; replaced: number }> {
  let added = 0;
  let replaced = 0;
  for (let start = 0; start < file.documents.length; start += IMPORT_BATCH) {
    const result = await memory.addDocuments(
      collection,
      file.documents.slice(start, start + IMPORT_BATCH),
      file.model ? { model: file.model } : {},
    );
    added += result.added;
    replaced += result.replaced;
  }
  return { collection, documents: file.documents.length, added, replaced };
}
