/**
 * The parts of the configuration that need no validation library: the server's flags as
 * node:util parseArgs declares them and the per-user directories. The stdio relay (src/daemon/)
 * reads only these, so it starts without zod, the store or a model runtime.
 */
import path from "node:path";

export const APP_NAME = "vector-memory-mcp";

/** The shared daemon exits after this long with no client attached (README "One process per machine"). */
export const DEFAULT_DAEMON_IDLE_SECONDS = 600;

export type Env = Record<string, string | undefined>;

/** Options as node:util parseArgs declares them (a command's specs may carry more keys). */
export type OptionsConfig = Readonly<
  Record<string, { type: "string" | "boolean"; short?: string | undefined; multiple?: boolean | undefined }>
>;

export interface PlatformInfo {
  platform: NodeJS.Platform;
  home: string;
}

/**
 * The per-user data and cache directories, never the working directory: editors start
 * servers from arbitrary directories, and the memory must be the same whichever one.
 */
export function defaultDirs(env: Env, { platform, home }: PlatformInfo): { data: string; cache: string } {
  const p = platform === "win32" ? path.win32 : path.posix;
  if (platform === "win32") {
    const base = env.LOCALAPPDATA || p.join(home, "AppData", "Local");
    return { data: p.join(base, APP_NAME, "Data"), cache: p.join(base, APP_NAME, "Cache") };
  }
  if (platform === "darwin") {
    return {
      data: p.join(home, "Library", "Application Support", APP_NAME),
      cache: p.join(home, "Library", "Caches", APP_NAME),
    };
  }
  // XDG base directory spec: relative values are invalid and must be ignored.
  const xdg = (name: string, fallback: string) => {
    const value = env[name];
    return value && p.isAbsolute(value) ? value : fallback;
  };
  return {
    data: p.join(xdg("XDG_DATA_HOME", p.join(home, ".local", "share")), APP_NAME),
    cache: p.join(xdg("XDG_CACHE_HOME", p.join(home, ".cache")), APP_NAME),
  };
}

/** Options of the server that every command takes too (they choose the database, the model, ...). */
export const GLOBAL_OPTIONS = {
  "db-path": { type: "string" },
  "s3-endpoint": { type: "string" },
  "s3-region": { type: "string" },
  "s3-access-key-id": { type: "string" },
  "s3-secret-access-key": { type: "string" },
  "s3-session-token": { type: "string" },
  "s3-allow-http": { type: "boolean" },
  "s3-unsafe-single-writer": { type: "boolean" },
  model: { type: "string" },
  dtype: { type: "string" },
  "model-cache": { type: "string" },
  offline: { type: "boolean" },
  "hub-url": { type: "string" },
  "ort-spinning": { type: "string" },
  "vector-cache-mb": { type: "string" },
  json: { type: "boolean" },
  http: { type: "boolean" },
  "no-daemon": { type: "boolean" },
  "daemon-idle": { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  "token-file": { type: "string" },
  "allowed-origin": { type: "string", multiple: true },
  "log-level": { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
} as const satisfies OptionsConfig;
