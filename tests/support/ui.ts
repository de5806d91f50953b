import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { type BrowserContext, chromium } from "playwright-core";
import { raw, stopChild } from "./http.js";
import { CLI } from "./stdio.js";

export { raw };

/** Debian's chromium (apt-get install chromium); .ci/run installs it. */
export const CHROMIUM = "/usr/bin/chromium";
export const HAVE_CHROMIUM = existsSync(CHROMIUM);

/** The flags that work for headless Chromium here (as root, in a container, no network). */
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
];

/** A headless Chromium with a fresh profile in `dir` (Playwright passes it as --user-data-dir). */
export function launchChromium(dir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 800 },
  });
}

/** Stores documents with `import`, as a user would before opening the UI. */
export function importDocuments(args: string[], collection: string, docs: object[]): void {
  const input = docs.map((d) => JSON.stringify(d)).join("\n");
  const result = spawnSync(process.execPath, [CLI, "import", collection, ...args], {
    input,
    encoding: "utf8",
  });
  if (result.status !== 0) throw new Error(`import failed: ${result.stderr}`);
}

export interface UiProcess {
  /** The printed URL with the login token. */
  loginUrl: string;
  /** http://127.0.0.1:PORT */
  base: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `dist/cli.js ui --port 0 ...` and reads the login URL from its stdout. */
export function spawnUi(args: string[], env: Record<string, string> = {}): Promise<UiProcess> {
  const child = spawn(process.execPath, [CLI, "ui", "--port", "0", ...args], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ui did not start:\n${stderr}`)), 20_000);
    child.stdout?.on("data", (c: Buffer) => {
      stdout += c.toString();
      const match = /^(http:\/\/127\.0\.0\.1:\d+)\/\?token=\S+$/m.exec(stdout);
      if (!match?.[1]) return;
      clearTimeout(timer);
      resolve({
        loginUrl: match[0],
        base: match[1],
        child,
        stop: () => stopChild(child),
      });
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`ui exited with ${code}:\n${stderr}`));
    });
  });
}
