import { describe, expect, it } from "vitest";
import { globToRegExp } from "../../src/commands/files.js";

describe("globToRegExp", () => {
  const matches = (glob: string, path: string) => globToRegExp(glob).test(path);

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
});
