import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { type DaemonPlace, daemonPlaceFor } from "../../src/daemon/location.js";
import { tempDir } from "./harness.js";
import { type StdioServer, spawnServer, TINY_BERT } from "./stdio.js";

/** A database with its own socket and data directories, so the daemons of tests never meet. */
export interface DaemonWorkspace {
  dir: string;
  dbPath: string;
  args: string[];
  env: Record<string, string>;
  place: DaemonPlace;
  /** Starts a relay as an editor would (the default stdio entry, no --no-daemon). */
  relay(extraEnv?: Record<string, string>): Promise<StdioServer>;
  /** Pids of live `daemon serve` processes for this database. */
  daemons(): number[];
  /** Kills every daemon of this workspace, closes its clients and removes it. */
  cleanup(): Promise<void>;
}

export interface DaemonWorkspaceOptions {
  idleSeconds?: number;
  /** An object-storage database instead of a local one, with its S3 variables. */
  remote?: { dbPath: string; env: Record<string, string> };
  /** Default: the tiny test model. */
  model?: string;
}

export function daemonWorkspace({
  idleSeconds = 30,
  remote,
  model = TINY_BERT,
}: DaemonWorkspaceOptions = {}): DaemonWorkspace {
  const { dir, cleanup } = tempDir("vmm-daemon-");
  const dbPath = remote?.dbPath ?? path.join(dir, "db");
  const args = ["--db-path", dbPath, "--model", model, "--model-cache", path.join(dir, "cache"), "--offline"];
  const env = {
    VECTOR_MEMORY_DAEMON_DIR: path.join(dir, "run"),
    XDG_DATA_HOME: path.join(dir, "data"),
    VECTOR_MEMORY_DAEMON_IDLE: String(idleSeconds),
    VECTOR_MEMORY_NO_DAEMON: "0",
    ...remote?.env,
  };
  const place = daemonPlaceFor(env, args, { platform: process.platform, home: process.env.HOME ?? "" });
  const clients: StdioServer[] = [];
  const daemons = () => daemonPids(dbPath);
  return {
    dir,
    dbPath,
    args,
    env,
    place,
    async relay(extraEnv = {}) {
      const server = await spawnServer(args, { ...env, ...extraEnv });
      clients.push(server);
      return server;
    },
    daemons,
    async cleanup() {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      for (const pid of daemons()) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      cleanup();
    },
  };
}

/** `daemon serve` processes whose command line names this database (Linux: /proc). */
export function daemonPids(dbPath: string): number[] {
  if (!existsSync("/proc/self/cmdline")) return [];
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      // A zombie (exited, not yet reaped) has an empty command line.
    } catch {
      continue;
    }
    const at = argv.indexOf("daemon");
    if (at < 0 || argv[at + 1] !== "serve") continue;
    if (argv[argv.indexOf("--db-path") + 1] === dbPath) pids.push(Number(entry));
  }
  return pids;
}

/** Polls until `check` holds, or fails with `what` after `ms`. */
export async function eventually<T>(
  what: string,
  check: () => T | undefined | false,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
