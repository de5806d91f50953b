// Builds the web UI into dist/ui/assets: src/ui/web/*.ts bundled and minified by esbuild (one
// file, no CDN, so the UI works offline), plus the page and the styles copied as they are.
// Run by `npm run build` after tsc, and by the tests' global setup.
import { copyFileSync, mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const web = join(root, "src/ui/web");
const out = join(root, "dist/ui/assets");
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(web, "main.ts")],
  outfile: join(out, "app.js"),
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  legalComments: "none",
  logLevel: "warning",
});
for (const file of ["index.html", "app.css"]) copyFileSync(join(web, file), join(out, file));
if (process.argv.includes("--size"))
  console.log(`dist/ui/assets/app.js: ${statSync(join(out, "app.js")).size} bytes`);
