import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { documentTimes, metadataValue, searchSimilarInput } from "../contract/index.js";
import type { SearchResult } from "../memory.js";
import type { ToolDeps } from "./deps.js";
import { progressSender, runTool, toolResult } from "./result.js";

const SNIPPET_CHARS = 200;

const outputSchema = z.object({
  collection: z.string().describe("The collection searched."),
  mode: z.enum(["semantic", "keyword", "hybrid"]).describe("The search mode used."),
  results: z
    .array(
      z.object({
        id: z.string().describe("Document id."),
        text: z
          .string()
          .optional()
          .describe(
            "The matching text: the whole document, or for a long document stored as chunks, the chunk that matched (get_documents returns the whole). Cut to the budget if `truncated`; omitted with include_text false.",
          ),
        chunk: z
          .number()
          .int()
          .describe("Which chunk of the document matched: 0 for the first, or for a document stored whole."),
        start: z
          .number()
          .int()
          .describe("Where the matching text starts in the document's text (characters)."),
        end: z.number().int().describe("Where it ends (exclusive); end - start = text_chars."),
        snippet: z.string().describe(`The passage that best matches, at most ${SNIPPET_CHARS} characters.`),
        truncated: z
          .boolean()
          .describe("True if `text` was cut to fit max_chars; get_documents returns it whole."),
        text_chars: z
          .number()
          .int()
          .describe("Length of the matching text (document or chunk) before any cut."),
        score: z
          .number()
          .describe("Cosine similarity to the query (higher is closer, at most 1), in every mode."),
        distance: z.number().describe("Cosine distance, 1 - score (as Chroma reports it)."),
        weighted_score: z
          .number()
          .optional()
          .describe(
            "With recency_half_life_days: the ranking score times the age weight, which the results are ordered by.",
          ),
        matched_by: z.array(z.enum(["semantic", "keyword"])).describe("Which searches found it."),
        metadata: z.record(z.string(), metadataValue).describe("The document's metadata as stored."),
        ...documentTimes,
      }),
    )
    .describe("Matches, best first."),
  truncated: z.boolean().describe("True if any text was cut to fit max_chars."),
  query_truncated: z
    .boolean()
    .describe(
      "True if the query is longer than the embedding model's window: only its first part was used for meaning (keyword search used all of it). Use a shorter query.",
    ),
});

export function registerSearchSimilar(server: McpServer, deps: ToolDeps): void {
  server.registerTool(
    "search_similar",
    {
      title: "Search memory",
      description:
        "Find stored documents relevant to a query, best first: by meaning, by exact words, or both (hybrid, the default); optionally only those whose metadata matches `where`. Long documents are searched chunk by chunk and each result gives the passage that matched. " +
        'Example: {"collection": "notes", "query": "where is the deploy key?", "n_results": 3, "where": {"topic": "ops"}}',
      inputSchema: searchSimilarInput,
      outputSchema,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args, extra) =>
      runTool(deps.logger, "search_similar", async () => {
        const { results: found, queryTruncated } = await deps.memory.search(args.collection, args.query, {
          limit: args.n_results,
          mode: args.mode,
          where: args.where,
          minScore: args.min_score,
          diversity: args.diversity,
          groupBy: args.group_by,
          recencyHalfLifeDays: args.recency_half_life_days,
          onProgress: progressSender(extra),
        });
        const { results, truncated } = fitToBudget(found, args.query, args.include_text, args.max_chars);
        const lines = results.map((r, i) => {
          const where = r.chunk > 0 ? ` (chunk ${r.chunk}, chars ${r.start}-${r.end})` : "";
          return `${i + 1}. [${r.id}]${where} score ${r.score.toFixed(3)}: ${r.snippet}`;
        });
        const cut = truncated
          ? `\nSome texts were cut to max_chars=${args.max_chars}; get_documents with their ids returns them whole.`
          : "";
        const text =
          results.length === 0
            ? `No documents in "${args.collection}" matched${args.where ? " the where filter" : ""}${args.min_score !== undefined ? ` with score ≥ ${args.min_score}` : ""}.`
            : `${results.length} result(s) from "${args.collection}" (${args.mode}):\n${lines.join("\n")}${cut}`;
        const long = queryTruncated
          ? "\nThe query is longer than the model's window; only its first part was used for meaning. Use a shorter query."
          : "";
        return toolResult(
          {
            collection: args.collection,
            mode: args.mode,
            results,
            truncated,
            query_truncated: queryTruncated,
          },
          text + long,
        );
      }),
  );
}

/** Shapes results for an agent's context: a snippet each, and texts cut so all of them fit `maxChars`. */
export function fitToBudget(found: SearchResult[], query: string, includeText: boolean, maxChars: number) {
  let left = maxChars;
  let truncated = false;
  const results = found.map((r) => {
    const snippet = bestSnippet(r.text, query, SNIPPET_CHARS);
    left -= snippet.length;
    const base = {
      id: r.id,
      chunk: r.chunk,
      start: r.start,
      end: r.end,
      snippet,
      text_chars: r.text.length,
      score: r.score,
      distance: r.distance,
      ...(r.weightedScore === undefined ? {} : { weighted_score: r.weightedScore }),
      matched_by: r.matchedBy,
      metadata: r.metadata,
      created_at: r.createdAt,
      updated_at: r.updatedAt,
    };
    if (!includeText) return { ...base, truncated: false };
    const room = Math.max(0, left);
    const cut = r.text.length > room;
    truncated ||= cut;
    const text = cut ? r.text.slice(0, room) : r.text;
    left -= text.length;
    return { ...base, text, truncated: cut };
  });
  return { results, truncated };
}

/** The window of `text` around the first query word it contains (else its start), on word boundaries. */
export function bestSnippet(text: string, query: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  if (flat.length <= max) return flat;
  const lower = flat.toLowerCase();
  const words = query.toLowerCase().match(/[\p{L}\p{N}]{3,}/gu) ?? [];
  const hit =
    words
      .map((w) => lower.indexOf(w))
      .filter((i) => i >= 0)
      .sort((a, b) => a - b)[0] ?? 0;
  let start = Math.max(0, hit - Math.floor(max / 3));
  if (start > 0) start = flat.indexOf(" ", start) + 1 || start;
  const end = Math.min(flat.length, start + max - 2);
  return `${start > 0 ? "…" : ""}${flat.slice(start, end).trim()}${end < flat.length ? "…" : ""}`;
}
