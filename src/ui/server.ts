import { readdirSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { readJson } from "../http.js";
import { type LoopbackGuard, loopbackGuard } from "../http-guard.js";
import type { Logger } from "../logger.js";
import type { VectorMemory } from "../memory.js";
import { handleApi } from "./api.js";
import { IMPORT_BODY_BYTES } from "./curation-api.js";
import { createSessions, sessionCookie } from "./session.js";

export interface UiOptions {
  port: number;
  memory: VectorMemory;
  logger: Logger;
  /** Where the built page, script and styles are (dist/ui/assets, made by `npm run build`). */
  assetsDir?: string;
}

export interface UiHandle {
  /** The server's clean URL. */
  url: string;
  /** The URL to open: carries the one-time login token. */
  loginUrl: string;
  close(): Promise<void>;
}

/** The UI listens on loopback only: it is one person's view of their own memory. */
export const UI_HOST = "127.0.0.1";
const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** What the build writes beside the page: scripts (the entry, its lazily loaded chunks, the map's worker) and styles. */
const ASSET_TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

/**
 * No inline script or style, nothing from elsewhere: with the page's own rendering always using
 * text nodes, this is the second wall against stored HTML ever running.
 */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const SECURITY_HEADERS = {
  "Content-Security-Policy": CSP,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cache-Control": "no-store",
};

/**
 * The web UI's HTTP server. Order of checks: Host and Origin first (the same guard as /mcp, against
 * DNS rebinding), then the login token or session cookie (401 without it), then, for anything but
 * GET, the CSRF header (403). Only then does a request reach the memory.
 */
export async function startUiServer(options: UiOptions): Promise<UiHandle> {
  const ui = createUiHandler(options);
  const server = createServer((req, res) => void ui.handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, UI_HOST, () => resolve());
  });
  const urls = ui.listening(UI_HOST, (server.address() as AddressInfo).port);
  return {
    ...urls,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
    },
  };
}

export interface UiHandler {
  /** Whether a path is the UI's (the page, its assets, its API), for a server that serves more. */
  owns(pathname: string): boolean;
  /** Answers a request; never rejects (a bug is logged and answered 500). */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Called once the server listens: fixes the names it answers to and makes the login token. */
  listening(host: string, port: number): { url: string; loginUrl: string };
}

/**
 * The UI as a request handler, for its own server (`ui`) or beside /mcp (`--http`). It refuses
 * everything until `listening` has told it its host and port.
 */
export function createUiHandler(options: Omit<UiOptions, "port">): UiHandler {
  const dir = options.assetsDir ?? fileURLToPath(new URL("./assets/", import.meta.url));
  const files = new Map<string, { type: string; bytes: Buffer }>();
  let page: string;
  try {
    page = readFileSync(`${dir}/index.html`, "utf8");
    for (const name of readdirSync(dir)) {
      const type = ASSET_TYPES[extname(name)];
      if (type) files.set(`/assets/${name}`, { type, bytes: readFileSync(`${dir}/${name}`) });
    }
    if (!files.has("/assets/app.js")) throw new Error("no app.js");
  } catch {
    throw new Error(`The web UI's files are missing from ${dir}; build them with \`npm run build\`.`);
  }

  let guard: LoopbackGuard | undefined;
  let sessions: ReturnType<typeof createSessions> | undefined;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!guard || !sessions) return send(res, 503, "text/plain", "Starting");
    const refusal = guard.refusal(req);
    if (refusal) return send(res, 403, "text/plain", refusal);
    const url = new URL(req.url ?? "/", guard.base);

    const asset = files.get(url.pathname);
    if (asset && req.method === "GET") return send(res, 200, asset.type, asset.bytes);

    const token = url.searchParams.get("token");
    if (url.pathname === "/" && req.method === "GET" && token !== null) {
      const session = sessions.login(token);
      if (!session) {
        // The link again from a browser that is logged in already: just go in.
        if (sessions.session(req)) return redirectHome(res);
        return send(res, 401, "text/plain", loggedOut("This login link was used already or is wrong."));
      }
      // Redirect to the clean URL, so the token leaves the address bar and the history.
      res.writeHead(303, {
        ...SECURITY_HEADERS,
        Location: "/",
        "Set-Cookie": sessionCookie(sessions.cookieName, session.id),
      });
      res.end();
      return;
    }

    const session = sessions.session(req);
    if (!session) return send(res, 401, "text/plain", loggedOut("Not logged in."));

    if (url.pathname === "/" && req.method === "GET") {
      // The CSRF token goes into the page, where only this origin's script can read it.
      return send(res, 200, "text/html; charset=utf-8", page.replace("__CSRF_TOKEN__", session.csrf));
    }
    if (!url.pathname.startsWith("/api/")) return send(res, 404, "text/plain", "Not found");
    const method = req.method ?? "GET";
    if (method !== "GET" && !sessions.csrfOk(req, session))
      return json(res, 403, { error: "Missing or wrong CSRF token; reload the page." });
    let body: unknown;
    if (method === "POST") {
      const read = await readJson(req, url.pathname === "/api/import" ? IMPORT_BODY_BYTES : MAX_BODY_BYTES);
      if (read.kind !== "ok")
        return json(res, read.kind === "too-large" ? 413 : 400, { error: "Bad JSON body" });
      body = read.value;
    }
    const reply = await handleApi(options.memory, {
      method,
      route: url.pathname.slice(4),
      query: url.searchParams,
      body,
    });
    if (reply.binary) {
      if (reply.filename)
        res.setHeader(
          "Content-Disposition",
          `attachment; filename="${reply.filename.replace(/[^\w.-]/g, "_")}"`,
        );
      return send(res, reply.status, reply.type ?? "application/octet-stream", reply.binary);
    }
    return json(res, reply.status, reply.body);
  }

  return {
    owns: (pathname) => pathname === "/" || pathname.startsWith("/assets/") || pathname.startsWith("/api/"),
    handle: (req, res) =>
      handle(req, res).catch((error: unknown) => {
        options.logger.error(
          `UI request failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        );
        if (!res.headersSent) send(res, 500, "text/plain", "Internal error");
      }),
    listening(host, port) {
      guard = loopbackGuard(host, port);
      sessions = createSessions(port);
      return { url: `${guard.base}/`, loginUrl: `${guard.base}/?token=${sessions.loginToken}` };
    },
  };
}

function redirectHome(res: ServerResponse): void {
  res.writeHead(303, { ...SECURITY_HEADERS, Location: "/" }).end();
}

function loggedOut(why: string): string {
  return `${why} Open the URL that \`vector-memory-mcp ui\` printed; restart it for a new one.\n`;
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { ...SECURITY_HEADERS, "Content-Type": type }).end(body);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, "application/json; charset=utf-8", JSON.stringify(body));
}
