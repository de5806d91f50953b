import { z } from "zod";
import { isTimeKey } from "../filter.js";
import { LIMITS } from "../limits.js";
import {
  collectionName,
  documentId,
  documentIds,
  metadata,
  metadataKey,
  metadataValue,
  RESERVED_KEY_MESSAGE,
  refuseProtoKey,
  storedText,
  whereFilter,
} from "./fields.js";

/**
 * What each operation of the memory takes, with its defaults and limits: one schema per operation,
 * used as the MCP tool's `inputSchema` and by the CLI command that does the same thing, so both
 * surfaces accept and refuse the same values. Field names are the tools' (snake_case).
 */

export const SEARCH_MODES = ["semantic", "keyword", "hybrid"] as const;
/** Hybrid (ranking.ts convexFusion) never fell behind the better single mode on the development data (bench/RESULTS.md "Search quality"). */
export const DEFAULT_SEARCH_MODE = "hybrid";
export const DEFAULT_MAX_CHARS = 12_000;
export const DOCUMENT_ORDERS = ["id", "updated_at", "created_at"] as const;
/** Documents per page when listing with get_documents / `get`. */
export const DEFAULT_PAGE_SIZE = 20;

/**
 * Cosine at or above which add_documents reports a stored document as a near-duplicate. Measured
 * with the bundled use-lite model on STS-B dev (bench/duplicates.ts, bench/RESULTS.md
 * "Near-duplicates"): the lowest threshold that flags at most 5% of pairs humans scored below 3;
 * it flags 85.7% of the pairs they scored 5.
 */
export const DEFAULT_DUPLICATE_THRESHOLD = 0.855;
export const DUPLICATE_ACTIONS = ["add", "skip"] as const;

export const addDocumentsInput = z.object({
  collection: collectionName,
  documents: z
    .array(
      z.object({
        id: documentId
          .optional()
          .describe(
            "Optional id. A document with an existing id replaces it (upsert); omitted ids are generated.",
          ),
        text: storedText(LIMITS.textChars).describe(
          `The text to store and embed (1-${LIMITS.textChars} characters). A text longer than the model's window is split into overlapping chunks, each embedded; nothing is cut off.`,
        ),
        metadata: metadata.optional(),
      }),
    )
    .min(1)
    .max(LIMITS.documentsPerCall)
    .describe(`Documents to store, 1-${LIMITS.documentsPerCall} per call.`),
  on_duplicate: z
    .enum(DUPLICATE_ACTIONS)
    .default("add")
    .describe(
      'What to do with a document that repeats a stored one (another id with the same text, or one at least duplicate_threshold similar): "add" (default) stores it and reports the duplicate; "skip" writes nothing for it (a new id is not stored; an id already stored keeps its stored version) and lists it in skipped.',
    ),
  duplicate_threshold: z
    .number()
    .min(0)
    .max(1)
    .default(DEFAULT_DUPLICATE_THRESHOLD)
    .describe(
      `Cosine similarity from which a stored document counts as a near-duplicate (default ${DEFAULT_DUPLICATE_THRESHOLD}, measured for the bundled use-lite model; other models score differently). Exact repeats (same text) are always found.`,
    ),
});

export const searchSimilarInput = z.object({
  collection: collectionName,
  query: z
    .string()
    .max(LIMITS.queryChars)
    .refine((q) => q.trim().length > 0, { message: "query must not be empty" })
    .describe("What to look for, in natural language."),
  n_results: z
    .number()
    .int()
    .min(1)
    .max(LIMITS.nResultsMax)
    .default(LIMITS.nResultsDefault)
    .describe(`How many results to return (1-${LIMITS.nResultsMax}, default ${LIMITS.nResultsDefault}).`),
  where: whereFilter.optional(),
  mode: z
    .enum(SEARCH_MODES)
    .default(DEFAULT_SEARCH_MODE)
    .describe(
      `"semantic" matches meaning, "keyword" matches words (full-text, BM25; best for names, codes, exact terms), "hybrid" fuses both (default "${DEFAULT_SEARCH_MODE}").`,
    ),
  min_score: z
    .number()
    .min(-1)
    .max(1)
    .optional()
    .describe("Drop results whose cosine score is below this (e.g. 0.3); applies in every mode."),
  diversity: z
    .number()
    .min(0)
    .max(1)
    .default(0)
    .describe(
      "0-1: trade relevance for variety, so near-duplicates do not fill the results (try 0.3). Default 0.",
    ),
  include_text: z
    .boolean()
    .default(true)
    .describe(
      "Return each document's text (within max_chars); false returns snippets only, to save context.",
    ),
  group_by: z
    .enum(["document", "chunk"])
    .default("document")
    .describe(
      'Long documents are stored as several chunks. "document" (default) returns each document once, by its best-matching chunk; "chunk" returns every matching chunk, so one document can appear several times.',
    ),
  recency_half_life_days: z
    .number()
    .positive()
    .max(36_500)
    .optional()
    .describe(
      "Prefer newer memories: each result's score is weighted by 0.5^(age / this many days), age from updated_at, and results are ordered by that (weighted_score); score stays the cosine. Off by default. E.g. 7 halves the weight of a week-old memory.",
    ),
  max_chars: z
    .number()
    .int()
    .min(200)
    .max(100_000)
    .default(DEFAULT_MAX_CHARS)
    .describe(
      `Budget for all returned texts together (default ${DEFAULT_MAX_CHARS}); texts beyond it are cut and marked truncated.`,
    ),
});

export const getDocumentsInput = z
  .object({
    collection: collectionName,
    ids: documentIds
      .optional()
      .describe(`Fetch exactly these documents (1-${LIMITS.idsPerCall} ids), in this order.`),
    where: whereFilter
      .optional()
      .describe(
        "Page through the documents whose metadata matches this filter (same syntax as search_similar).",
      ),
    limit: z
      .number()
      .int()
      .min(1)
      .max(LIMITS.nResultsMax)
      .default(DEFAULT_PAGE_SIZE)
      .describe(`Page size when listing (1-${LIMITS.nResultsMax}, default ${DEFAULT_PAGE_SIZE}).`),
    cursor: z
      .string()
      .max(2000)
      .optional()
      .describe("next_cursor from the previous page, to get the next one (with the same order_by)."),
    order_by: z
      .enum(DOCUMENT_ORDERS)
      .optional()
      .describe(
        'Order when listing: "id" (default), or "updated_at" / "created_at" newest first (documents of unknown time last, ties by id). Paging goes on after the last document returned, so nothing is returned twice while documents are written; one written meanwhile moves to the front, where a new listing finds it.',
      ),
  })
  .refine((a) => !(a.ids && (a.where || a.cursor || a.order_by)), {
    message: "give either ids, or where/cursor/order_by for paging, not both",
  });

export const updateDocumentsInput = z.object({
  collection: collectionName,
  documents: z
    .array(
      z.object({
        id: documentId.describe("Id of the stored document to change."),
        text: storedText(LIMITS.textChars)
          .optional()
          .describe(
            "New text; the document is re-chunked and re-embedded, and its old chunks removed. Omit to keep the text (and its vectors).",
          ),
        metadata: refuseProtoKey(z.record(metadataKey, metadataValue.nullable()))
          .refine((m) => Object.entries(m).every(([key, value]) => value === null || !isTimeKey(key)), {
            message: `${RESERVED_KEY_MESSAGE} (setting one to null removes a key stored before these names were reserved)`,
          })
          .optional()
          .describe(
            "Metadata changes, merged into the stored metadata; set a key to null to remove it. No re-embedding.",
          ),
      }),
    )
    .min(1)
    .max(LIMITS.documentsPerCall)
    .describe(`Changes to existing documents, 1-${LIMITS.documentsPerCall} per call.`),
});

export const deleteInput = z
  .object({
    collection: collectionName,
    ids: documentIds
      .optional()
      .describe(
        `Delete these documents (1-${LIMITS.idsPerCall} ids). Unknown ids are reported, not an error.`,
      ),
    where: whereFilter
      .optional()
      .describe("Delete every document whose metadata matches this filter (same syntax as search_similar)."),
    drop_collection: z
      .literal(true)
      .optional()
      .describe("Set to true to delete the whole collection and all its documents."),
    dry_run: z
      .boolean()
      .default(false)
      .describe("If true, delete nothing: report how many documents, and which ids, would be deleted."),
  })
  .refine((a) => [a.ids, a.where, a.drop_collection].filter((s) => s !== undefined).length === 1, {
    message: "give exactly one of ids, where or drop_collection",
  });
