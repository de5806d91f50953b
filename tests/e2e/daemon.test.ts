/**
 * The shared daemon, through real SDK clients over stdio spawning the built entry as editors do
 * (tests/support/daemon.ts gives each test its own database, socket and data directories).
 */
import { execFile, spawn } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import {
  LoggingMessageNotificationSchema,
  ResourceListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import {
  type DaemonWorkspace,
  type DaemonWorkspaceOptions,
  daemonWorkspace,
  eventually,
} from "../support/daemon.js";
import { findRadosgw } from "../support/radosgw.js";
import { CLI, type StdioServer, spawnServer } from "../support/stdio.js";

const run = promisify(execFile);
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const radosgw = await findRadosgw();

function workspace(options?: DaemonWorkspaceOptions): DaemonWorkspace {
  const ws = daemonWorkspace(options);
  cleanups.push(() => ws.cleanup());
  return ws;
}

const docs = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${i}`,
    text: `${prefix} note number ${i} about topic ${i % 7}`,
  }));

type Found = { results: Array<{ id: string }> };

/**
 * The SDK client dispatches a progress notification a microtask after reading it but handles a
 * response at once, so progress read in the same chunk as its call's answer, or sent after a
 * cancellation, is reported as "unknown token". That is the client's, not a fault on the way.
 */
const notLateProgress = (error: Error) =>
  !error.message.includes("progress notification for an unknown token");

/** A socket file nobody listens on, as a daemon killed with -9 leaves it (mode as given). */
async function staleSocket(socketPath: string, mode: number): Promise<void> {
  const script = `process.umask(0o077); require("net").createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, "SIGKILL"))`;
  await new Promise<void>((resolve) => spawn(process.execPath, ["-e", script]).once("exit", () => resolve()));
  chmodSync(socketPath, mode);
}

/** A fake daemon that greets like a real one of `version`, counts `clients`, and obeys stop. */
function fakeDaemon(socketPath: string, version: string, clients: number) {
  const script = `
    process.umask(0o077);
    const server = require("net").createServer((s) => {
      s.write(JSON.stringify({ vectorMemoryDaemon: 1, version: ${JSON.stringify(version)}, pid: process.pid,
        clients: ${clients}, fingerprint: "x", location: "x", startedAt: "x", log: "x", rssBytes: 0 }) + "\\n");
      s.on("data", (d) => { if (String(d).includes('"stop"')) { s.end(); server.close(() => process.exit(0)); } });
      s.on("error", () => {});
    });
    server.listen(${JSON.stringify(socketPath)}, () => console.log("listening"));`;
  const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  const listening = new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { child, listening, exited };
}

describe("stdio relays and the shared daemon", () => {
  it("five clients share one daemon: own sessions, progress, cancellation, writes seen by all", async () => {
    const ws = workspace();
    const clients: StdioServer[] = [];
    for (let i = 0; i < 5; i++) clients.push(await ws.relay());
    const [first, second] = clients;
    if (!first || !second) throw new Error("no clients");

    // The relay answers the handshake itself: it must say what the in-process server says.
    const direct = await spawnServer(ws.args);
    cleanups.push(() => direct.close());
    for (const c of clients) {
      expect(c.client.getServerCapabilities()).toEqual(direct.client.getServerCapabilities());
      expect(c.client.getServerVersion()).toEqual(direct.client.getServerVersion());
      expect(c.client.getInstructions()).toBe(direct.client.getInstructions());
    }

    // Resource notifications are per session: the second client hears of the first one's new collection.
    let changed = 0;
    second.client.setNotificationHandler(ResourceListChangedNotificationSchema, () => {
      changed++;
    });
    // Progress per client: each one's own add reports to its own token.
    const progress = await Promise.all(
      clients.map(async (c, i) => {
        const seen: number[] = [];
        const added = await c.client.callTool(
          { name: "add_documents", arguments: { collection: "shared", documents: docs(`c${i}`, 300) } },
          undefined,
          { onprogress: (p) => seen.push(p.progress) },
        );
        expect(added.isError).toBeFalsy();
        return seen;
      }),
    );
    const why = () =>
      `${JSON.stringify(progress)}\n${clients.map((c) => c.stderr()).join("\n")}\n${readFileSync(ws.place.logPath, "utf8")}`;
    for (const seen of progress) expect(seen.length, why()).toBeGreaterThan(0);
    await eventually("the list_changed notification", () => changed > 0);
    expect(ws.daemons()).toHaveLength(1);

    // A write from one is found by every other's next search.
    const added = await first.call("add_documents", {
      collection: "shared",
      documents: [{ id: "needle", text: "the helicopter landing pad is behind the library" }],
    });
    expect(added.isError).toBeFalsy();
    for (const c of clients.slice(1)) {
      const found = await c.call("search_similar", { collection: "shared", query: "helicopter landing pad" });
      expect((found.structuredContent as Found).results[0]?.id).toBe("needle");
    }

    // Cancellation reaches the daemon's session for that client: the call ends, the add stops
    // before its commit (nothing of it is stored), no late answer arrives, and the client goes on.
    const controller = new AbortController();
    const cancelled = second.client.callTool(
      { name: "add_documents", arguments: { collection: "cancel", documents: docs("x", 1000) } },
      undefined,
      { signal: controller.signal, onprogress: () => controller.abort("changed my mind") },
    );
    await expect(cancelled).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const stored = await second.call("get_documents", { collection: "cancel", ids: ["x-0"] });
    expect(stored.isError, "the cancelled add stored nothing").toBe(true);
    expect((await second.call("list_collections", {})).isError).toBeFalsy();
    for (const c of clients) expect(c.transportErrors.filter(notLateProgress)).toEqual([]);
    expect(ws.daemons()).toHaveLength(1);
  });

  it("keeps each client's logging level, also across a new daemon", async () => {
    // A model that cannot load offline: every add logs "loading embedding model" (info) and
    // "failed to load" (warn) in the daemon, which each session forwards at its own level.
    const ws = workspace({ model: "Xenova/not-cached-anywhere" });
    const [quiet, chatty] = [await ws.relay(), await ws.relay()];
    const heard = { quiet: [] as string[], chatty: [] as string[] };
    for (const [name, c] of [
      ["quiet", quiet],
      ["chatty", chatty],
    ] as const)
      c.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
        heard[name].push(n.params.level);
      });
    await quiet.client.setLoggingLevel("error");
    await chatty.client.setLoggingLevel("info");
    const add = (c: StdioServer) => c.call("add_documents", { collection: "l", documents: [{ text: "x" }] });
    const first = await add(quiet);
    expect(first.isError, JSON.stringify(first)).toBe(true);
    await eventually("the chatty client's log lines", () => heard.chatty.includes("warning"));
    expect(heard.quiet).toEqual([]);

    for (const pid of ws.daemons()) process.kill(pid, "SIGKILL");
    await eventually("the daemon gone", () => ws.daemons().length === 0);
    heard.chatty.length = 0;
    // The next call starts a new daemon; the relay gives it the session's level again.
    expect((await add(quiet)).isError).toBe(true);
    expect((await add(chatty)).isError).toBe(true);
    await eventually("the chatty client's log lines", () => heard.chatty.includes("warning"));
    expect(heard.quiet).toEqual([]);
  });

  it("two relays started at the same instant end up with one daemon", async () => {
    const ws = workspace();
    const [a, b] = await Promise.all([ws.relay(), ws.relay()]);
    if (!a || !b) throw new Error("no clients");
    for (const c of [a, b]) expect((await c.call("list_collections", {})).isError).toBeFalsy();
    await eventually("one daemon", () => ws.daemons().length === 1);
    // Both talk to that one: a write from one is visible to the other, whole, even a large one
    // (over 100 KiB each way: many pipe reads per message).
    const many = Array.from({ length: 300 }, (_, i) => ({
      id: `r${i}`,
      text: `${i} ${"raced ".repeat(60)}`,
    }));
    expect((await a.call("add_documents", { collection: "race", documents: many })).isError).toBeFalsy();
    const got = await b.call("get_documents", { collection: "race", ids: many.map((d) => d.id) });
    const texts = (got.structuredContent as { documents: Array<{ id: string; text: string }> }).documents;
    expect(texts.map((d) => d.text).sort()).toEqual(many.map((d) => d.text).sort());
  });

  it("kill -9 of the daemon mid-call: a clear error, then a new daemon, nothing acknowledged lost", async () => {
    const ws = workspace();
    const c = await ws.relay();
    expect(
      (await c.call("add_documents", { collection: "k", documents: docs("kept", 20) })).isError,
    ).toBeFalsy();
    const [pid] = ws.daemons();
    if (!pid) throw new Error("no daemon");
    let killed = false;
    const during = (await c.client.callTool(
      { name: "add_documents", arguments: { collection: "k", documents: docs("doomed", 600) } },
      undefined,
      {
        onprogress: () => {
          if (killed) return;
          killed = true;
          process.kill(pid, "SIGKILL");
        },
      },
    )) as { isError?: boolean; content: Array<{ text: string }> };
    expect(killed).toBe(true);
    expect(during.isError).toBe(true);
    expect(during.content[0]?.text).toMatch(/daemon .* stopped while this call ran.*Repeat the call/s);

    const got = await c.call("get_documents", { collection: "k", ids: docs("kept", 20).map((d) => d.id) });
    expect(got.isError).toBeFalsy();
    expect((got.structuredContent as { documents: unknown[] }).documents).toHaveLength(20);
    const after = ws.daemons();
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(pid);
    // Repeating the failed call is safe.
    expect(
      (await c.call("add_documents", { collection: "k", documents: docs("doomed", 600) })).isError,
    ).toBeFalsy();
    expect(c.transportErrors).toEqual([]);
  });

  it("replaces a stale socket file", async () => {
    const ws = workspace();
    mkdirSync(ws.place.socketDir, { recursive: true, mode: 0o700 });
    await staleSocket(ws.place.socketPath, 0o600);
    const c = await ws.relay();
    expect((await c.call("list_collections", {})).isError).toBeFalsy();
    expect(ws.daemons()).toHaveLength(1);
    expect(c.stderr()).not.toContain("serving in this process");
  });

  it("refuses a socket others may use or another user owns, and serves in-process when no daemon can start", async () => {
    const ws = workspace();
    mkdirSync(ws.place.socketDir, { recursive: true, mode: 0o700 });
    await staleSocket(ws.place.socketPath, 0o666);
    const open = await ws.relay();
    expect((await open.call("list_collections", {})).isError).toBeFalsy();
    expect(open.stderr()).toMatch(/serving in this process.*refusing the daemon socket.*mode 0666/);
    expect(ws.daemons()).toEqual([]);

    if (process.getuid?.() === 0) {
      chmodSync(ws.place.socketPath, 0o600);
      chownSync(ws.place.socketPath, 65534, 65534);
      const foreign = await ws.relay();
      expect((await foreign.call("list_collections", {})).isError).toBeFalsy();
      expect(foreign.stderr()).toMatch(/refusing the daemon socket.*belongs to uid 65534/);
    }
    // No log file can be made (the data dir is a file here): no daemon, and the reason said.
    rmSync(ws.place.socketPath);
    writeFileSync(path.join(ws.dir, "not-a-dir"), "");
    const noLog = await ws.relay({ XDG_DATA_HOME: path.join(ws.dir, "not-a-dir") });
    expect((await noLog.call("list_collections", {})).isError).toBeFalsy();
    expect(noLog.stderr()).toMatch(/serving in this process.*cannot write the daemon's log/);
    chmodSync(ws.place.socketDir, 0o755);
    const dir = await ws.relay();
    expect((await dir.call("list_collections", {})).isError).toBeFalsy();
    expect(dir.stderr()).toMatch(/socket directory is not private.*mode 0755/);
    expect(ws.daemons()).toEqual([]);
  });

  it("never talks to a daemon of another version: leaves a busy one alone, replaces an idle one", async () => {
    const ws = workspace();
    mkdirSync(ws.place.socketDir, { recursive: true, mode: 0o700 });
    const busy = fakeDaemon(ws.place.socketPath, "0.0.1-old", 2);
    cleanups.push(async () => void busy.child.kill("SIGKILL"));
    await busy.listening;
    const c = await ws.relay();
    expect((await c.call("list_collections", {})).isError).toBeFalsy();
    expect(c.stderr()).toMatch(/serving in this process.*version 0\.0\.1-old.*serves 2 other client/);
    busy.child.kill("SIGKILL");
    await busy.exited;
    unlinkSync(ws.place.socketPath);

    const idle = fakeDaemon(ws.place.socketPath, "0.0.1-old", 0);
    cleanups.push(async () => void idle.child.kill("SIGKILL"));
    await idle.listening;
    const d = await ws.relay();
    expect((await d.call("list_collections", {})).isError).toBeFalsy();
    await idle.exited;
    expect(d.stderr()).toMatch(/stopping the idle daemon .* version 0\.0\.1-old/);
    expect(d.stderr()).not.toContain("serving in this process");
    expect(ws.daemons()).toHaveLength(1);
  });

  it("exits when idle; a client attaching around the exit still gets a working daemon", async () => {
    const ws = workspace({ idleSeconds: 0.3 });
    let c = await ws.relay();
    expect((await c.call("list_collections", {})).isError).toBeFalsy();
    await c.close();
    await eventually("the idle exit", () => ws.daemons().length === 0 && !existsSync(ws.place.socketPath));
    // Attach again and again just around the idle time, so some attach while the daemon exits.
    for (const wait of [250, 290, 300, 310, 350]) {
      c = await ws.relay();
      expect((await c.call("list_collections", {})).isError).toBeFalsy();
      await c.close();
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    await eventually("the idle exit", () => ws.daemons().length === 0);
  });

  it("daemon status and daemon stop, for people", async () => {
    const ws = workspace();
    const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...ws.env };
    const none = await run(process.execPath, [CLI, "daemon", "status", ...ws.args], { env }).catch(
      (e: { code: number; stdout: string }) => e,
    );
    expect(none).toMatchObject({ code: 1 });
    expect(none.stdout).toContain("no daemon runs for");
    const c = await ws.relay();
    await c.call("list_collections", {});
    const status = await run(process.execPath, [CLI, "daemon", "status", "--json", ...ws.args], { env });
    expect(JSON.parse(status.stdout)).toMatchObject({
      running: true,
      clients: 1,
      location: ws.dbPath,
      pid: ws.daemons()[0],
    });
    const stopped = await run(process.execPath, [CLI, "daemon", "stop", ...ws.args], { env });
    expect(stopped.stdout).toContain("stopped the daemon");
    // It stays stopped while the attached client is quiet; its next call starts a new one.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(ws.daemons()).toEqual([]);
    expect((await c.call("list_collections", {})).isError).toBeFalsy();
    expect(ws.daemons()).toHaveLength(1);
  });

  it.skipIf(!("bucket" in radosgw))("serves an s3:// database too: one daemon per location", async () => {
    if (!("bucket" in radosgw)) return;
    const remote = (prefix: string) => ({
      dbPath: `s3://${radosgw.bucket}/daemon-${prefix}-${Date.now()}`,
      env: {
        VECTOR_MEMORY_S3_ENDPOINT: radosgw.options.endpoint ?? "",
        VECTOR_MEMORY_S3_ACCESS_KEY_ID: radosgw.options.accessKeyId ?? "",
        VECTOR_MEMORY_S3_SECRET_ACCESS_KEY: radosgw.options.secretAccessKey ?? "",
        VECTOR_MEMORY_S3_ALLOW_HTTP: "1",
      },
    });
    const one = workspace({ remote: remote("one") });
    const other = workspace({ remote: remote("other") });
    const [a, b, c] = [await one.relay(), await one.relay(), await other.relay()];
    expect(
      (
        await a.call("add_documents", {
          collection: "s3",
          documents: [{ id: "m", text: "kept on object storage" }],
        })
      ).isError,
    ).toBeFalsy();
    const got = await b.call("get_documents", { collection: "s3", ids: ["m"] });
    expect((got.structuredContent as { documents: unknown[] }).documents).toHaveLength(1);
    expect((await c.call("get_documents", { collection: "s3", ids: ["m"] })).isError).toBe(true);
    expect(one.daemons()).toHaveLength(1);
    expect(other.daemons()).toHaveLength(1);
    expect(one.daemons()).not.toEqual(other.daemons());
  });
});
