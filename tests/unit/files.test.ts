import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectFiles, globMatcher } from "../../src/commands/files.js";
import { tempDir } from "../support/harness.js";

describe("globs", () => {
  const matches = (glob: string, path: string) => globMatcher(glob)(path);

  it("crosses directories only with **", () => {
    expect(matches("**/*.md", "a.md")).toBe(true);
    expect(matches("**/*.md", "x/y/a.md")).toBe(true);
    expect(matches("*.md", "x/a.md")).toBe(false);
    expect(matches("docs/**", "docs/a/b.txt")).toBe(true);
    expect(matches("**/node_modules/**", "a/node_modules/p/readme.md")).toBe(true);
  });

  it("supports ? and {a,b}, and treats regex characters literally", () => {
    expect(matches("file?.txt", "file1.txt")).toBe(true);
    expect(matches("file?.txt", "file10.txt")).toBe(false);
    expect(matches("**/*.{md,txt}", "n/a.txt")).toBe(true);
    expect(matches("**/*.{md,txt}", "n/a.rst")).toBe(false);
    expect(matches("a+b(c).md", "a+b(c).md")).toBe(true);
    expect(matches("a.md", "aXmd")).toBe(false);
  });

  it("supports character classes, negated ones included, and escapes", () => {
    expect(matches("notes-[0-9].md", "notes-7.md")).toBe(true);
    expect(matches("notes-[0-9].md", "notes-x.md")).toBe(false);
    expect(matches("notes-[!0-9].md", "notes-x.md")).toBe(true);
    expect(matches("notes-[!0-9].md", "notes-7.md")).toBe(false);
    expect(matches("notes-[^0-9].md", "notes-7.md")).toBe(false);
    expect(matches("[[:digit:]]*.txt", "2024.txt")).toBe(true);
    expect(matches("a\\*b.md", "a*b.md")).toBe(true);
    expect(matches("a\\*b.md", "axb.md")).toBe(false);
  });

  it("negates with !(...) inside a glob", () => {
    expect(matches("**/!(draft)*.md", "n/final.md")).toBe(true);
    expect(matches("**/!(draft)*.md", "n/draft-1.md")).toBe(false);
  });
});

describe("collectFiles", () => {
  const work = tempDir("vmm-files-");
  const rel = (files: string[]) => files.map((f) => path.relative(work.dir, f).split(path.sep).join("/"));

  beforeAll(() => {
    for (const dir of ["drafts", ".github", ".git", "node_modules/pkg"])
      mkdirSync(path.join(work.dir, dir), { recursive: true });
    for (const file of [
      "a.md",
      "b.txt",
      "c.rst",
      "drafts/d.md",
      ".github/e.md",
      ".git/f.md",
      "node_modules/pkg/g.md",
    ])
      writeFileSync(path.join(work.dir, file), file);
  });
  afterAll(() => work.cleanup());

  it("takes the default includes, skipping hidden folders and node_modules", () => {
    expect(rel(collectFiles([work.dir], [], []))).toEqual(["a.md", "b.txt", "drafts/d.md"]);
  });

  it("narrows the includes with !glob, alone or after plain globs", () => {
    expect(rel(collectFiles([work.dir], ["!drafts/**"], []))).toEqual(["a.md", "b.txt"]);
    expect(rel(collectFiles([work.dir], ["**/*.md", "!**/d.*"], []))).toEqual(["a.md"]);
    expect(rel(collectFiles([work.dir], ["*.[mr][ds]*"], []))).toEqual(["a.md", "c.rst"]);
  });

  it("keeps what a !glob in the excludes names, even from a hidden folder", () => {
    expect(rel(collectFiles([work.dir], [], ["!.github/**"]))).toEqual([
      ".github/e.md",
      "a.md",
      "b.txt",
      "drafts/d.md",
    ]);
    expect(rel(collectFiles([work.dir], [], ["drafts/**"]))).toEqual(["a.md", "b.txt"]);
  });
});
