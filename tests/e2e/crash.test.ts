/**
 * kill -9 of a server process in the middle of writing, then a restart on the same database.
 * README "Guarantees": each add_documents call is one commit, so after a crash it is either wholly
 * there or absent, and repeating it changes nothing. Also: a read-only database directory (a full
 * disk: disk-full.test.ts).
 *
 * STRESS_KILLS=1 adds more kill points (a longer local run).
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { IDLE_MS } from "../../src/store/compaction.js";
import { tempDir } from "../support/harness.js";
import { bindReadOnly } from "../support/mounts.js";
import { CLI, TINY_BERT } from "../support/stdio.js";

const BATCH = 500;
const PRE_EXISTING = 20;
const MORE_KILLS = process.env.STRESS_KILLS === "1";

type Metadata = Record<string, string | number | boolean | string[]>;
interface Doc {
  id: string;
  text: string;
  metadata: Metadata;
}
interface Page {
  /** `chunks` (how many a long text was split into) and the times are left out where documents are compared. */
  documents: Array<Doc & { chunks?: number; created_at?: string | null; updated_at?: string | null }>;
  next_cursor: string | null;
  not_found: string[];
}
interface Listed {
  collections: Array<{ name: string; count: number; model: string; dtype: string; dimensions: number }>;
}
interface Found {
  results: Array<{ id: string; score: number; text?: string; metadata: Metadata }>;
}

/** A server process we can kill: like spawnServer in tests/support/stdio.ts, plus the pid. */
interface Killable {
  pid: number;
  stderr(): string;
  call(
    name: string,
    args: Record<string, unknown>,
    onProgress?: (progress: number) => void,
  ): Promise<CallToolResult>;
  kill(): Promise<void>;
  close(): Promise<void>;
}

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function workspace() {
  const { dir, cleanup } = tempDir("vmm-crash-");
  cleanups.push(cleanup);
  return { dir, dbPath: path.join(dir, "db"), cache: path.join(dir, "cache") };
}

async function start(
  dbPath: string,
  cache: string,
  options: { runAs?: number; logLevel?: string } = {},
): Promise<Killable> {
  const serverArgs = [CLI, "--db-path", dbPath, "--model", TINY_BERT, "--model-cache", cache, "--offline"];
  // runAs: start the server as another (unprivileged) user, so file permissions apply to it.
  const [command, args] =
    options.runAs === undefined
      ? [process.execPath, serverArgs]
      : [
          "setpriv",
          [
            `--reuid=${options.runAs}`,
            `--regid=${options.runAs}`,
            "--clear-groups",
            process.execPath,
            ...serverArgs,
          ],
        ];
  const transport = new StdioClientTransport({
    command,
    args,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      VECTOR_MEMORY_LOG_LEVEL: options.logLevel ?? "info",
      // This process is the one killed: the server in it, not a relay to a daemon.
      VECTOR_MEMORY_NO_DAEMON: "1",
    },
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = new Client({ name: "crash", version: "1.0.0" });
  await client.connect(transport);
  const pid = transport.pid;
  if (pid === null) throw new Error("the server process has no pid");
  // The transport closes when the child process has exited (its stdio closed).
  const exited = new Promise<void>((resolve) => {
    client.onclose = () => resolve();
  });
  const server: Killable = {
    pid,
    stderr: () => stderr,
    call: async (name, callArgs, onProgress) =>
      (await client.callTool(
        { name, arguments: callArgs },
        undefined,
        onProgress ? { onprogress: (p) => onProgress(p.progress) } : undefined,
      )) as CallToolResult,
    kill: async () => {
      process.kill(pid, "SIGKILL");
      await exited;
    },
    close: () => client.close(),
  };
  cleanups.push(() => server.close());
  return server;
}

/** The start of a result's text, enough to say what kind of error it is. */
function brief(result: CallToolResult): string {
  const all = text(result);
  return all.length > 200 ? `${all.slice(0, 200)}…` : all;
}

function text(result: CallToolResult): string {
  return result.content.map((c) => (c.type === "text" ? c.text : `[${c.type}]`)).join("\n");
}

async function ok<T>(server: Killable, name: string, args: Record<string, unknown>): Promise<T> {
  const result = await server.call(name, args);
  if (result.isError) throw new Error(`${name} returned isError: ${text(result)}`);
  return result.structuredContent as T;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Texts long enough that embedding 500 of them takes a moment (most of a second) with the tiny model. */
const WORDS =
  "river stone cloud ember harbor lantern meadow orbit pepper quartz saddle timber velvet willow yonder zephyr".split(
    " ",
  );
function longText(label: string, i: number): string {
  const words = Array.from({ length: 12 }, (_, k) => WORDS[(i * 7 + k * 5 + ((i * k) % 3)) % WORDS.length]);
  return `${label} ${i}: ${words.join(" ")}`;
}

function batch(collection: string): Doc[] {
  return Array.from({ length: BATCH }, (_, i) => ({
    id: `${collection}-big-${i}`,
    text: longText(`${collection} big`, i),
    metadata: { part: "big", i, even: i % 2 === 0, tags: [`t${i % 7}`] },
  }));
}

function preExisting(collection: string): Doc[] {
  return Array.from({ length: PRE_EXISTING }, (_, i) => ({
    id: `${collection}-pre-${i}`,
    text: longText(`${collection} pre`, i),
    metadata: { part: "pre", i },
  }));
}

function withoutChunkCount({
  chunks: _chunks,
  created_at: _c,
  updated_at: _u,
  ...doc
}: Doc & { chunks?: number; created_at?: string | null; updated_at?: string | null }): Doc {
  return doc;
}

/** Every document whose `part` is `part`, paged through get_documents. */
async function stored(server: Killable, collection: string, part: string): Promise<Doc[]> {
  const docs: Doc[] = [];
  let cursor: string | undefined;
  do {
    const page: Page = await ok<Page>(server, "get_documents", {
      collection,
      where: { part },
      limit: 100,
      ...(cursor ? { cursor } : {}),
    });
    docs.push(...page.documents.map(withoutChunkCount));
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return docs;
}

async function collectionInfo(server: Killable, collection: string) {
  const listed = await ok<Listed>(server, "list_collections", {});
  return listed.collections.find((c) => c.name === collection);
}

/** The rows are exactly `sent` (ids once each, texts and metadata as sent) and each is found by its own text. */
async function expectExactly(server: Killable, collection: string, part: string, sent: Doc[], why: string) {
  const docs = await stored(server, collection, part);
  const ids = docs.map((d) => d.id);
  expect(
    ids.filter((id, i) => ids.indexOf(id) !== i),
    `${why}: ids stored twice`,
  ).toEqual([]);
  const byId = new Map(docs.map((d) => [d.id, d]));
  expect(byId.size, `${why}: ${part} rows`).toBe(sent.length);
  for (const doc of sent) expect(byId.get(doc.id), `${why}: ${doc.id}`).toEqual(doc);
  // Vectors intact: a few rows spread over the batch, each searched by its own text.
  const step = Math.max(1, Math.floor(sent.length / 3));
  for (let i = 0; i < sent.length; i += step) {
    const doc = sent[i] as Doc;
    const found = await ok<Found>(server, "search_similar", {
      collection,
      query: doc.text,
      n_results: 3,
      mode: "semantic",
    });
    expect(found.results[0]?.id, `${why}: searching the text of ${doc.id}`).toBe(doc.id);
    expect(found.results[0]?.score).toBeCloseTo(1, 4);
  }
}

/**
 * Where to kill: once progress says this many documents are embedded (the server reports every
 * 64), then after this many ms. Progress, not a timer from the start, places the kill: the
 * embedding speed varies with the machine's load, the step it has reached does not.
 */
interface KillPoint {
  name: string;
  embedded: number;
  delayMs: number;
}

describe("kill -9 of a server in the middle of a large add_documents", () => {
  it("leaves each collection with the whole batch or none of it; the repeated call lands it exactly once", async () => {
    const { dbPath, cache } = workspace();
    let server = await start(dbPath, cache);

    // Measure the call once on a warm server, so the kill points below spread over its duration.
    await ok(server, "add_documents", { collection: "warm", documents: [{ id: "w", text: "warm up" }] });
    const started = Date.now();
    let embeddedAt: number | undefined;
    const measuring = await server.call(
      "add_documents",
      { collection: "measure", documents: batch("measure") },
      (progress) => {
        if (progress >= BATCH + 1) embeddedAt ??= Date.now() - started;
      },
    );
    expect(measuring.isError).toBeFalsy();
    const measured = Date.now() - started;
    const embedding = embeddedAt ?? measured;
    const commit = measured - embedding;
    // Spread over the call: three points while it embeds, then two in the commit that follows
    // (a fraction of the commit time measured here, after the progress notification that
    // reports the last embedded document).
    const embedFractions = MORE_KILLS ? [0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 0.95] : [0.2, 0.5, 0.85];
    const commitFractions = MORE_KILLS ? [0, 0.1, 0.25, 0.5, 0.75, 1, 1.5] : [0.4, 1.2];
    const points: KillPoint[] = [
      ...embedFractions.map((f) => ({
        name: `once ${Math.round(f * 100)}% of the documents are embedded`,
        embedded: Math.round(f * BATCH),
        delayMs: 0,
      })),
      ...commitFractions.map((f) => ({
        name: `${Math.round(f * commit)} ms after the last embedding step`,
        embedded: BATCH,
        delayMs: Math.round(f * commit),
      })),
    ];
    console.info(
      `add_documents of ${BATCH} documents took ${measured} ms on a warm server (embedding ${embedding} ms, commit ${commit} ms); kill points: ${points.map((p) => p.name).join(", ")}`,
    );
    expect(embeddedAt, "progress reports the end of embedding").toBeDefined();

    const report: string[] = [];
    for (const [n, point] of points.entries()) {
      // Alternate: a new collection, and one that already holds acknowledged rows.
      const collection = `crash-${n}`;
      const withPre = n % 2 === 1;
      const pre = withPre ? preExisting(collection) : [];
      if (withPre) await ok(server, "add_documents", { collection, documents: pre });
      const sent = batch(collection);

      let acknowledged = false;
      let reached: number | undefined;
      const callStarted = Date.now();
      let trigger: () => void = () => undefined;
      const killed = new Promise<void>((resolve) => {
        trigger = () => setTimeout(() => void server.kill().then(resolve), point.delayMs);
      });
      const call = server
        .call("add_documents", { collection, documents: sent }, (progress) => {
          // Progress is 1 + documents embedded so far (0-1 is the model load).
          if (reached === undefined && progress - 1 >= point.embedded) {
            reached = Date.now() - callStarted;
            trigger();
          }
        })
        .then((result) => {
          if (!result.isError) acknowledged = true;
        })
        .catch(() => undefined)
        .finally(() => {
          // Answered before the kill point (a failed call, or the point lies past the answer): kill now.
          if (reached === undefined) {
            reached = Date.now() - callStarted;
            trigger();
          }
        });
      await killed;
      await call;
      const why = `kill ${point.name} (${collection}, ${reached} ms into the call)`;

      // Restart on the same directory: it opens, lists, and the collection is whole or without the batch.
      server = await start(dbPath, cache);
      const info = await collectionInfo(server, collection);
      if (withPre) expect(info, `${why}: the collection with acknowledged rows is listed`).toBeDefined();
      if (info) {
        expect(info, `${why}: model record`).toMatchObject({
          model: TINY_BERT,
          dtype: "fp32",
          dimensions: 32,
        });
        const landed = info.count === pre.length + BATCH;
        expect([pre.length, pre.length + BATCH], `${why}: count`).toContain(info.count);
        if (acknowledged) expect(landed, `${why}: an acknowledged batch is there`).toBe(true);
        if (withPre) await expectExactly(server, collection, "pre", pre, `${why}, pre-existing rows`);
        await expectExactly(server, collection, "big", landed ? sent : [], `${why}, after restart`);
        const state = landed ? "batch present" : withPre ? "batch absent" : "collection created, empty";
        report.push(`${why}: ${state}${acknowledged ? " (acknowledged)" : ""}`);
      } else {
        report.push(`${why}: collection absent`);
      }

      // Repeating the interrupted call succeeds and leaves the batch exactly once.
      const again = await ok<{ added: number; replaced: number }>(server, "add_documents", {
        collection,
        documents: sent,
      });
      expect(again.added + again.replaced, `${why}: repeated call`).toBe(BATCH);
      expect((await collectionInfo(server, collection))?.count).toBe(pre.length + BATCH);
      await expectExactly(server, collection, "big", sent, `${why}, after repeating the call`);
      if (withPre)
        await expectExactly(server, collection, "pre", pre, `${why}, pre-existing rows after repeat`);
    }
    // Every collection made along the way is still readable from one process.
    const listed = await ok<Listed>(server, "list_collections", {});
    for (const c of listed.collections)
      expect(c, `collection ${c.name}`).toMatchObject({ model: TINY_BERT, dtype: "fp32", dimensions: 32 });
    console.info(report.join("\n"));
  }, 120_000);

  it("during a background compaction: every acknowledged write survives, exactly once", async () => {
    const { dbPath, cache } = workspace();
    const collection = "compacting";
    const acknowledged: Doc[] = [];
    // 50 one-row writes leave 50 small fragments: due (32), so the store compacts the collection in
    // the background once it has had no writes for IDLE_MS.
    const fiftyWrites = async (server: Killable, run: number) => {
      for (let i = 0; i < 50; i += 1) {
        const doc = {
          id: `r${run}-${i}`,
          text: longText(`run ${run}`, i),
          metadata: { part: "small", run, i },
        };
        await ok(server, "add_documents", { collection, documents: [doc] });
        acknowledged.push(doc);
      }
    };
    const compactions = (server: Killable) => server.stderr().split('compacted "compacting"').length - 1;
    const report: string[] = [];
    const restartAndCheck = async (why: string) => {
      const restarted = await start(dbPath, cache, { logLevel: "debug" });
      expect((await collectionInfo(restarted, collection))?.count, why).toBe(acknowledged.length);
      await expectExactly(restarted, collection, "small", acknowledged, why);
      return restarted;
    };

    // kill -9 just as a compaction starts (in the background, IDLE_MS after the 50th write)...
    let server = await start(dbPath, cache, { logLevel: "debug" });
    await fiftyWrites(server, 0);
    await sleep(IDLE_MS);
    await server.kill();
    report.push(
      `kill ${IDLE_MS} ms after the 50th write (compaction ${compactions(server) > 0 ? "had finished" : "unfinished"})`,
    );
    server = await restartAndCheck("kill as a compaction starts");
    // ...and after one has finished, timing it (the store logs it at debug level).
    await fiftyWrites(server, 1);
    for (let waited = 0; compactions(server) === 0 && waited < 10_000; waited += 10) await sleep(10);
    const took = Number(/compacted "compacting" in (\d+) ms/.exec(server.stderr())?.[1]);
    expect(took, "the store logged the compaction").toBeGreaterThanOrEqual(0);
    await server.kill();
    server = await restartAndCheck("kill after a finished compaction");
    // STRESS_KILLS=1: more kill points, spread over the compaction's measured duration.
    const delays = MORE_KILLS ? [0.25, 0.5, 0.75, 1].map((f) => IDLE_MS + Math.round(f * took)) : [];
    for (const [n, delay] of delays.entries()) {
      await fiftyWrites(server, n + 2);
      await sleep(delay);
      const finished = compactions(server);
      await server.kill();
      report.push(
        `kill ${delay} ms after the 50th write (compaction ${finished > 0 ? "had finished" : "unfinished"})`,
      );
      server = await restartAndCheck(`kill ${delay} ms into a compaction of ~${took} ms`);
    }
    // The collection still takes writes.
    const last = { id: "last", text: longText("last", 0), metadata: { part: "small", run: -1, i: 0 } };
    await ok(server, "add_documents", { collection, documents: [last] });
    acknowledged.push(last);
    await expectExactly(server, collection, "small", acknowledged, "a write after the crashes");
    console.info(`compaction took ${took} ms; ${report.join("; ")}`);
  }, 60_000);
});

describe("a read-only database directory", () => {
  it("during a compaction that runs beside writes: every acknowledged write survives, exactly once", async () => {
    const { dbPath, cache } = workspace();
    const collection = "beside";
    const acknowledged: Doc[] = [];
    // The write in flight when the process died: stored or not, but whole (not acknowledged).
    let inFlight: Doc | undefined;
    let server = await start(dbPath, cache, { logLevel: "debug" });
    const write = async (run: number, i: number) => {
      const doc = {
        id: `b${run}-${i}`,
        text: longText(`beside ${run}`, i),
        metadata: { part: "small", run, i },
      };
      inFlight = doc;
      await ok(server, "add_documents", { collection, documents: [doc] });
      inFlight = undefined;
      acknowledged.push(doc);
    };
    const compactions = () => server.stderr().split(`compacted "${collection}"`).length - 1;
    const report: string[] = [];
    for (const [run, killAfter] of [120, 400].entries()) {
      // 50 one-row writes make a compaction due; it starts IDLE_MS after the last of them...
      for (let i = 0; i < 50; i++) await write(run * 2, i);
      await sleep(IDLE_MS);
      // ...and writes go on beside it until the process is killed.
      let writing = true;
      let during = 0;
      const writer = (async () => {
        for (let i = 0; writing; i++) {
          try {
            await write(run * 2 + 1, i);
            during++;
          } catch {
            return;
          }
        }
      })();
      await sleep(killAfter);
      const finished = compactions();
      await server.kill();
      writing = false;
      await writer;
      report.push(
        `kill ${killAfter} ms into writes beside a compaction (${during} acknowledged, compaction ${finished > 0 ? "had finished" : "unfinished"})`,
      );
      server = await start(dbPath, cache, { logLevel: "debug" });
      const why = `kill ${killAfter} ms into writes beside a compaction`;
      const count = (await collectionInfo(server, collection))?.count;
      expect([acknowledged.length, acknowledged.length + (inFlight ? 1 : 0)], why).toContain(count);
      if (inFlight && count === acknowledged.length + 1) acknowledged.push(inFlight);
      inFlight = undefined;
      await expectExactly(server, collection, "small", acknowledged, why);
    }
    console.info(report.join("; "));
  }, 90_000);

  it("still opens and answers reads; writes come back as tool errors and change nothing", async (ctx) => {
    const { dir, dbPath, cache } = workspace();
    const docs = [0, 1, 2].map((i) => ({
      id: `n${i}`,
      text: longText("note", i),
      metadata: { part: "notes" },
    }));
    const writer = await start(dbPath, cache);
    await ok(writer, "add_documents", { collection: "notes", documents: docs });
    await writer.close();

    execFileSync("chmod", ["-R", "a-w", dbPath]);
    cleanups.push(() => {
      execFileSync("chmod", ["-R", "u+w", dbPath]);
    });
    // root ignores permission bits (tests here run as root): then the directory is bind-mounted
    // onto itself read-only, which stops root too. Where mounting is refused, the database is
    // handed to an unprivileged user, still read-only, and the server runs as that user.
    let runAs: number | undefined;
    let how = "chmod -R a-w";
    if (canWrite(dbPath)) {
      const mounted = bindReadOnly(dbPath);
      if (mounted.reason === undefined) {
        cleanups.push(mounted.unmount);
        how = "a read-only bind mount";
      } else console.info(`read-only bind mount not available, trying another user: ${mounted.reason}`);
    }
    if (canWrite(dbPath)) {
      ctx.skip(
        !(process.getuid?.() === 0 && hasSetpriv()),
        "chmod -R a-w does not stop this user from writing (root), and setpriv is not available to run the server as an unprivileged user: read-only case not tested",
      );
      // A checkout under a private (0700) directory cannot be run by another user at all.
      ctx.skip(
        !canRead(path.resolve("dist/cli.js"), NOBODY),
        "the unprivileged user cannot read this checkout (a parent directory is private): read-only case not tested",
      );
      runAs = NOBODY;
      execFileSync("chown", ["-R", `${NOBODY}:${NOBODY}`, dbPath]);
      // mkdtemp made the workspace 0700; the unprivileged server must be able to reach the database.
      chmodSync(dir, 0o755);
      mkdirSync(cache, { mode: 0o777 });
      chmodSync(cache, 0o777);
      expect(canWrite(dbPath, NOBODY), "the database is read-only to the server's user").toBe(false);
    }
    expect(canWrite(dbPath, runAs), `the database is read-only to the server (${how})`).toBe(false);

    const server = await start(dbPath, cache, { runAs });
    const outcomes: string[] = [
      `read-only by ${how}; ${runAs === undefined ? "server runs as this user" : `server runs as uid ${runAs}`}`,
    ];
    const listed = await ok<Listed>(server, "list_collections", {});
    expect(listed.collections).toEqual([
      { name: "notes", count: 3, model: TINY_BERT, dtype: "fp32", dimensions: 32 },
    ]);
    outcomes.push("list_collections: ok");
    const found = await ok<Found>(server, "search_similar", {
      collection: "notes",
      query: docs[1]?.text,
      mode: "semantic",
    });
    expect(found.results[0]?.id).toBe("n1");
    outcomes.push("semantic search: ok");
    const fetched = await ok<Page>(server, "get_documents", { collection: "notes", ids: ["n0", "n2"] });
    expect(fetched.documents.map(withoutChunkCount)).toEqual([docs[0], docs[2]]);
    outcomes.push("get_documents: ok");
    // Keyword and hybrid search build the full-text index on first use: a write.
    const hybrid = await server.call("search_similar", { collection: "notes", query: docs[1]?.text ?? "" });
    outcomes.push(`hybrid search: ${hybrid.isError ? `isError: ${brief(hybrid)}` : "ok"}`);
    // Without the index it cannot write, keyword search scans: the default search still answers.
    expect(hybrid.isError, `hybrid search: ${brief(hybrid)}`).toBeFalsy();

    const add = await server.call("add_documents", {
      collection: "notes",
      documents: [{ id: "n9", text: "a new note", metadata: { part: "notes" } }],
    });
    expect(add.isError, "add_documents into a read-only database").toBe(true);
    expect(text(add)).toContain("not writable");
    outcomes.push(`add_documents: isError: ${brief(add)}`);
    const create = await server.call("add_documents", {
      collection: "other",
      documents: [{ id: "o1", text: "another collection" }],
    });
    expect(create.isError, "creating a collection in a read-only database").toBe(true);
    outcomes.push(`add_documents (new collection): isError: ${brief(create)}`);
    const del = await server.call("delete", { collection: "notes", ids: ["n0"] });
    expect(del.isError, "delete in a read-only database").toBe(true);
    outcomes.push(`delete: isError: ${brief(del)}`);

    // Still serving, nothing changed.
    expect((await ok<Listed>(server, "list_collections", {})).collections).toEqual(listed.collections);
    console.info(`read-only database directory:\n${outcomes.join("\n")}`);
  }, 60_000);
});

const NOBODY = 65534;

/** Whether this process, or the given user, can create a file in `dir`. */
function canWrite(dir: string, uid?: number): boolean {
  const probe = path.join(dir, ".write-probe");
  try {
    if (uid === undefined) writeFileSync(probe, "");
    else
      execFileSync("setpriv", [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", "touch", probe], {
        stdio: "ignore",
      });
    rmSync(probe);
    return true;
  } catch {
    return false;
  }
}

/** Whether the given user can read `file` (every directory above it must be open to them). */
function canRead(file: string, uid: number): boolean {
  try {
    execFileSync("setpriv", [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", "test", "-r", file], {
      stdio: "ignore",
    });
    return true;
  } catch {
    return false;
  }
}

function hasSetpriv(): boolean {
  try {
    execFileSync("setpriv", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
