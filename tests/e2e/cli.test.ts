import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../support/harness.js";
import { CLI, TINY_BERT } from "../support/stdio.js";

const run = promisify(execFile);

describe("the command line for people and scripts", () => {
  const work = tempDir("vmm-cli2-");
  const notes = path.join(work.dir, "notes");
  const base = ["--db-path", path.join(work.dir, "db"), "--model", TINY_BERT, "--offline"];

  async function cli(args: string[], input?: string) {
    const child = run(process.execPath, [CLI, ...args, ...base], {
      cwd: work.dir,
      env: { PATH: process.env.PATH ?? "" },
    });
    if (input !== undefined) {
      child.child.stdin?.end(input);
    }
    try {
      const { stdout, stderr } = await child;
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  beforeAll(() => {
    mkdirSync(path.join(notes, "sub"), { recursive: true });
    mkdirSync(path.join(notes, "node_modules", "pkg"), { recursive: true });
    mkdirSync(path.join(notes, ".git"), { recursive: true });
    writeFileSync(path.join(notes, "deploy.md"), "# Deploying\n\nThe deploy key lives in the team vault.\n");
    writeFileSync(path.join(notes, "lunch.txt"), "Lunch on Fridays is at the noodle place.");
    writeFileSync(path.join(notes, "sub", "oncall.md"), "# On call\n\nThe rotation changes every Monday.");
    writeFileSync(path.join(notes, "sub", "draft.md"), "A draft that the exclude glob leaves out.");
    writeFileSync(path.join(notes, "image.png"), "not text");
    writeFileSync(path.join(notes, "empty.md"), "   ");
    writeFileSync(path.join(notes, "node_modules", "pkg", "readme.md"), "dependency docs");
    writeFileSync(path.join(notes, ".git", "notes.md"), "git internals");
  });
  afterAll(() => work.cleanup());

  it("adds a folder of notes with include/exclude rules, then re-adds in place", async () => {
    const added = await cli(["add", "team", "notes", "--exclude", "**/draft.md", "--json"]);
    expect(added.code).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({ collection: "team", files: 3, added: 3, replaced: 0 });
    expect(added.stderr).toContain("skipped notes/empty.md (empty)");
    const again = await cli(["add", "team", "notes", "--exclude", "**/draft.md", "--json"]);
    expect(JSON.parse(again.stdout)).toMatchObject({ added: 0, replaced: 3 });
  });

  it("lists, searches, gets and shows stats, as tables or JSON", async () => {
    const list = await cli(["list"]);
    expect(list.stdout).toMatch(/collection\s+documents\s+model/);
    expect(list.stdout).toMatch(/team\s+3\s+/);
    const search = await cli([
      "search",
      "team",
      "Lunch on Fridays is at the noodle place.",
      "-n",
      "2",
      "--json",
    ]);
    expect(search.code).toBe(0);
    const found = JSON.parse(search.stdout) as {
      results: Array<{ id: string; metadata: Record<string, unknown> }>;
    };
    expect(found.results[0]).toMatchObject({
      id: "notes/lunch.txt",
      metadata: { source: "notes/lunch.txt", ext: ".txt" },
    });
    expect(found.results).toHaveLength(2);
    const filtered = await cli([
      "search",
      "team",
      "rotation",
      "--where",
      '{"ext": ".md"}',
      "--mode",
      "keyword",
      "--json",
    ]);
    expect(
      (JSON.parse(filtered.stdout) as { results: Array<{ id: string }> }).results.map((r) => r.id),
    ).toEqual(["notes/sub/oncall.md"]);
    const get = await cli(["get", "team", "notes/deploy.md", "--json"]);
    expect(JSON.parse(get.stdout)).toMatchObject({
      documents: [{ id: "notes/deploy.md", metadata: { title: "Deploying" } }],
    });
    const stats = await cli(["stats", "--json"]);
    expect(JSON.parse(stats.stdout)).toMatchObject({
      collections: [{ name: "team", documents: 3, dimensions: 32 }],
    });
  });

  it("round-trips a collection through export and import, model record included", async () => {
    const exported = await cli(["export", "team"]);
    expect(exported.code).toBe(0);
    const lines = exported.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({
      type: "vector-memory-mcp/collection",
      name: "team",
      model: { model: TINY_BERT, dimensions: 32 },
    });
    expect(lines.slice(1).map((l) => l.id)).toEqual([
      "notes/deploy.md",
      "notes/lunch.txt",
      "notes/sub/oncall.md",
    ]);
    // Times travel with the documents, and the import below keeps them (the copies compare equal).
    for (const line of lines.slice(1)) {
      expect(line.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(line.updated_at).toMatch(/Z$/);
    }
    const imported = await cli(["import", "copy", "--json"], exported.stdout);
    expect(imported.code).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ documents: 3, added: 3 });
    const again = await cli(["export", "copy"]);
    const copied = again.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(copied.slice(1)).toEqual(lines.slice(1));
    expect(copied[0]?.model).toEqual(lines[0]?.model);
  });

  it("lists a collection's history and restores a version, with a dry run, as an undoable new version", async () => {
    const before = JSON.parse((await cli(["get", "copy", "--json"])).stdout) as { total: number };
    const history = JSON.parse((await cli(["history", "copy", "--json"])).stdout) as {
      versions: Array<{ version: number; operation: string }>;
    };
    const good = history.versions.at(-1)?.version as number;
    expect((await cli(["delete", "copy", "notes/lunch.txt"])).code).toBe(0);
    const table = await cli(["history", "copy"]);
    expect(table.stdout).toMatch(/version\s+time\s+operation\s+rows\s+change/);
    expect(table.stdout).toMatch(/delete\s+2\s+-1/);
    const dry = await cli(["restore", "copy", "--version", String(good), "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("back: notes/lunch.txt");
    expect(dry.stdout).toContain("Nothing was changed.");
    const done = await cli(["restore", "copy", "--version", String(good)]);
    expect(done.stdout).toMatch(/Undo: restore copy --version \d+/);
    expect(JSON.parse((await cli(["get", "copy", "--json"])).stdout)).toMatchObject({ total: before.total });
    expect((await cli(["restore", "copy"])).code).toBe(2);
    expect((await cli(["restore", "copy", "--at", "last week"])).code).toBe(2);
    expect((await cli(["restore", "copy", "--version", "99999"])).code).toBe(1);
  });

  it("deletes with a dry run first, and reports exit codes scripts can trust", async () => {
    const dry = await cli(["delete", "copy", "--where", '{"ext": ".md"}', "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("Would delete 2 document(s).");
    expect(dry.stdout).toContain("notes/sub/oncall.md");
    const real = await cli(["delete", "copy", "notes/lunch.txt", "ghost", "--json"]);
    expect(JSON.parse(real.stdout)).toMatchObject({ deleted: 1, notFound: ["ghost"] });
    const drop = await cli(["delete", "copy", "--drop"]);
    expect(drop.stdout).toContain('dropped "copy"');

    expect((await cli(["search", "team"])).code).toBe(2);
    expect((await cli(["delete", "team"])).code).toBe(2);
    expect((await cli(["search", "team", "q", "--where", "not json"])).code).toBe(2);
    expect((await cli(["add", "team", "no-such-dir"])).code).toBe(2);
    expect((await cli(["import", "team"], "{not json}\n")).code).toBe(2);
    const unknown = await cli(["search", "ghost", "anything"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('Collection "ghost" does not exist');
  });
});
