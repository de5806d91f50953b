import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Logger } from "./logger.js";
import type { VectorMemory } from "./memory.js";
import { registerResources } from "./resources.js";
import { CAPABILITIES, INSTRUCTIONS, SERVER_INFO } from "./server-info.js";
import { registerTools } from "./tools/index.js";

export interface ServerDeps {
  memory: VectorMemory;
  logger: Logger;
}

/**
 * Builds the MCP server with every tool and resource registered, its log lines forwarded as
 * `notifications/message` (filtered by the client's `logging/setLevel`) and collection changes
 * announced as `notifications/resources/list_changed`. No I/O happens here.
 */
export function createServer(deps: ServerDeps): McpServer {
  const server = new McpServer(
    { ...SERVER_INFO },
    { instructions: INSTRUCTIONS, capabilities: structuredClone(CAPABILITIES) },
  );
  registerTools(server, deps);
  registerResources(server, deps.memory);
  const unsubscribe = [
    deps.logger.onLog((level, message) => {
      if (!server.isConnected()) return;
      // A failed notification is dropped, never logged: logging it would loop back here.
      const mcpLevel = level === "warn" ? "warning" : level;
      server.server
        .sendLoggingMessage({ level: mcpLevel, logger: "vector-memory-mcp", data: message })
        .catch(() => undefined);
    }),
    deps.memory.onCollectionsChanged(() => {
      if (server.isConnected()) server.sendResourceListChanged();
    }),
  ];
  const onclose = server.server.onclose;
  server.server.onclose = () => {
    for (const stop of unsubscribe) stop();
    onclose?.();
  };
  return server;
}
