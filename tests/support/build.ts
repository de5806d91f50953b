import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";

/** Vitest global setup: compile dist/ (and the web UI's assets) once, so end-to-end tests run exactly what ships. */
export default function build(): () => void {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { stdio: "inherit" });
  execFileSync(process.execPath, ["scripts/build-ui.mjs"], { stdio: "inherit" });
  return killTestDaemons;
}

/**
 * Teardown: tests give their daemons short idle times, but a test that fails half-way may leave
 * one. Any `daemon serve` of this checkout whose database or home lies in the temp directory is a
 * test's; it is killed and named, so a leak shows instead of lingering. A user's own daemon is
 * never under the temp directory and is left alone.
 */
function killTestDaemons(): void {
  // Daemons whose last client just left exit by themselves within their (short) idle time.
  const deadline = Date.now() + 3000;
  let left = testDaemons();
  while (left.length > 0 && Date.now() < deadline) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    left = testDaemons();
  }
  for (const { pid, args } of left) {
    process.stderr.write(`killing a test daemon left running: pid ${pid} (${args || "default flags"})\n`);
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
}

function testDaemons(): Array<{ pid: number; args: string }> {
  if (!existsSync("/proc/self/cmdline")) return [];
  const cli = path.resolve("dist/cli.js");
  const temp = tmpdir();
  const found: Array<{ pid: number; args: string }> = [];
  for (const pid of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    let argv: string[];
    let environ: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      environ = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
    } catch {
      continue;
    }
    if (argv[1] !== cli || argv[2] !== "daemon" || argv[3] !== "serve") continue;
    const places = [
      argv[argv.indexOf("--db-path") + 1] ?? "",
      ...environ.filter((v) =>
        /^(HOME|XDG_DATA_HOME|VECTOR_MEMORY_DB_PATH|VECTOR_MEMORY_DAEMON_DIR)=/.test(v),
      ),
    ];
    if (places.some((p) => p.replace(/^\w+=/, "").startsWith(`${temp}/`)))
      found.push({ pid: Number(pid), args: argv.slice(4).join(" ") });
  }
  return found;
}
