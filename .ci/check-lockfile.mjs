// Proves the install came from the committed lockfile: every package present in node_modules has
// exactly the version and integrity the committed lockfile names. npm may still add entries for
// other platforms' optional packages to package-lock.json on a fresh install (seen with npm 11);
// those are not installed here, so they do not change what runs.
import { existsSync, readFileSync } from "node:fs";

const [committedPath, currentPath] = process.argv.slice(2);
const committed = JSON.parse(readFileSync(committedPath, "utf8")).packages;
const current = JSON.parse(readFileSync(currentPath, "utf8")).packages;
const problems = [];
for (const [path, entry] of Object.entries(current)) {
  if (path === "" || !existsSync(`${path}/package.json`)) continue;
  const locked = committed[path];
  if (!locked) problems.push(`${path} is installed but not in the committed lockfile`);
  else if (locked.version !== entry.version || (locked.integrity && locked.integrity !== entry.integrity)) {
    problems.push(`${path}: committed ${locked.version}, installed ${entry.version}`);
  }
}
if (problems.length > 0) {
  console.error(
    `The install does not match the committed lockfile:\n  ${problems.slice(0, 20).join("\n  ")}`,
  );
  process.exit(1);
}
console.log(
  `lockfile check: ${Object.keys(current).length - 1} entries, installed packages match the committed lockfile`,
);
