import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Logger } from "./logger.js";
import type { VectorMemory } from "./memory.js";
import { registerTools } from "./tools/index.js";
import { VERSION } from "./version.js";

export interface ServerDeps {
  memory: VectorMemory;
  logger: Logger;
}

const INSTRUCTIONS = `A persistent vector memory. Store texts with add_documents (they are embedded locally), find them by meaning with search_similar (optionally filtered by metadata), remove them with delete, and see what exists with list_collections. Each collection keeps the embedding model it was made with.`;

/** Builds the MCP server with every tool registered. No I/O happens here. */
export function createServer(deps: ServerDeps): McpServer {
  const server = new McpServer(
    { name: "vector-memory-mcp", version: VERSION },
    { instructions: INSTRUCTIONS },
  );
  registerTools(server, deps);
  return server;
}
