import { type McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import type { VectorMemory } from "./memory.js";
import type { CollectionInfo } from "./store/vector-store.js";

export const COLLECTIONS_URI = "vector-memory://collections";
/** MCP's error code for a resource that does not exist. */
const RESOURCE_NOT_FOUND = -32002;

function describe(c: CollectionInfo) {
  return {
    name: c.name,
    count: c.count,
    model: c.model.model,
    dtype: c.model.dtype,
    dimensions: c.model.dimensions,
  };
}

/**
 * Collections as MCP resources: the list at vector-memory://collections and one resource per
 * collection (vector-memory://collections/{name}) with its stats, for clients that browse context.
 */
export function registerResources(server: McpServer, memory: VectorMemory): void {
  server.registerResource(
    "collections",
    COLLECTIONS_URI,
    {
      title: "Collections",
      description: "Every collection with its document count and embedding model.",
      mimeType: "application/json",
    },
    async (uri) => ({
      contents: [
        {
          uri: uri.href,
          mimeType: "application/json",
          text: JSON.stringify({ collections: (await memory.listCollections()).map(describe) }, null, 2),
        },
      ],
    }),
  );
  server.registerResource(
    "collection",
    new ResourceTemplate(`${COLLECTIONS_URI}/{name}`, {
      list: async () => ({
        resources: (await memory.listCollections()).map((c) => ({
          uri: `${COLLECTIONS_URI}/${c.name}`,
          name: c.name,
          description: `${c.count} document(s), ${c.model.model} (${c.model.dimensions}-d)`,
          mimeType: "application/json",
        })),
      }),
      complete: {
        name: async (prefix) =>
          (await memory.listCollections()).map((c) => c.name).filter((n) => n.startsWith(prefix)),
      },
    }),
    {
      title: "Collection",
      description: "One collection's stats: document count and embedding model.",
      mimeType: "application/json",
    },
    async (uri, variables) => {
      const name = String(variables.name);
      const info = (await memory.listCollections()).find((c) => c.name === name);
      if (!info) throw new McpError(RESOURCE_NOT_FOUND, `Resource not found: no collection "${name}"`);
      return {
        contents: [
          { uri: uri.href, mimeType: "application/json", text: JSON.stringify(describe(info), null, 2) },
        ],
      };
    },
  );
}
