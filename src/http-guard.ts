import type { IncomingMessage } from "node:http";

/**
 * Host and Origin checks for a loopback HTTP server, shared by /mcp (src/http.ts) and the web UI
 * (src/ui/): against DNS rebinding, a request must name this server by one of its own loopback
 * names in Host, and a browser's Origin must be this server or one explicitly allowed.
 */
export interface LoopbackGuard {
  /** Why the request is refused (answer 403 with it), or undefined when Host and Origin are fine. */
  refusal(req: IncomingMessage): string | undefined;
  /** The URL base that names this server, e.g. http://127.0.0.1:7821. */
  base: string;
}

export function loopbackGuard(
  host: string,
  port: number,
  extraOrigins: readonly string[] = [],
): LoopbackGuard {
  const names = ["127.0.0.1", "localhost", "[::1]", host.includes(":") ? `[${host}]` : host];
  const allowedHosts = new Set(names.map((name) => `${name}:${port}`.toLowerCase()));
  const allowedOrigins = new Set([
    ...[...allowedHosts].map((h) => `http://${h}`),
    ...extraOrigins.map((o) => o.toLowerCase()),
  ]);
  return {
    base: `http://${names[3]}:${port}`,
    refusal(req) {
      if (!allowedHosts.has((req.headers.host ?? "").toLowerCase())) return "Host not allowed";
      const origin = req.headers.origin;
      if (origin !== undefined && !allowedOrigins.has(origin.toLowerCase())) return "Origin not allowed";
      return undefined;
    },
  };
}
