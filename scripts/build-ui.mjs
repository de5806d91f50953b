// Builds the web UI into dist/ui/assets: src/ui/web/*.ts bundled and minified by esbuild (no CDN,
// so the UI works offline), plus the page and the styles copied as they are. The map page and its
// chart library are a chunk loaded when the map is first opened, so the other pages stay small;
// the map's projection runs in a worker built as its own classic script (CSP: script-src 'self').
// Run by `npm run build` after tsc, and by the tests' global setup.
import { copyFileSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const web = join(root, "src/ui/web");
const out = join(root, "dist/ui/assets");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const common = { bundle: true, minify: true, target: "es2022", legalComments: "none", logLevel: "warning" };
await build({
  ...common,
  entryPoints: { app: join(web, "main.ts") },
  outdir: out,
  format: "esm",
  splitting: true,
  chunkNames: "[name]-[hash]",
});
await build({
  ...common,
  entryPoints: { "map-worker": join(web, "map-worker.ts") },
  outdir: out,
  format: "iife",
});
for (const file of ["index.html", "app.css"]) copyFileSync(join(web, file), join(out, file));
if (process.argv.includes("--size"))
  for (const file of readdirSync(out))
    console.log(`dist/ui/assets/${file}: ${statSync(join(out, file)).size} bytes`);
