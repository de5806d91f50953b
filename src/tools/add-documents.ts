import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { addDocumentsInput, modelRecord } from "../contract/index.js";
import type { ToolDeps } from "./deps.js";
import { progressSender, runTool, toolResult } from "./result.js";

const outputSchema = z.object({
  collection: z.string().describe("The collection written to."),
  ids: z.array(z.string()).describe("Ids of the documents, in input order (generated ones included)."),
  chunks: z
    .array(z.number().int())
    .describe(
      "Chunks each document was stored as, in the order of ids: 1 if it fit the model's window, more if it was split. Search finds each chunk; get, update and delete act on the whole document.",
    ),
  added: z.number().int().describe("Documents that were new."),
  replaced: z.number().int().describe("Documents that replaced an existing one with the same id."),
  created: z.boolean().describe("Whether this call created the collection."),
  model: modelRecord,
  duplicates: z
    .array(
      z.object({
        id: z.string().describe("The new document."),
        duplicate_of: z.string().describe("The closest stored document it repeats."),
        score: z.number().describe("Their cosine similarity (1 for the same text)."),
        exact: z.boolean().describe("True when the stored text is exactly the same."),
      }),
    )
    .describe("New documents that repeat a stored one, in input order; empty when none does."),
  skipped: z
    .array(z.string())
    .describe(
      'Ids for which nothing was written because they repeat a stored document (on_duplicate "skip"): a new id is not stored, an id already stored keeps its stored version; their chunks are 0.',
    ),
});

export function registerAddDocuments(server: McpServer, deps: ToolDeps): void {
  server.registerTool(
    "add_documents",
    {
      title: "Add documents",
      description:
        "Store texts in a collection so they can be found later by meaning. Creates the collection on first use. " +
        "Giving an existing id replaces that document. Example: " +
        '{"collection": "notes", "documents": [{"id": "n1", "text": "The deploy key lives in 1Password", "metadata": {"topic": "ops"}}]}',
      inputSchema: addDocumentsInput,
      outputSchema,
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: false,
      },
    },
    (args, extra) =>
      runTool(deps.logger, "add_documents", async () => {
        const onProgress = progressSender(extra);
        const result = await deps.memory.addDocuments(args.collection, args.documents, {
          signal: extra.signal,
          duplicates: { threshold: args.duplicate_threshold, onDuplicate: args.on_duplicate },
          ...(onProgress ? { onProgress } : {}),
        });
        const split = result.chunks.filter((n) => n > 1).length;
        const chunks = result.chunks.reduce((sum, n) => sum + n, 0);
        const stored = result.ids.length - result.skipped.length;
        const repeats = result.duplicates
          .slice(0, 20)
          .map(
            (d) =>
              `${d.id} repeats ${d.duplicateOf} (${d.exact ? "same text" : `cosine ${d.score.toFixed(3)}`})`,
          );
        const summary =
          `Stored ${stored} document(s) in "${result.collection}"` +
          `${result.created ? " (new collection)" : ""}: ${result.added} added, ${result.replaced} replaced.` +
          (split > 0 ? ` ${split} long document(s) were split; ${chunks} chunks in all.` : "") +
          (result.skipped.length > 0
            ? ` Skipped ${result.skipped.length} that repeat stored documents (nothing written for them: an id already stored keeps its stored version).`
            : "") +
          (repeats.length > 0
            ? `\nDuplicates: ${repeats.join("; ")}.${result.skipped.length === 0 ? ' Pass on_duplicate "skip" to leave such documents out, or update_documents to change the stored one.' : ""}`
            : "");
        const { duplicates, ...rest } = result;
        return toolResult(
          {
            ...rest,
            duplicates: duplicates.map((d) => ({
              id: d.id,
              duplicate_of: d.duplicateOf,
              score: d.score,
              exact: d.exact,
            })),
          },
          summary,
        );
      }),
  );
}
