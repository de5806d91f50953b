import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { updateDocumentsInput } from "../contract/index.js";
import type { ToolDeps } from "./deps.js";
import { progressSender, runTool, toolResult } from "./result.js";

const outputSchema = z.object({
  collection: z.string().describe("The collection."),
  updated: z.array(z.string()).describe("Ids of the documents changed."),
  reembedded: z.number().int().describe("How many had a new text and were embedded again."),
  not_found: z.array(z.string()).describe("Ids that do not exist (nothing was created for them)."),
});

export function registerUpdateDocuments(server: McpServer, deps: ToolDeps): void {
  server.registerTool(
    "update_documents",
    {
      title: "Update documents",
      description:
        "Change existing documents by id: merge metadata changes (null removes a key) without re-embedding, or replace the text (re-embedded). Never creates documents; use add_documents for that. " +
        'Example: {"collection": "notes", "documents": [{"id": "n1", "metadata": {"status": "done", "draft": null}}]}',
      inputSchema: updateDocumentsInput,
      outputSchema,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    (args, extra) =>
      runTool(deps.logger, "update_documents", async () => {
        const onProgress = progressSender(extra);
        const result = await deps.memory.updateDocuments(args.collection, args.documents, {
          signal: extra.signal,
          ...(onProgress ? { onProgress } : {}),
        });
        const missing =
          result.notFound.length > 0 ? ` Not found: ${result.notFound.slice(0, 20).join(", ")}.` : "";
        return toolResult(
          {
            collection: result.collection,
            updated: result.updated,
            reembedded: result.reembedded,
            not_found: result.notFound,
          },
          `Updated ${result.updated.length} document(s) in "${result.collection}" (${result.reembedded} re-embedded).${missing}`,
        );
      }),
  );
}
