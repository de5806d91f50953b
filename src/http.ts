import { randomUUID, timingSafeEqual } from "node:crypto";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { type LoopbackGuard, loopbackGuard } from "./http-guard.js";
import type { Logger } from "./logger.js";

export interface HttpOptions {
  host: string;
  port: number;
  /** Every request must carry `Authorization: Bearer <token>`. */
  token: string;
  /** Origins (scheme://host:port) allowed besides this server's own loopback names. */
  allowedOrigins: string[];
  maxBodyBytes: number;
  logger: Logger;
  /** A fresh MCP server for each session; all of them share one memory. */
  makeServer: () => McpServer;
  /**
   * Served beside /mcp (the web UI, src/ui/): the paths it owns skip the bearer token and get its
   * own checks (Host/Origin by the same guard, a session cookie, CSRF). Structural, so this module
   * does not import the UI.
   */
  beside?: {
    owns(pathname: string): boolean;
    handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
    listening(host: string, port: number): { loginUrl: string };
  };
}

export interface HttpHandle {
  url: string;
  /** The web UI's login URL, when `beside` is given. */
  besideLoginUrl?: string;
  close(): Promise<void>;
}

export const MCP_PATH = "/mcp";
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

/**
 * MCP streamable HTTP, so several agents can share one memory. Security order: the bearer token
 * first (a wrong or missing one gets a bare 401), then Host and Origin (against DNS rebinding:
 * a web page cannot reach a loopback server under a name it controls), then the MCP session.
 */
export async function startHttpServer(options: HttpOptions): Promise<HttpHandle> {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const expected = Buffer.from(`Bearer ${options.token}`);

  const server = createHttpServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      options.logger.error(
        `HTTP request failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
      if (!res.headersSent) res.writeHead(500).end();
    });
  });

  // Known once the port is bound (port 0 picks one).
  let guard: LoopbackGuard | undefined;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const pathname = new URL(req.url ?? "/", "http://x").pathname;
    if (options.beside && pathname !== MCP_PATH && options.beside.owns(pathname))
      return options.beside.handle(req, res);
    const auth = Buffer.from(req.headers.authorization ?? "");
    if (auth.length !== expected.length || !timingSafeEqual(auth, expected)) {
      res.writeHead(401, { "WWW-Authenticate": 'Bearer realm="vector-memory-mcp"' }).end();
      return;
    }
    const refusal = guard ? guard.refusal(req) : "Not listening yet";
    if (refusal) {
      res.writeHead(403).end(refusal);
      return;
    }
    if (pathname !== MCP_PATH) {
      res.writeHead(404).end();
      return;
    }

    const sessionId = req.headers["mcp-session-id"];
    const existing = typeof sessionId === "string" ? sessions.get(sessionId) : undefined;
    if (req.method !== "POST") {
      if (!existing) {
        res.writeHead(sessionId ? 404 : 400).end();
        return;
      }
      await existing.handleRequest(req, res);
      return;
    }

    const body = await readJson(req, options.maxBodyBytes);
    if (body.kind === "too-large") {
      res.writeHead(413).end(`Request body over ${options.maxBodyBytes} bytes`);
      return;
    }
    if (body.kind === "invalid") {
      jsonRpcError(res, 400, -32700, "Parse error: the body is not JSON");
      return;
    }
    if (existing) {
      await existing.handleRequest(req, res, body.value);
      return;
    }
    if (sessionId !== undefined) {
      jsonRpcError(res, 404, -32001, "Session not found; start a new one with initialize");
      return;
    }
    if (!isInitializeRequest(body.value)) {
      jsonRpcError(res, 400, -32000, "No session: the first request must be initialize");
      return;
    }
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, transport);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await options.makeServer().connect(transport);
    await transport.handleRequest(req, res, body.value);
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  guard = loopbackGuard(options.host, port, options.allowedOrigins);
  const url = `${guard.base}${MCP_PATH}`;
  const beside = options.beside?.listening(options.host, port);
  return {
    url,
    ...(beside ? { besideLoginUrl: beside.loginUrl } : {}),
    async close() {
      await Promise.all([...sessions.values()].map((t) => t.close().catch(() => undefined)));
      sessions.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
    },
  };
}

export type Body = { kind: "ok"; value: unknown } | { kind: "too-large" } | { kind: "invalid" };

/** The request's JSON body, read up to `limit` bytes. */
export async function readJson(req: IncomingMessage, limit: number): Promise<Body> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) return { kind: "too-large" };
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return { kind: "too-large" };
    chunks.push(chunk as Buffer);
  }
  try {
    return { kind: "ok", value: JSON.parse(Buffer.concat(chunks).toString("utf8")) };
  } catch {
    return { kind: "invalid" };
  }
}

function jsonRpcError(res: ServerResponse, status: number, code: number, message: string): void {
  res
    .writeHead(status, { "Content-Type": "application/json" })
    .end(JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null }));
}
