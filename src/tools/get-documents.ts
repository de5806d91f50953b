import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { documentTimes, getDocumentsInput, metadataValue } from "../contract/index.js";
import type { ToolDeps } from "./deps.js";
import { runTool, snippet, toolResult } from "./result.js";

const outputSchema = z.object({
  collection: z.string().describe("The collection."),
  documents: z
    .array(
      z.object({
        id: z.string().describe("Document id."),
        text: z.string().describe("The stored text, whole (a long document's chunks put back together)."),
        metadata: z.record(z.string(), metadataValue).describe("The document's metadata as stored."),
        chunks: z
          .number()
          .int()
          .describe(
            "Chunks the document is stored as: more than 1 if it was longer than the model's window.",
          ),
        ...documentTimes,
      }),
    )
    .describe("The documents: in the order of `ids`, or when paging in order_by's order (id by default)."),
  not_found: z.array(z.string()).describe("Requested ids that do not exist."),
  next_cursor: z
    .string()
    .nullable()
    .describe("Pass as `cursor` to get the next page; null on the last page."),
  total: z.number().int().describe("How many documents match in all."),
});

export function registerGetDocuments(server: McpServer, deps: ToolDeps): void {
  server.registerTool(
    "get_documents",
    {
      title: "Get documents",
      description:
        "Fetch stored documents exactly, by id or by metadata filter, without a similarity search; page through a whole collection with limit and cursor. " +
        'Example: {"collection": "notes", "ids": ["n1"]} or {"collection": "notes", "where": {"topic": "ops"}, "limit": 50}',
      inputSchema: getDocumentsInput,
      outputSchema,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args) =>
      runTool(deps.logger, "get_documents", async () => {
        const result = await deps.memory.getDocuments(
          args.collection,
          args.ids
            ? { ids: args.ids }
            : { where: args.where, limit: args.limit, cursor: args.cursor, orderBy: args.order_by },
        );
        const lines = result.documents.map((d) => `[${d.id}] ${snippet(d.text, 200)}`);
        const more = result.nextCursor ? ` More: pass cursor "${result.nextCursor}".` : "";
        const missing =
          result.notFound.length > 0 ? ` Not found: ${result.notFound.slice(0, 20).join(", ")}.` : "";
        const text = `${result.documents.length} of ${result.total} document(s) from "${args.collection}".${missing}${more}${lines.length > 0 ? `\n${lines.join("\n")}` : ""}`;
        return toolResult(
          {
            collection: args.collection,
            documents: result.documents.map(({ createdAt, updatedAt, ...doc }) => ({
              ...doc,
              created_at: createdAt,
              updated_at: updatedAt,
            })),
            not_found: result.notFound,
            next_cursor: result.nextCursor,
            total: result.total,
          },
          text,
        );
      }),
  );
}
