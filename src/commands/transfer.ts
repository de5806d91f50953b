import { z } from "zod";
import { documentId, isoTime, LIMITS, metadata, storedText } from "../contract/index.js";
import { specFromRecord } from "../embeddings/model-spec.js";
import type { NewDocument } from "../memory.js";
import { defineCommand, parseCollection } from "./command.js";
import { EXIT, UsageError } from "./io.js";

const HEADER_TYPE = "vector-memory-mcp/collection";
const BATCH = 500;

const headerSchema = z.object({
  type: z.literal(HEADER_TYPE),
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

/**
 * `export <collection>`: JSON Lines on stdout. A header line records the collection and its model,
 * then one {id, text, metadata, created_at, updated_at} line per document, ordered by id. Vectors
 * are not exported: import re-embeds with the recorded model, so a file stays valid across LanceDB
 * versions. The times travel with the documents (null where unknown), and import keeps them.
 */
export const exportCommand = defineCommand({
  name: "export",
  usage: "export <collection> > file.jsonl",
  options: {},
  async run({ args, app, io }) {
    const [name, ...rest] = args;
    if (name === undefined || rest.length > 0) throw new UsageError(`usage: ${this.usage}`);
    const collection = parseCollection(name);
    const info = (await app.memory.listCollections()).find((c) => c.name === collection);
    const first = await app.memory.getDocuments(collection, { limit: 100 });
    io.out(
      `${JSON.stringify({ type: HEADER_TYPE, version: 1, name: collection, model: info?.model, count: first.total })}\n`,
    );
    let page = first;
    for (;;) {
      for (const doc of page.documents) {
        const line = {
          id: doc.id,
          text: doc.text,
          metadata: doc.metadata,
          created_at: doc.createdAt,
          updated_at: doc.updatedAt,
        };
        io.out(`${JSON.stringify(line)}\n`);
      }
      if (!page.nextCursor) break;
      page = await app.memory.getDocuments(collection, { limit: 100, cursor: page.nextCursor });
    }
    return EXIT.ok;
  },
});

/**
 * `import <collection> < file.jsonl`: every line is validated before anything is written. A new
 * collection is made with the model the header records; an existing one keeps its own. A line
 * with `created_at` / `updated_at` keeps them (null: unknown); a line without either (a file
 * written before times were kept, or by hand) is stored as new now.
 */
export const importCommand = defineCommand({
  name: "import",
  usage: "import <collection> < file.jsonl",
  options: {},
  async run({ args, config, app, io }) {
    const [name, ...rest] = args;
    if (name === undefined || rest.length > 0) throw new UsageError(`usage: ${this.usage}`);
    const collection = parseCollection(name);
    const lines = (await io.readStdin()).split(/\r?\n/).filter((line) => line.trim() !== "");
    let model: ReturnType<typeof specFromRecord> | undefined;
    const documents: NewDocument[] = [];
    for (const [index, line] of lines.entries()) {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        throw new UsageError(`line ${index + 1} is not JSON`);
      }
      const header = headerSchema.safeParse(value);
      if (header.success && index === 0) {
        model = specFromRecord(header.data.model);
        continue;
      }
      const doc = lineSchema.safeParse(value);
      if (!doc.success)
        throw new UsageError(`line ${index + 1}: ${doc.error.issues[0]?.message ?? "invalid document"}`);
      const { created_at, updated_at, ...rest } = doc.data;
      const timed = created_at !== undefined || updated_at !== undefined;
      documents.push(
        timed ? { ...rest, times: { createdAt: created_at ?? null, updatedAt: updated_at ?? null } } : rest,
      );
    }
    let added = 0;
    let replaced = 0;
    for (let start = 0; start < documents.length; start += BATCH) {
      const result = await app.memory.addDocuments(
        collection,
        documents.slice(start, start + BATCH),
        model ? { model } : {},
      );
      added += result.added;
      replaced += result.replaced;
    }
    const summary = { collection, documents: documents.length, added, replaced };
    io.out(
      config.json
        ? `${JSON.stringify(summary)}\n`
        : `Imported ${documents.length} document(s) into "${collection}": ${added} added, ${replaced} replaced.\n`,
    );
    return EXIT.ok;
  },
});
