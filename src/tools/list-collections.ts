import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import type { ToolDeps } from "./deps.js";
import { runTool, toolResult } from "./result.js";

const outputSchema = z.object({
  collections: z
    .array(
      z.object({
        name: z.string().describe("Collection name."),
        count: z
          .number()
          .int()
          .describe("Number of documents (a long document split into chunks counts once)."),
        model: z.string().describe("Embedding model the collection was made with."),
        dtype: z.string().describe("Weight precision of that model."),
        dimensions: z.number().int().describe("Vector length."),
      }),
    )
    .describe("Every collection, sorted by name."),
});

export function registerListCollections(server: McpServer, deps: ToolDeps): void {
  server.registerTool(
    "list_collections",
    {
      title: "List collections",
      description:
        "List every collection with its document count and embedding model. Takes no arguments: {}",
      inputSchema: z.object({}),
      outputSchema,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    () =>
      runTool(deps.logger, "list_collections", async () => {
        const infos = await deps.memory.listCollections();
        const collections = infos.map((c) => ({ name: c.name, count: c.count, ...c.model }));
        const text =
          collections.length === 0
            ? "No collections yet. Use add_documents to create one."
            : collections
                .map((c) => `${c.name}: ${c.count} document(s), ${c.model} (${c.dimensions}-d)`)
                .join("\n");
        return toolResult({ collections }, text);
      }),
  );
}
