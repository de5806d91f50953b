/**
 * Where the daemon for a database lives, worked out from the same flags and environment the
 * server reads, without zod or anything heavy: the stdio relay runs this before deciding whether
 * it needs the rest of the program at all.
 */
import { createHash } from "node:crypto";
import { lstatSync, mkdirSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { APP_NAME, defaultDirs, type Env, GLOBAL_OPTIONS, type PlatformInfo } from "../config-args.js";

export interface DaemonPlace {
  /** The database location the daemon serves (a resolved directory, or a URI with its endpoint). */
  location: string;
  /** Options that change what the daemon does; a relay with other ones does not use it. */
  fingerprint: string;
  /** The directory holding the sockets: the user's alone (0700), checked before use. */
  socketDir: string;
  socketPath: string;
  /** Serialises binding and unbinding the socket between daemons (proper-lockfile's `<lockPath>.lock`). */
  lockPath: string;
  logPath: string;
}

export type StartPlan =
  | { kind: "relay"; place: DaemonPlace }
  /** Everything else: commands, --http, --help, --no-daemon, a flag the full parser must judge. */
  | { kind: "full"; why?: string };

const TRUTHY = new Set(["1", "true", "yes", "on"]);
const FALSY = new Set(["0", "false", "no", "off", ""]);

/** Whether the plain stdio server should run as a relay to the shared daemon. */
export function planStart(
  env: Env,
  argv: string[],
  platform: PlatformInfo = { platform: process.platform, home: homedir() },
): StartPlan {
  let values: Record<string, string | boolean | string[] | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: GLOBAL_OPTIONS,
      allowPositionals: true,
      strict: true,
    }));
  } catch {
    return { kind: "full" }; // the full parser reports the bad flag
  }
  if (positionals.length > 0 || values.help || values.version) return { kind: "full" };
  const http = envFlag(env.VECTOR_MEMORY_HTTP);
  const off = envFlag(env.VECTOR_MEMORY_NO_DAEMON);
  // An unreadable value is the full parser's to report.
  if (http === undefined || off === undefined) return { kind: "full" };
  if (values.http || http) return { kind: "full" };
  if (values["no-daemon"] || off) return { kind: "full", why: "--no-daemon" };
  if (platform.platform === "win32") return { kind: "full", why: "no daemon on Windows yet" };
  return { kind: "relay", place: daemonPlace(env, values, platform) };
}

/** The daemon's place for these flags (positionals, such as `daemon status`, do not matter). */
export function daemonPlaceFor(
  env: Env,
  argv: string[],
  platform: PlatformInfo = { platform: process.platform, home: homedir() },
): DaemonPlace {
  const { values } = parseArgs({
    args: argv,
    options: GLOBAL_OPTIONS,
    allowPositionals: true,
    strict: false,
  });
  return daemonPlace(env, values, platform);
}

function daemonPlace(
  env: Env,
  values: Record<string, string | boolean | (string | boolean)[] | undefined>,
  platform: PlatformInfo,
): DaemonPlace {
  const str = (flag: string, name: string, fallback = ""): string => {
    const v = values[flag];
    return typeof v === "string" ? v : (env[name] ?? fallback);
  };
  const bool = (flag: string, name: string): string => (values[flag] === true ? "1" : (env[name] ?? ""));
  const dirs = defaultDirs(env, platform);
  // As readConfig does it: a URI stays as given, a path is resolved against the working directory.
  const raw = str("db-path", "VECTOR_MEMORY_DB_PATH", path.join(dirs.data, "db")).trim();
  const remote = /^([a-z][a-z0-9+.-]*):\/\//i.exec(raw)?.[1]?.toLowerCase();
  const dbPath = remote && remote !== "file" ? raw : path.resolve(raw);
  const endpoint = str("s3-endpoint", "VECTOR_MEMORY_S3_ENDPOINT") || env.AWS_ENDPOINT || "";
  const location =
    remote && remote !== "file" ? `${dbPath} at ${endpoint || "the default endpoint"}` : dbPath;
  const fingerprint = hash(
    JSON.stringify([
      // A relative model directory or cache means another one from another working directory.
      relativeTo(str("model", "VECTOR_MEMORY_MODEL")),
      str("dtype", "VECTOR_MEMORY_DTYPE"),
      resolved(str("model-cache", "VECTOR_MEMORY_MODEL_CACHE")),
      bool("offline", "VECTOR_MEMORY_OFFLINE"),
      str("hub-url", "VECTOR_MEMORY_HUB_URL", env.HF_ENDPOINT ?? ""),
      str("ort-spinning", "VECTOR_MEMORY_ORT_SPINNING"),
      str("vector-cache-mb", "VECTOR_MEMORY_VECTOR_CACHE_MB"),
      str("s3-region", "VECTOR_MEMORY_S3_REGION"),
      str("s3-access-key-id", "VECTOR_MEMORY_S3_ACCESS_KEY_ID"),
      str("s3-secret-access-key", "VECTOR_MEMORY_S3_SECRET_ACCESS_KEY"),
      str("s3-session-token", "VECTOR_MEMORY_S3_SESSION_TOKEN"),
      bool("s3-allow-http", "VECTOR_MEMORY_S3_ALLOW_HTTP"),
      bool("s3-unsafe-single-writer", "VECTOR_MEMORY_S3_UNSAFE_SINGLE_WRITER"),
      // LanceDB reads these when the flags above are unset; the daemon keeps its first relay's.
      ...[
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_ALLOW_HTTP",
      ].map((name) => env[name] ?? ""),
    ]),
  );
  const key = hash(location).slice(0, 20);
  const socketDir = socketDirFor(env);
  return {
    location,
    fingerprint: fingerprint.slice(0, 20),
    socketDir,
    socketPath: path.join(socketDir, `${key}.sock`),
    lockPath: path.join(socketDir, key),
    logPath: path.join(dirs.data, "daemon", `${key}.log`),
  };
}

/**
 * Short and private: a Unix socket path must stay under ~104 bytes, and only the user may enter
 * the directory. `$XDG_RUNTIME_DIR` is made for this (0700, the user's, cleared at logout).
 */
function socketDirFor(env: Env): string {
  const own = env.VECTOR_MEMORY_DAEMON_DIR;
  if (own && path.isAbsolute(own)) return own;
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime && path.isAbsolute(runtime)) return path.join(runtime, APP_NAME);
  return path.join(tmpdir(), `${APP_NAME}-${process.getuid?.() ?? "user"}`);
}

/**
 * Makes the socket directory if needed and checks it is a real directory, owned by this user,
 * that nobody else may enter. Node cannot ask a Unix socket who is on the other end
 * (SO_PEERCRED), so this directory and the socket's own mode are the guard. Returns why not.
 */
export function secureSocketDir(dir: string): string | undefined {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    return `cannot make ${dir}: ${(error as Error).message}`;
  }
  const stat = lstatSync(dir);
  if (!stat.isDirectory()) return `${dir} is not a directory`;
  return ownedPrivately(dir, stat);
}

/** Whether the socket file, if any, is this user's and only theirs; "absent" when there is none. */
export function checkSocket(socketPath: string): "absent" | "ok" | { refused: string } {
  let stat: ReturnType<typeof lstatSync>;
  try {
    stat = lstatSync(socketPath);
  } catch {
    return "absent";
  }
  if (!stat.isSocket()) return { refused: `${socketPath} is not a socket` };
  const why = ownedPrivately(socketPath, stat);
  return why ? { refused: why } : "ok";
}

function ownedPrivately(file: string, stat: { uid: number; mode: number }): string | undefined {
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid)
    return `${file} belongs to uid ${stat.uid}, not to this user (uid ${uid})`;
  if ((stat.mode & 0o077) !== 0)
    return `${file} has mode ${(stat.mode & 0o777).toString(8).padStart(4, "0")}: others may use it (expected 0700 for the directory, 0600 for the socket)`;
  return undefined;
}

function relativeTo(value: string): string {
  return value.startsWith(".") ? path.resolve(value) : value;
}

function resolved(value: string): string {
  return value ? path.resolve(value) : value;
}

function envFlag(raw: string | undefined): boolean | undefined {
  if (raw === undefined) return false;
  const v = raw.trim().toLowerCase();
  if (TRUTHY.has(v)) return true;
  if (FALSY.has(v)) return false;
  return undefined;
}

function hash(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
