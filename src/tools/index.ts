import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { registerAddDocuments } from "./add-documents.js";
import { registerDelete } from "./delete.js";
import type { ToolDeps } from "./deps.js";
import { registerGetDocuments } from "./get-documents.js";
import { registerListCollections } from "./list-collections.js";
import { registerSearchSimilar } from "./search-similar.js";
import { registerUpdateDocuments } from "./update-documents.js";

export type { ToolDeps } from "./deps.js";

export function registerTools(server: McpServer, deps: ToolDeps): void {
  registerAddDocuments(server, deps);
  registerSearchSimilar(server, deps);
  registerGetDocuments(server, deps);
  registerUpdateDocuments(server, deps);
  registerDelete(server, deps);
  registerListCollections(server, deps);
}
