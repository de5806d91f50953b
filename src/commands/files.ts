import { readdirSync, statSync } from "node:fs";
import path from "node:path";

export const DEFAULT_INCLUDE = ["**/*.md", "**/*.markdown", "**/*.txt"];
export const DEFAULT_EXCLUDE = ["**/node_modules/**", "**/.*/**"];

/**
 * A glob as a regular expression over "/"-separated relative paths: `**` crosses directories,
 * `*` and `?` do not, `{a,b}` is a choice.
 */
export function globToRegExp(glob: string): RegExp {
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === "*" && glob[i + 1] === "*") {
      const slash = glob[i + 2] === "/";
      out += slash ? "(?:.*/)?" : ".*";
      i += slash ? 2 : 1;
    } else if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else if (c === "{") {
      const end = glob.indexOf("}", i);
      if (end < 0) out += "\\{";
      else {
        out += `(?:${glob
          .slice(i + 1, end)
          .split(",")
          .map((part) => part.replace(/[.+^$()|[\]\\]/g, "\\$&"))
          .join("|")})`;
        i = end;
      }
    } else out += c.replace(/[.+^$()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${out}$`);
}

/**
 * The files to load from the given files and directories: directories are walked (hidden ones and
 * node_modules skipped by the default excludes), and each relative path is matched against the
 * include and exclude globs. Files named directly are taken whatever their name.
 */
export function collectFiles(targets: string[], include: string[], exclude: string[]): string[] {
  const includes = (include.length > 0 ? include : DEFAULT_INCLUDE).map(globToRegExp);
  const excludes = [...DEFAULT_EXCLUDE, ...exclude].map(globToRegExp);
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
          if (!excludes.some((re) => re.test(`${rel}/x`))) walk(full);
        } else if (
          entry.isFile() &&
          includes.some((re) => re.test(rel)) &&
          !excludes.some((re) => re.test(rel))
        ) {
          found.add(full);
        }
      }
    };
    walk(target);
  }
  return [...found].sort();
}
