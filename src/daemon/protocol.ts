/**
 * The few lines a relay and the daemon exchange before MCP flows, one JSON object per line like
 * the MCP messages after them. The daemon speaks first, so a relay can check who it reached
 * before it sends anything.
 */
import { connect, type Socket } from "node:net";

export const HELLO_TAG = "vectorMemoryDaemon";

/** The daemon's first line on every connection. */
export interface DaemonHello {
  [HELLO_TAG]: 1;
  version: string;
  pid: number;
  /** Relays attached right now (not counting this connection). */
  clients: number;
  fingerprint: string;
  location: string;
  startedAt: string;
  log: string;
  rssBytes: number;
}

/** The relay's first line: attach (MCP follows), status (the daemon answers the hello only) or stop. */
export interface ClientOpening {
  [HELLO_TAG]: 1;
  op: "attach" | "status" | "stop";
  /**
   * With "stop": only when no other client is attached (a relay replacing a daemon it saw idle,
   * which a client may have attached to since). A daemon that predates it stops regardless.
   */
  ifIdle?: true;
}

export function openingLine(op: ClientOpening["op"], options: { ifIdle?: true } = {}): string {
  return `${JSON.stringify({ [HELLO_TAG]: 1, op, ...options } satisfies ClientOpening)}\n`;
}

export function isHello(value: unknown): value is DaemonHello {
  return typeof value === "object" && value !== null && (value as Record<string, unknown>)[HELLO_TAG] === 1;
}

export type Reached =
  | { kind: "daemon"; socket: Socket; hello: DaemonHello; rest: Buffer }
  /**
   * Nobody answered (no file, refused, closed before saying hello, or silent). `listening`: the
   * connection was accepted, so some process holds the socket (perhaps a daemon too busy to greet).
   */
  | { kind: "none"; why: string; listening: boolean };

/**
 * Connects and reads the daemon's hello. The socket is returned paused with any bytes that came
 * after the hello in `rest`.
 */
export function reachDaemon(socketPath: string, timeoutMs = 3000): Promise<Reached> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    let buffer: Buffer = Buffer.alloc(0);
    let done = false;
    let listening = false;
    socket.once("connect", () => (listening = true));
    const finish = (result: Reached) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.off("data", onData);
      if (result.kind === "none") socket.destroy();
      else socket.pause();
      resolve(result);
    };
    const timer = setTimeout(
      () => finish({ kind: "none", why: "no hello within the timeout", listening }),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const nl = buffer.indexOf(10);
      if (nl < 0) {
        if (buffer.length > 65_536) finish({ kind: "none", why: "not a vector-memory daemon", listening });
        return;
      }
      let hello: unknown;
      try {
        hello = JSON.parse(buffer.subarray(0, nl).toString("utf8"));
      } catch {
        hello = undefined;
      }
      if (!isHello(hello)) return finish({ kind: "none", why: "not a vector-memory daemon", listening });
      finish({ kind: "daemon", socket, hello, rest: buffer.subarray(nl + 1) });
    };
    socket.on("data", onData);
    socket.on("error", (error: NodeJS.ErrnoException) =>
      finish({ kind: "none", why: error.code ?? error.message, listening }),
    );
    socket.on("close", () => finish({ kind: "none", why: "closed before its hello", listening }));
  });
}
