import { createHash } from "node:crypto";
import type { z } from "zod";
import {
  CollectionFileError,
  collectionFileLines,
  importCollectionFile,
  parseCollectionFile,
} from "../contract/collection-file.js";
import {
  collectionName,
  deleteInput,
  getDocumentsInput,
  searchSimilarInput,
  updateDocumentsInput,
} from "../contract/index.js";
import { MemoryError } from "../errors.js";
import type { VectorMemory } from "../memory.js";
import { bestSnippet, fitToBudget } from "../tools/search-similar.js";
import {
  chunksInput,
  duplicatesInput,
  importInput,
  mapInput,
  mapPayload,
  mergeInput,
  similarInput,
} from "./curation-api.js";

/**
 * The UI's JSON API: each route validates with the contract schema its MCP tool uses and calls the
 * same VectorMemory method, so the UI has no write path of its own and every rule holds here too.
 * Reads are GET; everything else is POST (which the server lets through only with the CSRF token).
 */
export interface ApiReply {
  status: number;
  body: unknown;
  /** Sent as is in place of `body` as JSON, as `type` (default application/octet-stream). */
  binary?: Buffer;
  type?: string;
  /** Offered to the browser as a download under this name. */
  filename?: string;
}

export interface ApiRequest {
  method: string;
  /** The path after /api, e.g. "/documents". */
  route: string;
  query: URLSearchParams;
  /** The parsed JSON body of a POST. */
  body: unknown;
}

const ok = (body: unknown): ApiReply => ({ status: 200, body });
const fail = (status: number, error: string): ApiReply => ({ status, body: { error } });

/** Search results carry snippets, not whole texts: the page shows a passage and links to the document. */
const SEARCH_CHARS = 100_000;
/** Characters of each "find similar" result shown. */
const SNIPPET_CHARS = 300;

export async function handleApi(memory: VectorMemory, req: ApiRequest): Promise<ApiReply> {
  try {
    const route = `${req.method} ${req.route}`;
    switch (route) {
      case "GET /collections":
        return ok({ collections: await collections(memory) });
      case "GET /documents": {
        const input = parse(getDocumentsInput, {
          collection: req.query.get("collection") ?? undefined,
          ids: req.query.has("id") ? req.query.getAll("id") : undefined,
          where: jsonParam(req.query.get("where")),
          limit: numberParam(req.query.get("limit")),
          cursor: req.query.get("cursor") || undefined,
        });
        if (typeof input === "string") return fail(400, input);
        const result = await memory.getDocuments(
          input.collection,
          input.ids ? { ids: input.ids } : { where: input.where, limit: input.limit, cursor: input.cursor },
        );
        return ok(result);
      }
      case "POST /search": {
        const input = parse(searchSimilarInput, req.body);
        if (typeof input === "string") return fail(400, input);
        const found = await memory.search(input.collection, input.query, {
          limit: input.n_results,
          mode: input.mode,
          where: input.where,
          minScore: input.min_score,
          diversity: input.diversity,
          groupBy: input.group_by,
        });
        const { results } = fitToBudget(found.results, input.query, false, SEARCH_CHARS);
        return ok({ mode: input.mode, results, queryTruncated: found.queryTruncated });
      }
      case "POST /update": {
        const input = parse(updateDocumentsInput, req.body);
        if (typeof input === "string") return fail(400, input);
        return ok(await memory.updateDocuments(input.collection, input.documents));
      }
      case "POST /delete": {
        const input = parse(deleteInput, req.body);
        if (typeof input === "string") return fail(400, input);
        // Dropping a collection from the UI needs its name typed again (the page asks for it).
        const confirm = (req.body as { confirm?: unknown } | undefined)?.confirm;
        if (input.drop_collection && !input.dry_run && confirm !== input.collection)
          return fail(400, `To drop "${input.collection}", send its name again as confirm.`);
        const request = input.ids
          ? { ids: input.ids }
          : input.where
            ? { where: input.where }
            : { dropCollection: true as const };
        return ok(await memory.delete(input.collection, request, { dryRun: input.dry_run }));
      }
      case "GET /export": {
        const parsed = collectionName.safeParse(req.query.get("collection") ?? undefined);
        if (!parsed.success) return fail(400, `collection: ${parsed.error.issues[0]?.message ?? "invalid"}`);
        const name = parsed.data;
        const lines: string[] = [];
        for await (const line of collectionFileLines(memory, name)) lines.push(line);
        return {
          status: 200,
          body: undefined,
          binary: Buffer.from(`${lines.join("\n")}\n`, "utf8"),
          type: "application/x-ndjson; charset=utf-8",
          filename: `${name}.jsonl`,
        };
      }
      case "POST /import": {
        const input = parse(importInput, req.body);
        if (typeof input === "string") return fail(400, input);
        let file: ReturnType<typeof parseCollectionFile>;
        try {
          file = parseCollectionFile(input.file);
        } catch (error) {
          if (error instanceof CollectionFileError)
            return fail(400, `The file's ${error.message}; nothing was imported.`);
          throw error;
        }
        if (file.documents.length === 0)
          return fail(400, "The file holds no documents; nothing was imported.");
        return ok(await importCollectionFile(memory, input.collection, file));
      }
      case "GET /changes":
        return ok({ fingerprint: await fingerprint(memory) });
      case "GET /map": {
        const input = parse(mapInput, {
          collection: req.query.get("collection") ?? undefined,
          where: jsonParam(req.query.get("where")),
          max: numberParam(req.query.get("max")),
        });
        if (typeof input === "string") return fail(400, input);
        return { status: 200, body: undefined, binary: await mapPayload(memory, input) };
      }
      case "GET /similar": {
        const input = parse(similarInput, {
          collection: req.query.get("collection") ?? undefined,
          id: req.query.get("id") ?? undefined,
          n: numberParam(req.query.get("n")),
          where: jsonParam(req.query.get("where")),
        });
        if (typeof input === "string") return fail(400, input);
        const found = await memory.similarTo(input.collection, input.id, {
          limit: input.n,
          where: input.where,
        });
        if (!found.found)
          return fail(404, `No document ${JSON.stringify(input.id)} in "${input.collection}".`);
        const results = found.results.map((r) => ({
          id: r.id,
          chunk: r.chunk,
          snippet: bestSnippet(r.text, "", SNIPPET_CHARS),
          score: r.score,
          matched_by: ["semantic"],
          metadata: r.metadata,
        }));
        return ok({ results });
      }
      case "GET /duplicates": {
        const input = parse(duplicatesInput, {
          collection: req.query.get("collection") ?? undefined,
          min: numberParam(req.query.get("min")),
          limit: numberParam(req.query.get("limit")),
          cursor: req.query.get("cursor") || undefined,
        });
        if (typeof input === "string") return fail(400, input);
        return ok(
          await memory.nearDuplicates(input.collection, {
            minScore: input.min,
            limit: input.limit,
            cursor: input.cursor,
          }),
        );
      }
      case "POST /merge": {
        const input = parse(mergeInput, req.body);
        if (typeof input === "string") return fail(400, input);
        return ok(await memory.mergeDocuments(input.collection, input.keep, input.drop));
      }
      case "GET /chunks": {
        const input = parse(chunksInput, {
          collection: req.query.get("collection") ?? undefined,
          id: req.query.get("id") ?? undefined,
        });
        if (typeof input === "string") return fail(400, input);
        return ok({ chunks: await memory.chunkLayout(input.collection, input.id) });
      }
      default:
        return fail(404, `No such API route: ${route}`);
    }
  } catch (error) {
    if (error instanceof MemoryError)
      return fail(error.code === "unknown_collection" ? 404 : 400, error.messageFor("cli"));
    throw error;
  }
}

async function collections(memory: VectorMemory) {
  const rows = [];
  for (const c of await memory.listCollections()) {
    const stats = await memory.stats(c.name);
    const indexes = await memory.indexes(c.name);
    rows.push({
      name: c.name,
      count: c.count,
      chunks: stats.chunks,
      bytes: stats.bytes,
      fragments: stats.fragments,
      smallFragments: stats.smallFragments,
      model: c.model.model,
      dtype: c.model.dtype,
      dimensions: c.model.dimensions,
      indexes,
    });
  }
  return rows;
}

/**
 * A short string that changes whenever any collection does: made, dropped, or written to by this
 * process or another one sharing the database (the store reads their commits; LanceDB writes new
 * files for every add, update and delete, so the byte count moves even when the counts do not).
 */
async function fingerprint(memory: VectorMemory): Promise<string> {
  const parts: string[] = [];
  for (const c of await memory.listCollections()) {
    const s = await memory.stats(c.name);
    parts.push(`${c.name}:${s.documents}:${s.chunks}:${s.fragments}:${s.bytes}`);
  }
  return createHash("sha256").update(parts.join("|")).digest("base64url").slice(0, 16);
}

/** The input as the schema makes it, or the first problem as one line naming the field. */
function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> | string {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.join(".");
  return `${field ? `${field}: ` : ""}${issue?.message ?? "invalid input"}`;
}

/** A JSON query parameter; text that is not JSON is passed on as is, for the schema to refuse. */
function jsonParam(value: string | null): unknown {
  if (value === null || value.trim() === "") return undefined;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function numberParam(value: string | null): unknown {
  if (value === null || value === "") return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : value;
}
