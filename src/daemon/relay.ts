/**
 * The stdio entry as editors start it, when a shared daemon serves the database: it answers the
 * MCP handshake itself at once, attaches to the daemon over a Unix socket (starting the daemon
 * if none runs) and relays newline-delimited JSON-RPC both ways. It loads no store, no model and
 * no SDK: only Node's own modules, so it costs little more than a bare Node process.
 *
 * Each relay is its own MCP session in the daemon: the relay replays the client's initialize
 * (and its logging level) to every daemon it attaches to, so a daemon that dies and is replaced
 * gets the same session back. Calls in flight when a daemon dies get a clear error.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, renameSync, statSync } from "node:fs";
import path from "node:path";
import { initializeResult } from "../server-info.js";
import { checkSocket, type DaemonPlace, secureSocketDir } from "./location.js";
import { openingLine, reachDaemon } from "./protocol.js";

type Id = string | number;
export type JsonRpc = {
  jsonrpc: "2.0";
  id?: Id;
  method?: string;
  params?: Record<string, unknown>;
  result?: unknown;
  error?: unknown;
};

/** Where MCP messages go after the handshake: the daemon's socket, or a server in this process. */
export interface Upstream {
  readonly name: string;
  send(message: JsonRpc): void;
  /** Settles once the upstream has let go of what it holds (an in-process app: its compactions). */
  close(): void | Promise<void>;
  onmessage?: (message: JsonRpc) => void;
  /** The other side went away (not called after close()). */
  onclose?: () => void;
}

export interface RelayOptions {
  place: DaemonPlace;
  version: string;
  /** The command line that starts a daemon for this database (this entry with `daemon serve`). */
  daemonCommand: { command: string; args: string[] };
  /**
   * Serves this client in-process as `--no-daemon` does, when no daemon can be used; logs `why`
   * once the configuration is known to be valid (an invalid one ends the process with its message).
   */
  inProcess: (why: string) => Promise<Upstream>;
  /**
   * The full configuration check (it needs zod, so it is loaded only then): a message when the
   * flags or environment are invalid. Run when the client leaves before any session opened, so a
   * bad configuration still exits 1 with its message, as the in-process server does.
   */
  checkConfig: () => Promise<string | undefined>;
  /** How long a starting daemon may take to listen. */
  startTimeoutMs?: number;
  log: (line: string) => void;
}

const INTERNAL = "vmm-relay:";
const MAX_LOG_BYTES = 8 * 1024 * 1024;

export function runRelay(options: RelayOptions): void {
  const { log } = options;
  let initialize: JsonRpc | undefined;
  let logLevel: Record<string, unknown> | undefined;
  let upstream: Upstream | undefined;
  let ready = false;
  let closing = false;
  let connecting: Promise<void> | undefined;
  /** Whether any session ever opened upstream (if not, a leaving client gets the config checked). */
  let opened = false;
  let internalIds = 0;
  /** Messages from the client waiting for the upstream session to be initialized. */
  const queue: JsonRpc[] = [];
  /** Requests the client sent upstream and awaits answers to: method by id. */
  const pending = new Map<Id, string>();
  let whenInitialize: (() => void) | undefined;
  /**
   * Resolves once the client's initialize is answered (or soon, if it is slow to send one): a
   * daemon starting takes the CPU for a second, and the handshake should not wait behind it.
   */
  let onAnswered: () => void = () => undefined;
  const answered = new Promise<void>((resolve) => {
    onAnswered = resolve;
    setTimeout(resolve, 500).unref();
  });

  const toClient = (message: unknown) => {
    process.stdout.write(`${JSON.stringify(message)}\n`);
  };

  const forward = (message: JsonRpc) => {
    if (!upstream || !ready) {
      queue.push(message);
      // After a daemon went away, the next message brings a new one (a stopped daemon stays
      // stopped while the client is quiet).
      if (!connecting) void connect();
      return;
    }
    if (message.id !== undefined && message.method !== undefined) pending.set(message.id, message.method);
    if (message.method === "notifications/cancelled") {
      const id = message.params?.requestId;
      if (typeof id === "string" || typeof id === "number") pending.delete(id);
    }
    upstream.send(message);
  };

  const fromClient = (message: JsonRpc) => {
    if (message.method === "initialize" && message.id !== undefined) {
      initialize = message;
      toClient({ jsonrpc: "2.0", id: message.id, result: initializeResult(message.params?.protocolVersion) });
      whenInitialize?.();
      onAnswered();
      return;
    }
    // The relay sends its own to each daemon, after that daemon answered initialize.
    if (message.method === "notifications/initialized") return;
    if (message.method === "logging/setLevel") logLevel = message.params;
    forward(message);
  };

  const internal = (method: string, params: Record<string, unknown> | undefined): JsonRpc => ({
    jsonrpc: "2.0",
    id: `${INTERNAL}${++internalIds}`,
    method,
    ...(params ? { params } : {}),
  });

  /** Opens the session on a fresh upstream: the client's initialize, initialized, its log level. */
  const handshake = async (next: Upstream) => {
    if (!initialize) await new Promise<void>((resolve) => (whenInitialize = resolve));
    const init = internal("initialize", initialize?.params);
    await new Promise<void>((resolve, reject) => {
      next.onclose = () => reject(new Error(`${next.name} closed during the handshake`));
      next.onmessage = (message) => {
        if (message.id !== init.id) return;
        const answered = (message.result as { protocolVersion?: unknown } | undefined)?.protocolVersion;
        const ours = initializeResult(initialize?.params?.protocolVersion).protocolVersion;
        if (answered !== ours) log(`${next.name} negotiated protocol ${String(answered)}, the relay ${ours}`);
        resolve();
      };
      next.send(init);
    });
    next.onmessage = fromUpstream;
    next.onclose = () => lost(next);
    next.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    if (logLevel) next.send(internal("logging/setLevel", logLevel));
    ready = true;
    opened = true;
    for (const message of queue.splice(0)) forward(message);
  };

  const fromUpstream = (message: JsonRpc) => {
    if (typeof message.id === "string" && message.id.startsWith(INTERNAL)) return;
    // The client's level holds here too: a daemon may log to a session before the level it was
    // sent reaches it (a test saw a "warning" reach a client that asked for "error" only).
    if (message.method === "notifications/message" && belowLevel(message.params?.level, logLevel?.level))
      return;
    if (message.id !== undefined && message.method === undefined) pending.delete(message.id);
    toClient(message);
  };

  const lost = (gone: Upstream) => {
    if (closing || upstream !== gone) return;
    ready = false;
    upstream = undefined;
    log(`${gone.name} went away; ${pending.size} call(s) in flight get an error`);
    for (const [id, method] of pending) toClient(failure(id, method, gone.name, options.place.logPath));
    pending.clear();
  };

  /** Attaches to a daemon (or the in-process server) and opens the session; one attempt at a time. */
  const connect = (): Promise<void> => {
    connecting ??= (async () => {
      for (let failures = 0; ; failures++) {
        const next = await attach(options, answered);
        if (closing) return next.close();
        upstream = next;
        try {
          await handshake(next);
          return;
        } catch (error) {
          // The daemon went away before the session was open: nothing was sent for the client yet.
          upstream = undefined;
          if (failures >= 5) throw new Error(`no daemon kept a session open: ${(error as Error).message}`);
          log(`${(error as Error).message}; trying again`);
        }
      }
    })()
      .catch((error: unknown) => {
        log(`relay failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        process.exit(1);
      })
      .finally(() => {
        connecting = undefined;
      });
    return connecting;
  };

  readLines(process.stdin, (line) => {
    let message: JsonRpc;
    try {
      message = JSON.parse(line) as JsonRpc;
    } catch {
      log(`ignored a line that is not JSON: ${line.slice(0, 80)}`);
      return;
    }
    fromClient(message);
  });
  const shutdown = async () => {
    if (closing) return;
    closing = true;
    await upstream?.close();
    const problem = opened ? undefined : await options.checkConfig().catch(() => undefined);
    if (problem) process.stderr.write(`vector-memory-mcp: ${problem}\n`);
    process.exit(problem ? 1 : 0);
  };
  process.stdin.once("end", shutdown);
  process.stdout.once("error", shutdown);
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
  void connect();
}

/** The answer a call gets when the daemon serving it dies: an isError tool result, or a JSON-RPC error. */
function failure(id: Id, method: string, who: string, logPath: string) {
  const text = `The shared vector-memory daemon (${who}) stopped while this call ran (its log: ${logPath}). Repeat the call: it starts a new daemon. Writes that were acknowledged are stored; repeating add_documents or delete with the same ids is safe.`;
  if (method === "tools/call")
    return { jsonrpc: "2.0", id, result: { content: [{ type: "text", text }], isError: true } };
  return { jsonrpc: "2.0", id, error: { code: -32603, message: text } };
}

/**
 * A daemon to talk to, or the in-process server when none can be used. A daemon of another
 * version or other options is never used: it is stopped and replaced when nobody else uses it,
 * and left alone (this client served in-process) when it has clients.
 */
async function attach(options: RelayOptions, beforeStart: Promise<void>): Promise<Upstream> {
  const { place, log } = options;
  const fallback = (why: string) => options.inProcess(`serving in this process (no shared daemon): ${why}`);
  const dirProblem = secureSocketDir(place.socketDir);
  if (dirProblem) return fallback(`the socket directory is not private: ${dirProblem}`);
  const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
  let child: { process: ChildProcess; exit?: number | string } | undefined;
  let startedOnce = false;
  for (let round = 0; ; round++) {
    const socket = checkSocket(place.socketPath);
    if (typeof socket === "object") return fallback(`refusing the daemon socket: ${socket.refused}`);
    const reached =
      socket === "absent"
        ? ({ kind: "none", why: "no socket", listening: false } as const)
        : await reachDaemon(place.socketPath);
    if (reached.kind === "daemon") {
      const { hello } = reached;
      if (hello.version === options.version && hello.fingerprint === place.fingerprint)
        return socketUpstream(reached.socket, reached.rest, `daemon pid ${hello.pid}`);
      const what =
        hello.version === options.version
          ? `started with other options (model, cache or storage settings)`
          : `of version ${hello.version} (this is ${options.version})`;
      if (hello.clients > 0) {
        reached.socket.destroy();
        return fallback(
          `the daemon for ${place.location} (pid ${hello.pid}) is ${what} and serves ${hello.clients} other client(s); it is left alone (\`vector-memory-mcp daemon stop\` replaces it)`,
        );
      }
      if (Date.now() > deadline)
        return fallback(`the daemon for ${place.location} (pid ${hello.pid}) is ${what} and did not stop`);
      log(`stopping the idle daemon pid ${hello.pid}, ${what}`);
      await stopThrough(reached.socket);
      continue;
    }
    // A daemon that listens but is too busy to say hello in time is waited for, not raced by new
    // ones (each would load the whole program only to find it and exit).
    if (!child && !(reached.listening && startedOnce)) {
      startedOnce = true;
      await beforeStart;
      const started = startDaemon(options);
      if (typeof started === "string") return fallback(started);
      const record: { process: ChildProcess; exit?: number | string } = { process: started };
      started.once("exit", (code, signal) => (record.exit = code ?? signal ?? "unknown"));
      started.once("error", (error) => (record.exit = error.message));
      child = record;
    } else if (child && child.exit !== undefined && child.exit !== 0) {
      return fallback(`the daemon exited (${child.exit}) before listening; see ${place.logPath}`);
    }
    if (Date.now() > deadline) return fallback(`no daemon listened within the timeout; see ${place.logPath}`);
    // A daemon that exited 0 lost a race to another one, which will listen: keep trying.
    if (child?.exit === 0) child = undefined;
    await new Promise((resolve) => setTimeout(resolve, Math.min(25 * 2 ** round, 200)));
  }
}

function startDaemon(options: RelayOptions): ChildProcess | string {
  const { logPath } = options.place;
  let fd: number;
  try {
    mkdirSync(path.dirname(logPath), { recursive: true, mode: 0o700 });
    try {
      if (statSync(logPath).size > MAX_LOG_BYTES) renameSync(logPath, `${logPath}.1`);
    } catch {
      // no log yet
    }
    fd = openSync(logPath, "a", 0o600);
  } catch (error) {
    return `cannot write the daemon's log ${logPath}: ${(error as Error).message}`;
  }
  try {
    const child = spawn(options.daemonCommand.command, options.daemonCommand.args, {
      detached: true,
      stdio: ["ignore", fd, fd],
      env: process.env,
    });
    child.unref();
    return child;
  } catch (error) {
    return `cannot start a daemon: ${(error as Error).message}`;
  } finally {
    closeSync(fd);
  }
}

/** Asks a daemon to stop and waits until it closed the connection. */
function stopThrough(socket: import("node:net").Socket): Promise<void> {
  return new Promise((resolve) => {
    socket.once("close", () => resolve());
    socket.resume();
    socket.write(openingLine("stop", { ifIdle: true }));
    setTimeout(() => {
      socket.destroy();
      resolve();
    }, 5000).unref();
  });
}

function socketUpstream(socket: import("node:net").Socket, rest: Buffer, name: string): Upstream {
  let closed = false;
  const upstream: Upstream = {
    name,
    send(message) {
      socket.write(`${JSON.stringify(message)}\n`);
    },
    close() {
      closed = true;
      socket.end();
    },
  };
  socket.write(openingLine("attach"));
  const feed = readLines(socket, (line) => {
    try {
      upstream.onmessage?.(JSON.parse(line) as JsonRpc);
    } catch {
      // A daemon writes JSON lines only; a broken one is dropped, like the SDK's transport does.
    }
  });
  socket.on("error", () => undefined);
  socket.on("close", () => {
    if (!closed) upstream.onclose?.();
  });
  if (rest.length > 0) feed(rest);
  socket.resume();
  return upstream;
}

/**
 * Calls `onLine` for each newline-terminated line of the stream; returns a feeder for bytes read
 * elsewhere. Chunks without a newline are only collected, so a 16 MiB message costs one copy,
 * not one per chunk.
 */
function readLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): (chunk: Buffer) => void {
  let parts: Buffer[] = [];
  const feed = (chunk: Buffer) => {
    let nl = chunk.indexOf(10);
    if (nl < 0) {
      parts.push(chunk);
      return;
    }
    let rest = chunk;
    while (nl >= 0) {
      const head = rest.subarray(0, nl);
      const line = (parts.length > 0 ? Buffer.concat([...parts, head]) : head)
        .toString("utf8")
        .replace(/\r$/, "");
      parts = [];
      if (line.trim()) onLine(line);
      rest = rest.subarray(nl + 1);
      nl = rest.indexOf(10);
    }
    if (rest.length > 0) parts.push(rest);
  };
  stream.on("data", (chunk: Buffer | string) => feed(typeof chunk === "string" ? Buffer.from(chunk) : chunk));
  return feed;
}

/** MCP's log levels, least severe first (RFC 5424's, as the spec names them). */
const LOG_LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"];

/** Whether a log message at `level` is below the `wanted` one (unknown levels pass). */
export function belowLevel(level: unknown, wanted: unknown): boolean {
  const at = LOG_LEVELS.indexOf(String(level));
  const floor = LOG_LEVELS.indexOf(String(wanted));
  return at >= 0 && floor >= 0 && at < floor;
}
