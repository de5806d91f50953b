import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { deleteInput, LIMITS } from "../contract/index.js";
import type { DeleteRequest } from "../memory.js";
import type { ToolDeps } from "./deps.js";
import { runTool, toolResult } from "./result.js";

const outputSchema = z.object({
  collection: z.string().describe("The collection."),
  deleted: z
    .number()
    .int()
    .describe("How many documents were (or would be) deleted; a long document's chunks all go with it."),
  not_found: z.array(z.string()).describe("Requested ids that were not in the collection."),
  dropped_collection: z
    .boolean()
    .describe("Whether the whole collection was (or, on a dry run, would be) removed."),
  dry_run: z.boolean().describe("True if nothing was deleted and the counts say what would be."),
  ids: z
    .array(z.string())
    .optional()
    .describe(`On a dry run: the ids that would be deleted, sorted (at most ${LIMITS.idsPerCall}).`),
});

export function registerDelete(server: McpServer, deps: ToolDeps): void {
  server.registerTool(
    "delete",
    {
      title: "Delete documents or a collection",
      description:
        "Delete documents by id, by metadata filter, or drop a whole collection; give exactly one of ids, where, drop_collection. Use dry_run: true first to see what a filter would delete. " +
        'Example: {"collection": "notes", "ids": ["n1"]} or {"collection": "notes", "where": {"topic": "obsolete"}}',
      inputSchema: deleteInput,
      outputSchema,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    (args) =>
      runTool(deps.logger, "delete", async () => {
        const request: DeleteRequest = args.ids
          ? { ids: args.ids }
          : args.where
            ? { where: args.where }
            : { dropCollection: true };
        const result = await deps.memory.delete(args.collection, request, { dryRun: args.dry_run });
        const structured = {
          collection: args.collection,
          deleted: result.deleted,
          not_found: result.notFound,
          dropped_collection: result.droppedCollection,
          dry_run: result.dryRun,
          ...(result.ids ? { ids: result.ids } : {}),
        };
        if (result.dryRun) {
          const sample = (result.ids ?? []).slice(0, 20).join(", ");
          return toolResult(
            structured,
            `Dry run: would delete ${result.deleted} document(s) from "${args.collection}"${result.droppedCollection ? " and drop the collection" : ""}. Nothing was deleted.${sample ? ` Ids: ${sample}${result.deleted > 20 ? ", …" : ""}.` : ""}`,
          );
        }
        const text = result.droppedCollection
          ? `Dropped collection "${args.collection}" (${result.deleted} document(s)).`
          : `Deleted ${result.deleted} document(s) from "${args.collection}".` +
            (result.notFound.length > 0
              ? ` Not found: ${result.notFound.slice(0, 20).join(", ")}${result.notFound.length > 20 ? ", …" : ""}.`
              : "");
        return toolResult(structured, text);
      }),
  );
}
