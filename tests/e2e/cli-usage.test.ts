import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../support/harness.js";
import { CLI, TINY_BERT } from "../support/stdio.js";

const run = promisify(execFile);

/**
 * Bad input to the command line, tried as a new user would: every case ends with an exact exit
 * code and one line on stderr that names the problem in CLI terms, never a stack trace.
 */
describe("the command line refuses bad input in one line", () => {
  const work = tempDir("vmm-cli-usage-");
  const db = ["--db-path", path.join(work.dir, "db"), "--offline"];
  const base = [...db, "--model", TINY_BERT];

  async function cli(args: string[]) {
    try {
      const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
        cwd: work.dir,
        env: { PATH: process.env.PATH ?? "" },
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  /** Runs the command and checks the common shape of a refusal; returns its one stderr line. */
  async function refused(args: string[], code: number): Promise<string> {
    const result = await cli(args);
    expect(result.code, result.stderr).toBe(code);
    expect(result.stdout).toBe("");
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.stderr).not.toMatch(/\bbug\b|Error:/);
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines, result.stderr).toHaveLength(1);
    return lines[0] as string;
  }

  beforeAll(async () => {
    mkdirSync(path.join(work.dir, "notes"));
    writeFileSync(path.join(work.dir, "notes", "a.md"), "# A note\n\nHello from the notes folder.");
    expect((await cli(["add", "notes", "notes", "--log-level", "warn", ...base])).code).toBe(0);
  });
  afterAll(() => work.cleanup());

  it("refuses a collection name the contract refuses, before touching the store", async () => {
    const spaced = await refused(["add", "My Notes", "notes/", ...base], 2);
    expect(spaced).toBe(
      'vector-memory-mcp add: <collection> "My Notes": collection names are 1-64 characters: lower-case letters, digits, _ and -, starting with a letter or digit',
    );
    const dotted = await refused(["search", "../etc", "hello", ...base], 2);
    expect(dotted).toContain('vector-memory-mcp search: <collection> "../etc": collection names are');
    for (const command of [["get"], ["delete", "--drop"], ["export"], ["import"], ["stats"]]) {
      const [name, ...flags] = command as [string, ...string[]];
      expect(await refused([name, "Bad/Name", ...flags, ...base], 2)).toContain("collection names are");
    }
  });

  it("refuses a flag that belongs to another command, naming the command's own flags", async () => {
    expect(await refused(["search", "notes", "hello", "--drop", ...base], 2)).toBe(
      "vector-memory-mcp search: unknown option --drop; search takes -n/--n-results <N>, --where <JSON>, --mode <semantic|keyword|hybrid>, and the server options (see --help)",
    );
    expect(await refused(["list", "--include", "*.md", ...base], 2)).toBe(
      "vector-memory-mcp list: unknown option --include; list takes no options of its own, and the server options (see --help)",
    );
    expect(await refused(["add", "notes", "notes", "--frobnicate", ...base], 2)).toContain(
      "unknown option --frobnicate; add takes --include <glob> (repeatable), --exclude <glob> (repeatable)",
    );
    expect(await refused(["get", "notes", "--limit", ...base], 2)).toContain("'--limit' argument");
  });

  it("requires --model for reembed instead of moving to the default model", async () => {
    expect(await refused(["reembed", "notes", ...db], 2)).toBe(
      "vector-memory-mcp reembed: --model is required: reembed <collection> --model <id|dir|name> [--dtype <dtype>]",
    );
  });

  it("refuses a bad --where with exit 2, whether it is not JSON or not a filter", async () => {
    expect(await refused(["search", "notes", "hello", "--where", "topic=ops", ...base], 2)).toContain(
      "--where takes a JSON object",
    );
    expect(await refused(["search", "notes", "hello", "--where", '{"$bogus": 1}', ...base], 2)).toContain(
      'vector-memory-mcp search: Invalid where filter: unknown operator "$bogus"',
    );
    expect(await refused(["get", "notes", "--where", '{"__proto__": {}}', ...base], 2)).toContain(
      '--where: "__proto__" is not allowed as a key',
    );
  });

  it("checks values against the same limits as the tools", async () => {
    expect(await refused(["search", "notes", "hello", "-n", "500", ...base], 2)).toMatch(
      /^vector-memory-mcp search: -n\/--n-results: .*100/,
    );
    expect(await refused(["search", "notes", "hello", "-n", "many", ...base], 2)).toBe(
      'vector-memory-mcp search: -n/--n-results takes a number, not "many"',
    );
    expect(await refused(["search", "notes", "hello", "--mode", "fuzzy", ...base], 2)).toContain(
      '--mode "fuzzy"',
    );
  });

  it("names CLI commands, not MCP tools, in what to do next", async () => {
    const unknown = await refused(["search", "ghost", "hello", ...base], 1);
    expect(unknown).toBe(
      'vector-memory-mcp search: Collection "ghost" does not exist. Known collections: notes. Use `vector-memory-mcp add <collection> <files>` to create it.',
    );
    const emptied = await refused(["delete", "notes", "--where", "{}", ...base], 2);
    expect(emptied).toContain("use `vector-memory-mcp delete <collection> --drop`");
    expect(emptied).not.toContain("drop_collection");
  });
});
