import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { LIMITS } from "../limits.js";
import type { ToolDeps } from "./index.js";
import { progressSender, runTool, snippet, toolResult } from "./result.js";
import { collectionName, metadataValue, whereFilter } from "./schemas.js";

const inputSchema = z.object({
  collection: collectionName,
  query: z
    .string()
    .max(LIMITS.queryChars)
    .refine((q) => q.trim().length > 0, { message: "query must not be empty" })
    .describe("What to look for, in natural language; matched by meaning, not keywords."),
  n_results: z
    .number()
    .int()
    .min(1)
    .max(LIMITS.nResultsMax)
    .default(LIMITS.nResultsDefault)
    .describe(`How many results to return (1-${LIMITS.nResultsMax}, default ${LIMITS.nResultsDefault}).`),
  where: whereFilter.optional(),
});

const outputSchema = z.object({
  collection: z.string().describe("The collection searched."),
  results: z
    .array(
      z.object({
        id: z.string().describe("Document id."),
        text: z.string().describe("The stored text."),
        score: z.number().describe("Cosine similarity to the query (higher is closer, at most 1)."),
        distance: z.number().describe("Cosine distance, 1 - score (as Chroma reports it)."),
        metadata: z.record(z.string(), metadataValue).describe("The document's metadata as stored."),
      }),
    )
    .describe("Matches, best first."),
});

const TEXT_SNIPPET_CHARS = 300;

export function registerSearchSimilar(server: McpServer, deps: ToolDeps): void {
  server.registerTool(
    "search_similar",
    {
      title: "Search by meaning",
      description:
        "Find the stored documents closest in meaning to a query, best first, optionally only those whose metadata matches `where`. " +
        'Example: {"collection": "notes", "query": "where is the deploy key?", "n_results": 3, "where": {"topic": "ops"}}',
      inputSchema,
      outputSchema,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args, extra) =>
      runTool(deps.logger, "search_similar", async () => {
        const results = await deps.memory.search(args.collection, args.query, {
          limit: args.n_results,
          where: args.where,
          onProgress: progressSender(extra),
        });
        const lines = results.map(
          (r, i) => `${i + 1}. [${r.id}] score ${r.score.toFixed(3)}: ${snippet(r.text, TEXT_SNIPPET_CHARS)}`,
        );
        const text =
          results.length === 0
            ? `No documents in "${args.collection}" matched${args.where ? " the where filter" : ""}.`
            : `${results.length} result(s) from "${args.collection}":\n${lines.join("\n")}`;
        return toolResult({ collection: args.collection, results }, text);
      }),
  );
}
