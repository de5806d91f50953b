import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import picomatch from "picomatch";

export const DEFAULT_INCLUDE = ["**/*.md", "**/*.markdown", "**/*.txt"];
export const DEFAULT_EXCLUDE = ["**/node_modules/**", "**/.*/**"];

/**
 * Glob syntax is picomatch's (bash-like): `**` crosses directories, `*` and `?` do not, `{a,b}` is a
 * choice, `[a-z]` / `[!a-z]` are character classes, a backslash escapes, and hidden names match like any
 * other (the default excludes skip hidden folders). `posix: true` makes `[!...]` negate: without it
 * picomatch 4.0.7 reads the `!` as a class member (micromatch/picomatch#187).
 */
const GLOB_OPTIONS: picomatch.PicomatchOptions = { dot: true, posix: true };

/** Tests "/"-separated relative paths against one glob. */
export function globMatcher(glob: string): (path: string) => boolean {
  return picomatch(glob, GLOB_OPTIONS);
}

/**
 * A list of globs as one test: a path matches when some plain glob matches it and no `!glob` does.
 * With only `!globs`, the plain ones are `fallback`. (`!(...)` is an extglob, not a list negation.)
 */
function globList(globs: string[], fallback: string[]): (path: string) => boolean {
  const negated = (glob: string) => glob.startsWith("!") && !glob.startsWith("!(");
  const plain = globs.filter((g) => !negated(g));
  const take = (plain.length > 0 ? plain : fallback).map(globMatcher);
  const drop = globs.filter(negated).map((g) => globMatcher(g.slice(1)));
  return (path) => take.some((m) => m(path)) && !drop.some((m) => m(path));
}

/**
 * The files to load from the given files and directories: directories are walked (hidden ones and
 * node_modules skipped by the default excludes), and each relative path is matched against the
 * include and exclude globs. `!glob` in --include narrows the includes; in --exclude it keeps what
 * it matches (`--exclude '!.github/**'` loads a hidden folder). A directory is not entered
 * when everything in it would be excluded. Files named directly are taken whatever their name.
 */
export function collectFiles(targets: string[], include: string[], exclude: string[]): string[] {
  const included = globList(include, DEFAULT_INCLUDE);
  const excluded = globList([...DEFAULT_EXCLUDE, ...exclude], []);
  const found = new Set<string>();
  for (const target of targets) {
    const stat = statSync(target);
    if (stat.isFile()) {
      found.add(path.resolve(target));
      continue;
    }
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        const rel = path.relative(target, full).split(path.sep).join("/");
        if (entry.isDirectory()) {
          // Any name inside it stands for all of them: a glob that excludes one excludes them all.
          if (!excluded(`${rel}/x`)) walk(full);
        } else if (entry.isFile() && included(rel) && !excluded(rel)) {
          found.add(full);
        }
      }
    };
    walk(target);
  }
  return [...found].sort();
}
