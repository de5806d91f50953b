/**
 * What the server says about itself in `initialize`. Its own module, light on purpose: the stdio
 * relay (src/daemon/relay.ts) answers the handshake with it before the daemon is even up.
 */
import { VERSION } from "./version.js";

export const SERVER_INFO = { name: "vector-memory-mcp", version: VERSION } as const;

export const INSTRUCTIONS = `A persistent vector memory. Store texts with add_documents (they are embedded locally), find them by meaning with search_similar (optionally filtered by metadata), remove them with delete, and see what exists with list_collections. Each collection keeps the embedding model it was made with.`;

/** Every capability, declared up front (McpServer would add tools and completions as they register). */
export const CAPABILITIES = {
  logging: {},
  completions: {},
  resources: { listChanged: true },
  tools: { listChanged: true },
} as const;

/**
 * The SDK's SUPPORTED_PROTOCOL_VERSIONS, copied so the relay need not load the SDK (and zod);
 * tests/unit/server-info.test.ts fails when the SDK's list moves.
 */
export const PROTOCOL_VERSIONS = [
  "2025-11-25",
  "2025-06-18",
  "2025-03-26",
  "2024-11-05",
  "2024-10-07",
] as const;

/** The initialize result, negotiated as the SDK's server does: the client's version if known, else the latest. */
export function initializeResult(requested: unknown) {
  const known = (PROTOCOL_VERSIONS as readonly string[]).includes(String(requested));
  return {
    protocolVersion: known ? String(requested) : PROTOCOL_VERSIONS[0],
    capabilities: CAPABILITIES,
    serverInfo: SERVER_INFO,
    instructions: INSTRUCTIONS,
  };
}
