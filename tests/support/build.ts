import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";

/** Vitest global setup: compile dist/ (and the web UI's assets) once, so end-to-end tests run exactly what ships. */
export default function build(): void {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { stdio: "inherit" });
  execFileSync(process.execPath, ["scripts/build-ui.mjs"], { stdio: "inherit" });
}
