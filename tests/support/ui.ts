import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { request } from "node:http";
import { type BrowserContext, chromium } from "playwright-core";
import { CLI } from "./stdio.js";

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
export function spawnUi(args: string[]): Promise<UiProcess> {
  const child = spawn(process.execPath, [CLI, "ui", "--port", "0", ...args], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
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
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once("exit", () => done());
            child.kill("SIGTERM");
          }),
      });
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`ui exited with ${code}:\n${stderr}`));
    });
  });
}

/** A raw request, so a test controls every header (fetch forbids setting Host and Origin freely). */
export function raw(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? "GET", headers: options.headers ?? {} }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => {
        body += c.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end(options.body);
  });
}
