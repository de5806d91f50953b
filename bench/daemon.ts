/**
 * The shared daemon against one in-process server per client, with the bundled model (use-lite):
 * memory of 5 attached clients (relays + daemon) vs one in-process client, the relay's own
 * memory, handshake time through a relay (cold: no daemon yet; warm: one running), and search
 * and add latency through the relay vs in-process, measured alternately so load hits both alike.
 *
 *   npm run build && npx tsx bench/daemon.ts        (~1 min)
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const CLI = path.resolve("dist/cli.js");
const DOCS = Number(process.env.BENCH_DOCS ?? 500);
const CALLS = Number(process.env.BENCH_CALLS ?? 40);
const HANDSHAKES = Number(process.env.BENCH_HANDSHAKES ?? 7);

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: npm run build`);
const work = mkdtempSync(path.join(tmpdir(), "vmm-bench-daemon-"));
const env = {
  PATH: process.env.PATH ?? "",
  HOME: process.env.HOME ?? "",
  VECTOR_MEMORY_DAEMON_DIR: path.join(work, "run"),
  XDG_DATA_HOME: path.join(work, "data"),
  VECTOR_MEMORY_LOG_LEVEL: "warn",
};
const args = (db: string) => ["--db-path", path.join(work, db), "--model", "use-lite", "--offline"];

interface Session {
  client: Client;
  pid: number;
  handshakeMs: number;
  close(): Promise<void>;
}

async function open(db: string, extra: Record<string, string> = {}): Promise<Session> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, ...args(db)],
    env: { ...env, ...extra },
    stderr: "ignore",
  });
  const client = new Client({ name: "bench", version: "1" });
  const started = performance.now();
  await client.connect(transport);
  const handshakeMs = performance.now() - started;
  return { client, pid: transport.pid ?? 0, handshakeMs, close: () => client.close() };
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

function daemonPid(db: string): number {
  const out = execFileSync(process.execPath, [CLI, "daemon", "status", "--json", ...args(db)], {
    env,
  }).toString();
  return (JSON.parse(out) as { pid: number }).pid;
}

function stopDaemon(db: string): void {
  execFileSync(process.execPath, [CLI, "daemon", "stop", ...args(db)], { env });
}

const texts = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${i}`,
    text: `${prefix} note ${i}: the ${["deploy", "lunch", "oncall", "budget", "review"][i % 5]} plan for week ${i % 52} mentions item ${i * 7919}`,
  }));

async function call(s: Session, name: string, a: Record<string, unknown>): Promise<number> {
  const t = performance.now();
  const result = await s.client.callTool({ name, arguments: a });
  if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.content)}`);
  return performance.now() - t;
}

/** The same workload for every client: one batch add, then a warm-up search. */
async function workload(s: Session, collection: string): Promise<void> {
  for (let i = 0; i < DOCS; i += 100)
    await call(s, "add_documents", { collection, documents: texts(collection, DOCS).slice(i, i + 100) });
  await call(s, "search_similar", { collection, query: "the deploy plan" });
}

/** The floor: a bare Node process that answers initialize and nothing else. */
async function bareNodeHandshake(): Promise<number> {
  const script = `process.stdin.once("data", (d) => { const id = JSON.parse(String(d).split("\\n")[0]).id;
    process.stdout.write(JSON.stringify({ jsonrpc: "2.0", id, result: { protocolVersion: "2025-06-18", capabilities: {},
      serverInfo: { name: "bare", version: "0" } } }) + "\\n"); }); process.stdin.on("end", () => process.exit(0));`;
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ["-e", script],
    env,
    stderr: "ignore",
  });
  const client = new Client({ name: "bench", version: "1" });
  const started = performance.now();
  await client.connect(transport);
  const ms = performance.now() - started;
  await client.close();
  return ms;
}

const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const f = (x: number) => x.toFixed(1);

try {
  // One in-process client: the baseline.
  const inproc = await open("inproc", { VECTOR_MEMORY_NO_DAEMON: "1" });
  await workload(inproc, "c0");
  const inprocRss = rssMiB(inproc.pid);

  // Cold handshakes: no daemon running before each.
  const cold: number[] = [];
  const firstCall: number[] = [];
  for (let i = 0; i < HANDSHAKES; i++) {
    const s = await open("shared");
    cold.push(s.handshakeMs);
    firstCall.push(await call(s, "list_collections", {}));
    await s.close();
    stopDaemon("shared");
  }

  // Five attached clients, each with the same workload as the in-process one.
  const clients: Session[] = [];
  for (let i = 0; i < 5; i++) clients.push(await open("shared"));
  for (const [i, s] of clients.entries()) await workload(s, `c${i}`);
  const relayRss = clients.map((s) => rssMiB(s.pid));
  const daemonRss = rssMiB(daemonPid("shared"));
  const total = relayRss.reduce((a, b) => a + b, 0) + daemonRss;

  // Warm handshakes: a daemon runs. Alternated with a bare Node process's, the floor under load.
  const warm: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < HANDSHAKES; i++) {
    const s = await open("shared");
    warm.push(s.handshakeMs);
    await s.close();
    bare.push(await bareNodeHandshake());
  }

  // Latency, alternating in-process and relayed calls on same-sized collections.
  const relayed = clients[0] as Session;
  const lat = {
    search: { inproc: [] as number[], relay: [] as number[] },
    add: { inproc: [] as number[], relay: [] as number[] },
  };
  for (let i = 0; i < CALLS; i++) {
    const query = {
      collection: "c0",
      query: `the ${["budget", "review", "lunch"][i % 3]} plan for week ${i}`,
    };
    const doc = (p: string) => ({
      collection: "c0",
      documents: [{ id: `${p}-one-${i}`, text: `one more note ${i} about the ${p}` }],
    });
    const order: Array<[Session, "inproc" | "relay"]> =
      i % 2
        ? [
            [inproc, "inproc"],
            [relayed, "relay"],
          ]
        : [
            [relayed, "relay"],
            [inproc, "inproc"],
          ];
    for (const [s, k] of order) lat.search[k].push(await call(s, "search_similar", query));
    for (const [s, k] of order) lat.add[k].push(await call(s, "add_documents", doc(k)));
  }

  const lines = [
    `workload per client: ${DOCS} documents added in batches of 100, then searches; model use-lite`,
    `one in-process client: RSS ${f(inprocRss)} MiB`,
    `5 attached clients: relays ${relayRss.map(f).join(", ")} MiB + daemon ${f(daemonRss)} MiB = ${f(total)} MiB (${(total / inprocRss).toFixed(2)}x one in-process client; 5 in-process clients would be ~${f(5 * inprocRss)} MiB)`,
    `handshake through the relay p50: cold ${f(p50(cold))} ms (${cold.map(f).join(", ")}), warm ${f(p50(warm))} ms (${warm.map(f).join(", ")}); in-process ${f(inproc.handshakeMs)} ms; a bare Node process answering initialize ${f(p50(bare))} ms`,
    `first call after a cold handshake (waits for the daemon to start) p50: ${f(p50(firstCall))} ms`,
    `search_similar p50: in-process ${f(p50(lat.search.inproc))} ms, relay ${f(p50(lat.search.relay))} ms (${CALLS} calls each, alternating)`,
    `add_documents (one document) p50: in-process ${f(p50(lat.add.inproc))} ms, relay ${f(p50(lat.add.relay))} ms`,
  ];
  for (const line of lines) console.log(line);
  await Promise.all([inproc.close(), ...clients.map((s) => s.close())]);
  stopDaemon("shared");
} finally {
  rmSync(work, { recursive: true, force: true });
}
