/**
 * The shared daemon: one process per database location that every stdio relay on the machine
 * attaches to, so one store, one vector cache and one model serve all editor windows. Each
 * connection gets its own McpServer (its own session: initialize, progress, cancellation,
 * logging level, resource notifications) over a SocketTransport, all sharing one memory.
 */
import { chmodSync, unlinkSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import lockfile from "proper-lockfile";
import type { Logger } from "../logger.js";
import { checkSocket, type DaemonPlace, secureSocketDir } from "./location.js";
import { type ClientOpening, type DaemonHello, HELLO_TAG, reachDaemon } from "./protocol.js";
import { SocketTransport } from "./socket-transport.js";

export interface DaemonOptions {
  place: DaemonPlace;
  version: string;
  /** Exit after this long with no connection. */
  idleMs: number;
  logger: Logger;
  /** A fresh MCP server for each connection; all of them share one memory. */
  makeServer: () => McpServer;
  /** Closes the shared memory (store, models) once every session is closed. */
  close: () => Promise<void>;
}

export type DaemonStart =
  | { kind: "serving"; stopped: Promise<string> }
  /** A live daemon already serves this place: this one is not needed. */
  | { kind: "another"; pid: number | undefined };

/** Problems that stop a daemon from starting; the relay then serves in-process. */
export class DaemonStartError extends Error {
  override readonly name = "DaemonStartError";
}

const OPENING_TIMEOUT_MS = 5000;

export async function startDaemon(options: DaemonOptions): Promise<DaemonStart> {
  const { place, logger } = options;
  const dirProblem = secureSocketDir(place.socketDir);
  if (dirProblem) throw new DaemonStartError(dirProblem);
  const startedAt = new Date().toISOString();
  const connections = new Set<Socket>();
  const sessions = new Set<McpServer>();
  let idleTimer: NodeJS.Timeout | undefined;
  let closing = false;
  let resolveStopped: (why: string) => void = () => undefined;
  const stopped = new Promise<string>((resolve) => (resolveStopped = resolve));

  const hello = (): DaemonHello => ({
    [HELLO_TAG]: 1,
    version: options.version,
    pid: process.pid,
    clients: connections.size - 1,
    fingerprint: place.fingerprint,
    location: place.location,
    startedAt,
    log: place.logPath,
    rssBytes: process.memoryUsage.rss(),
  });

  const armIdle = () => {
    clearTimeout(idleTimer);
    if (connections.size > 0 || closing) return;
    idleTimer = setTimeout(() => void shutdown("idle", true), options.idleMs);
  };

  const server: Server = createServer((socket) => {
    if (closing) {
      socket.destroy();
      return;
    }
    connections.add(socket);
    clearTimeout(idleTimer);
    socket.on("error", () => undefined);
    socket.once("close", () => {
      connections.delete(socket);
      armIdle();
    });
    socket.write(`${JSON.stringify(hello())}\n`);
    readOpening(socket)
      .then(({ opening, rest }) => {
        if (opening?.op === "attach") return attach(socket, rest);
        socket.end();
        // The asker's own connection does not keep an "if idle" stop from happening.
        connections.delete(socket);
        if (opening?.op === "stop") void shutdown("stop requested", opening.ifIdle === true);
      })
      .catch(() => socket.destroy());
  });

  const attach = async (socket: Socket, rest: Buffer) => {
    const mcp = options.makeServer();
    sessions.add(mcp);
    const transport = new SocketTransport(socket, rest);
    const onclose = transport.onclose;
    transport.onclose = () => {
      sessions.delete(mcp);
      onclose?.();
    };
    await mcp.connect(transport);
    logger.debug(`client attached (${connections.size} connected)`);
    socket.once("close", () => void mcp.close().catch(() => undefined));
  };

  /**
   * Unbinds under the lock a starting daemon takes to bind, so a relay attaching during the
   * exit either reaches this daemon before it stops listening or finds the place free and
   * starts a new one; never a socket file that a new daemon made and this one removes.
   */
  const shutdown = async (why: string, onlyIfIdle: boolean) => {
    if (closing) return;
    const release = await lock(place.lockPath);
    try {
      if (closing || (onlyIfIdle && connections.size > 0)) return;
      closing = true;
      clearTimeout(idleTimer);
      // Stops listening (and removes the socket file) at once; the connection count is zero
      // for an idle exit, and a stop or SIGTERM cuts whoever is attached.
      server.close();
      for (const socket of connections) socket.destroy();
    } finally {
      await release();
    }
    logger.info(`stopping (${why})`);
    await Promise.all([...sessions].map((s) => s.close().catch(() => undefined)));
    await options.close().catch((error: unknown) => logger.error(`close failed: ${String(error)}`));
    resolveStopped(why);
  };

  const release = await lock(place.lockPath);
  try {
    const existing = checkSocket(place.socketPath);
    if (typeof existing === "object") throw new DaemonStartError(existing.refused);
    if (existing === "ok") {
      const reached = await reachDaemon(place.socketPath, 2000);
      if (reached.kind === "daemon") {
        reached.socket.destroy();
        return { kind: "another", pid: reached.hello.pid };
      }
      // Accepted but silent: a live daemon whose event loop is busy (loading a model). Only a
      // refused connection proves the file stale.
      if (reached.why === "no hello within the timeout" && reached.listening)
        return { kind: "another", pid: undefined };
      logger.info(`replacing a stale socket ${place.socketPath} (${reached.why})`);
      unlinkSync(place.socketPath);
    }
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      // The socket file is made (synchronously, in listen) with this mask, so it is never open to
      // others, not even for an instant; the database files keep the user's own mask.
      const mask = process.umask(0o077);
      try {
        server.listen(place.socketPath, () => resolve());
      } finally {
        process.umask(mask);
      }
    });
    chmodSync(place.socketPath, 0o600);
  } finally {
    await release();
  }
  process.on("SIGTERM", () => void shutdown("SIGTERM", false));
  process.on("SIGINT", () => void shutdown("SIGINT", false));
  armIdle();
  logger.info(
    `v${options.version} daemon (pid ${process.pid}) listening on ${place.socketPath} for ${place.location}; exits after ${options.idleMs / 1000} s without clients`,
  );
  return { kind: "serving", stopped };
}

function lock(file: string): Promise<() => Promise<void>> {
  return lockfile.lock(file, {
    realpath: false,
    stale: 10_000,
    retries: { retries: 300, minTimeout: 5, maxTimeout: 100 },
  });
}

/** The client's first line, and whatever came after it in the same read. */
function readOpening(socket: Socket): Promise<{ opening: ClientOpening | undefined; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buffer: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => done(new Error("no opening line")), OPENING_TIMEOUT_MS);
    const done = (error?: Error, value?: { opening: ClientOpening | undefined; rest: Buffer }) => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onClose);
      socket.pause();
      if (error) reject(error);
      else if (value) resolve(value);
    };
    const onClose = () => done(new Error("closed"));
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const nl = buffer.indexOf(10);
      if (nl < 0) {
        if (buffer.length > 4096) done(new Error("opening line too long"));
        return;
      }
      let opening: ClientOpening | undefined;
      try {
        const parsed = JSON.parse(buffer.subarray(0, nl).toString("utf8")) as Partial<ClientOpening>;
        if (parsed[HELLO_TAG] === 1 && ["attach", "status", "stop"].includes(String(parsed.op)))
          opening = parsed as ClientOpening;
      } catch {
        opening = undefined;
      }
      done(undefined, { opening, rest: buffer.subarray(nl + 1) });
    };
    socket.on("data", onData);
    socket.on("close", onClose);
  });
}
