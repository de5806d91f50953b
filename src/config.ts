import { homedir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";
import {
  APP_NAME,
  DEFAULT_DAEMON_IDLE_SECONDS,
  defaultDirs,
  GLOBAL_OPTIONS,
  type OptionsConfig,
  type PlatformInfo,
} from "./config-args.js";
import { isRemoteUri, type ObjectStoreOptions, parseS3Uri, uriScheme } from "./storage-uri.js";

export const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const DEFAULT_MODEL = "Xenova/all-MiniLM-L6-v2";
export const DEFAULT_HUB_URL = "https://huggingface.co";
export const DEFAULT_PORT = 7821;
export { DEFAULT_DAEMON_IDLE_SECONDS } from "./config-args.js";

export interface Config {
  /** Directory of the LanceDB database, or an object-storage URI (`s3://bucket/prefix`). */
  dbPath: string;
  /** S3 options for an `s3://` database; unset ones leave LanceDB's own `AWS_*` env in charge. */
  objectStore: ObjectStoreOptions;
  /** Model for new collections: a Hugging Face id, a local model directory, or a bundled model name. */
  model: string;
  /** Weight precision for transformers.js models; undefined = q8 for hub models, auto for local dirs. */
  dtype: string | undefined;
  /** Where downloaded models are cached. */
  modelCache: string;
  /** Never touch the network: only bundled, cached or local models. */
  offline: boolean;
  /** Where models are downloaded from (the Hugging Face hub or a mirror of it). */
  hubUrl: string;
  /** Whether ONNX Runtime's threads spin while waiting for work; undefined keeps its default (spin). */
  ortSpinning: boolean | undefined;
  /**
   * Memory for the in-memory copy of the vectors that exact searches scan, all collections
   * together, in MiB (0 turns it off); undefined keeps the store's default (1 GiB).
   */
  vectorCacheMb: number | undefined;
  /** Machine-readable output for CLI commands. */
  json: boolean;
  /** Serve MCP over streamable HTTP instead of stdio. */
  http: boolean;
  /** Serve stdio in this process instead of relaying to the shared daemon (src/daemon/). */
  noDaemon: boolean;
  /** How long the daemon stays up with no client attached, in seconds. */
  daemonIdleSeconds: number;
  host: string;
  port: number;
  /** Where the generated HTTP bearer token is kept (unless VECTOR_MEMORY_TOKEN is set). */
  tokenFile: string;
  /** Browser origins allowed to call the HTTP server, besides its own loopback names. */
  allowedOrigins: string[];
  logLevel: LogLevel;
  /** Subcommand words after the flags (e.g. `models list`); empty when running the server. */
  command: string[];
  /** The values of the command's own options (`commandOptions` of readConfig), as given. */
  flags: CommandFlagValues;
  help: boolean;
  version: boolean;
}

export type { OptionsConfig } from "./config-args.js";

export type CommandFlagValues = Readonly<Record<string, string | boolean | string[] | undefined>>;

/** Bad configuration: the message is shown to the user as is, then the process exits 1. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Flags that do not parse (an unknown option, a missing value); `detail` is the bare reason. */
export class ArgvError extends ConfigError {
  constructor(
    reason: string,
    /** The reason's first line, for a one-line error. */
    readonly detail: string,
    /** The option that is not known, e.g. "--drop", when that is the problem. */
    readonly unknownOption: string | undefined,
  ) {
    super(`${reason}\n\n${USAGE}`);
  }
}

type Env = Record<string, string | undefined>;

export { APP_NAME, defaultDirs, type PlatformInfo };

const truthy = new Set(["1", "true", "yes", "on"]);
const falsy = new Set(["0", "false", "no", "off", ""]);

const envBoolean = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => truthy.has(v) || falsy.has(v), { message: "expected 1/0, true/false, yes/no or on/off" })
  .transform((v) => truthy.has(v));

const nonEmptyPath = z.string().trim().min(1, "must not be empty");

const dtypeSchema = z.enum(["auto", "fp32", "fp16", "q8", "int8", "uint8", "q4", "bnb4", "q4f16"]);

const optionalText = z
  .string()
  .trim()
  .optional()
  .transform((v) => v || undefined);

const objectStoreSchema = z.object({
  endpoint: z
    .url({ protocol: /^https?$/, error: "must be an http(s) URL like http://127.0.0.1:7480" })
    .optional(),
  region: optionalText,
  accessKeyId: optionalText,
  secretAccessKey: optionalText,
  sessionToken: optionalText,
  allowHttp: envBoolean.optional(),
  unsafeSingleWriter: envBoolean.optional(),
});

const configSchema = z.object({
  dbPath: nonEmptyPath.refine((p) => uriScheme(p) !== "s3" || parseS3Uri(p) !== undefined, {
    message: "an s3:// URI needs a bucket: s3://bucket/prefix",
  }),
  objectStore: objectStoreSchema,
  model: z.string().trim().min(1, "must not be empty"),
  dtype: dtypeSchema.optional(),
  modelCache: nonEmptyPath,
  offline: z.boolean(),
  hubUrl: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
  ortSpinning: envBoolean.optional(),
  vectorCacheMb: z.coerce.number().int("must be a whole number of MiB").min(0).max(1_048_576).optional(),
  http: z.boolean(),
  noDaemon: z.boolean(),
  daemonIdleSeconds: z.coerce.number().min(0, "must be 0 or more seconds").max(31_536_000),
  host: z.string().trim().min(1, "must not be empty"),
  port: z.coerce.number().int().min(0).max(65535),
  tokenFile: nonEmptyPath,
  allowedOrigins: z.array(
    z.url({ protocol: /^https?$/, error: "origins are http(s) URLs like http://localhost:3000" }),
  ),
  logLevel: z.enum(LOG_LEVELS),
});

const USAGE = `Usage: ${APP_NAME} [options]                 run the MCP server on stdio
       ${APP_NAME} models list [--json]       bundled, cached and in-use models
       ${APP_NAME} models pull <id> [--dtype]  download a model once, for offline use
       ${APP_NAME} reembed <collection> --model <id|dir|name> [--dtype]
                                              move a collection to another model
       ${APP_NAME} add <collection> <files or dirs...> [--include glob] [--exclude glob]
       ${APP_NAME} search <collection> "<query>" [-n N] [--where JSON] [--mode hybrid|semantic|keyword]
       ${APP_NAME} list | stats [<collection>]
       ${APP_NAME} get <collection> [ids...] [--where JSON] [--limit N]
       ${APP_NAME} delete <collection> (ids... | --where JSON | --drop) [--dry-run]
       ${APP_NAME} export <collection> > file.jsonl   |   import <collection> < file.jsonl
       ${APP_NAME} ui [--port N]                a web UI on 127.0.0.1 (default port 7822; 0 picks one)
       ${APP_NAME} daemon status | stop [--json]  the shared background server for this database
         (--json for machine-readable output; exit 0 ok, 1 failed, 2 bad usage)

A local vector memory for LLM agents, served over MCP.

Options (each also settable by the environment variable shown):
  --db-path <dir|uri>    LanceDB database directory, or s3://bucket/prefix  VECTOR_MEMORY_DB_PATH
  --s3-endpoint <url>    S3-compatible endpoint (default AWS)  VECTOR_MEMORY_S3_ENDPOINT
  --s3-region <region>   VECTOR_MEMORY_S3_REGION
  --s3-access-key-id <id> / --s3-secret-access-key <secret> / --s3-session-token <token>
                         VECTOR_MEMORY_S3_ACCESS_KEY_ID / _SECRET_ACCESS_KEY / _SESSION_TOKEN
                         (unset: LanceDB's AWS_* environment variables apply)
  --s3-allow-http        allow a plain-HTTP endpoint        VECTOR_MEMORY_S3_ALLOW_HTTP=1
  --s3-unsafe-single-writer  skip the check that the store refuses overwrites (one writer only)
                         VECTOR_MEMORY_S3_UNSAFE_SINGLE_WRITER=1
  --model <id|dir|name>  embedding model for new collections VECTOR_MEMORY_MODEL
                         (Hugging Face id, local model directory, or a bundled model)
  --dtype <dtype>        weight precision for transformers.js models  VECTOR_MEMORY_DTYPE
                         (q8 default for hub models; auto picks what a local dir has)
  --model-cache <dir>    where downloaded models are cached  VECTOR_MEMORY_MODEL_CACHE
  --offline              never touch the network           VECTOR_MEMORY_OFFLINE=1
  --hub-url <url>        model hub or mirror to download from  VECTOR_MEMORY_HUB_URL
                         (default: $HF_ENDPOINT, else https://huggingface.co)
  --ort-spinning <on|off> ONNX Runtime threads spin while idle (default on)  VECTOR_MEMORY_ORT_SPINNING
                         (off: steadier and up to 3x faster on a busy machine)
  --vector-cache-mb <n>  memory for exact searches' copy of the vectors, all collections
                         (default 1024; 0 turns it off)  VECTOR_MEMORY_VECTOR_CACHE_MB
  --json                 machine-readable output (CLI commands)
  --http                 serve MCP over streamable HTTP (POST/GET /mcp)  VECTOR_MEMORY_HTTP=1
  --no-daemon            serve stdio in this process, not through the shared daemon
                         VECTOR_MEMORY_NO_DAEMON=1
  --daemon-idle <s>      the daemon exits after this many seconds with no client
                         (default 600)  VECTOR_MEMORY_DAEMON_IDLE
                         (sockets: VECTOR_MEMORY_DAEMON_DIR, default $XDG_RUNTIME_DIR/vector-memory-mcp)
  --host <addr>          HTTP bind address (default 127.0.0.1)  VECTOR_MEMORY_HOST
  --port <n>             HTTP port (default 7821; 0 picks one)  VECTOR_MEMORY_PORT
  --token-file <file>    HTTP bearer token file, made 0600 on first use  VECTOR_MEMORY_TOKEN_FILE
                         (VECTOR_MEMORY_TOKEN sets the token directly)
  --allowed-origin <url> a browser origin allowed to call the HTTP server (repeatable)
                         VECTOR_MEMORY_ALLOWED_ORIGINS (comma-separated)
  --log-level <level>    debug|info|warn|error|silent      VECTOR_MEMORY_LOG_LEVEL
  -h, --help             show this help
  -v, --version          show the version
`;

export function usage(): string {
  return USAGE;
}

/**
 * Reads flags first, then environment variables, then defaults; validates everything with zod.
 * The server's options apply everywhere; `commandOptions` are the subcommand's own (see
 * src/commands/), so a flag of another command is unknown here rather than silently ignored.
 */
export function readConfig(
  env: Env,
  argv: string[],
  platform: PlatformInfo = { platform: process.platform, home: homedir() },
  commandOptions: OptionsConfig = {},
): Config {
  let parsed: ReturnType<typeof parseFlags>;
  try {
    parsed = parseFlags(argv, commandOptions);
  } catch (error) {
    const e = error as Error & { code?: string };
    const unknown = e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" ? /'([^']+)'/.exec(e.message)?.[1] : undefined;
    throw new ArgvError(e.message, e.message.split("\n")[0] ?? e.message, unknown);
  }
  const { values, positionals } = parsed;
  const flags = Object.fromEntries(Object.keys(commandOptions).map((key) => [key, values[key]]));

  /** A boolean environment variable; unset is false. */
  const flag = (name: string): boolean => {
    const raw = env[name];
    if (raw === undefined) return false;
    const result = envBoolean.safeParse(raw);
    if (!result.success)
      throw new ConfigError(`Invalid ${name}=${JSON.stringify(raw)}: ${result.error.issues[0]?.message}`);
    return result.data;
  };
  const offline = values.offline ?? flag("VECTOR_MEMORY_OFFLINE");

  const dirs = defaultDirs(env, platform);
  const candidate = {
    dbPath: values["db-path"] ?? env.VECTOR_MEMORY_DB_PATH ?? path.join(dirs.data, "db"),
    objectStore: {
      endpoint: values["s3-endpoint"] ?? (env.VECTOR_MEMORY_S3_ENDPOINT || undefined),
      region: values["s3-region"] ?? env.VECTOR_MEMORY_S3_REGION,
      accessKeyId: values["s3-access-key-id"] ?? env.VECTOR_MEMORY_S3_ACCESS_KEY_ID,
      secretAccessKey: values["s3-secret-access-key"] ?? env.VECTOR_MEMORY_S3_SECRET_ACCESS_KEY,
      sessionToken: values["s3-session-token"] ?? env.VECTOR_MEMORY_S3_SESSION_TOKEN,
      // Unset stays unset, so LanceDB's AWS_ALLOW_HTTP still decides.
      allowHttp: values["s3-allow-http"] ? "1" : env.VECTOR_MEMORY_S3_ALLOW_HTTP,
      unsafeSingleWriter: values["s3-unsafe-single-writer"] ? "1" : env.VECTOR_MEMORY_S3_UNSAFE_SINGLE_WRITER,
    },
    model: values.model ?? env.VECTOR_MEMORY_MODEL ?? DEFAULT_MODEL,
    dtype: values.dtype ?? (env.VECTOR_MEMORY_DTYPE || undefined),
    modelCache: values["model-cache"] ?? env.VECTOR_MEMORY_MODEL_CACHE ?? path.join(dirs.cache, "models"),
    offline,
    hubUrl: values["hub-url"] ?? (env.VECTOR_MEMORY_HUB_URL || env.HF_ENDPOINT || DEFAULT_HUB_URL),
    ortSpinning: values["ort-spinning"] ?? (env.VECTOR_MEMORY_ORT_SPINNING || undefined),
    vectorCacheMb: values["vector-cache-mb"] ?? (env.VECTOR_MEMORY_VECTOR_CACHE_MB || undefined),
    http: values.http ?? flag("VECTOR_MEMORY_HTTP"),
    noDaemon: values["no-daemon"] ?? flag("VECTOR_MEMORY_NO_DAEMON"),
    daemonIdleSeconds:
      values["daemon-idle"] ?? (env.VECTOR_MEMORY_DAEMON_IDLE || String(DEFAULT_DAEMON_IDLE_SECONDS)),
    host: values.host ?? (env.VECTOR_MEMORY_HOST || "127.0.0.1"),
    port: values.port ?? (env.VECTOR_MEMORY_PORT || String(DEFAULT_PORT)),
    tokenFile: values["token-file"] ?? env.VECTOR_MEMORY_TOKEN_FILE ?? path.join(dirs.data, "http-token"),
    allowedOrigins:
      values["allowed-origin"] ??
      (env.VECTOR_MEMORY_ALLOWED_ORIGINS ?? "")
        .split(",")
        .map((o) => o.trim())
        .filter(Boolean),
    logLevel: values["log-level"] ?? (env.VECTOR_MEMORY_LOG_LEVEL || "info"),
  };
  const result = configSchema.safeParse(candidate);
  if (!result.success) {
    const lines = result.error.issues.map(
      (issue) => `  ${describeKey(issue.path.map(String))}: ${issue.message}`,
    );
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}\n\nRun with --help for usage.`);
  }
  const config = result.data;
  return {
    ...config,
    // A URI is LanceDB's to open; resolving it would make it a local path under the working directory.
    dbPath: isRemoteUri(config.dbPath) ? config.dbPath : path.resolve(config.dbPath),
    tokenFile: path.resolve(config.tokenFile),
    modelCache: path.resolve(config.modelCache),
    dtype: config.dtype === "auto" ? undefined : config.dtype,
    ortSpinning: config.ortSpinning,
    vectorCacheMb: config.vectorCacheMb,
    command: positionals,
    flags,
    json: values.json ?? false,
    help: values.help ?? false,
    // `restore --version N` is a command's string option of the same name: only the bare flag asks for the version.
    version: values.version === true,
  };
}

/**
 * The first word that is not a server option or its value: the subcommand, if one was given.
 * Read before the command's own options are known, so unknown flags are let pass here.
 */
export function commandName(argv: string[]): string | undefined {
  const { positionals } = parseArgs({
    args: argv,
    options: GLOBAL_OPTIONS,
    allowPositionals: true,
    strict: false,
  });
  return positionals[0];
}

function parseFlags(argv: string[], commandOptions: OptionsConfig) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { ...GLOBAL_OPTIONS, ...pickParseArgsKeys(commandOptions) },
  });
  // The server's options keep their declared types; the command's are read by name.
  return { values: values as GlobalValues & CommandFlagValues, positionals };
}

/** Command option specs may carry more (a placeholder, `required`); parseArgs gets only its own keys. */
function pickParseArgsKeys(options: OptionsConfig): OptionsConfig {
  return Object.fromEntries(
    Object.entries(options).map(([name, { type, short, multiple }]) => [
      name,
      { type, ...(short === undefined ? {} : { short }), ...(multiple === undefined ? {} : { multiple }) },
    ]),
  );
}

type GlobalValues = ReturnType<
  typeof parseArgs<{ args: string[]; allowPositionals: true; strict: true; options: typeof GLOBAL_OPTIONS }>
>["values"];

const KEY_NAMES: Record<string, string> = {
  dbPath: "--db-path / VECTOR_MEMORY_DB_PATH",
  "objectStore.endpoint": "--s3-endpoint / VECTOR_MEMORY_S3_ENDPOINT",
  "objectStore.allowHttp": "--s3-allow-http / VECTOR_MEMORY_S3_ALLOW_HTTP",
  "objectStore.unsafeSingleWriter": "--s3-unsafe-single-writer / VECTOR_MEMORY_S3_UNSAFE_SINGLE_WRITER",
  model: "--model / VECTOR_MEMORY_MODEL",
  dtype: "--dtype / VECTOR_MEMORY_DTYPE",
  modelCache: "--model-cache / VECTOR_MEMORY_MODEL_CACHE",
  offline: "--offline / VECTOR_MEMORY_OFFLINE",
  hubUrl: "--hub-url / VECTOR_MEMORY_HUB_URL",
  ortSpinning: "--ort-spinning / VECTOR_MEMORY_ORT_SPINNING",
  vectorCacheMb: "--vector-cache-mb / VECTOR_MEMORY_VECTOR_CACHE_MB",
  http: "--http / VECTOR_MEMORY_HTTP",
  noDaemon: "--no-daemon / VECTOR_MEMORY_NO_DAEMON",
  daemonIdleSeconds: "--daemon-idle / VECTOR_MEMORY_DAEMON_IDLE",
  host: "--host / VECTOR_MEMORY_HOST",
  port: "--port / VECTOR_MEMORY_PORT",
  tokenFile: "--token-file / VECTOR_MEMORY_TOKEN_FILE",
  allowedOrigins: "--allowed-origin / VECTOR_MEMORY_ALLOWED_ORIGINS",
  logLevel: "--log-level / VECTOR_MEMORY_LOG_LEVEL",
};

function describeKey(path: string[]): string {
  const [key = "", sub] = path;
  return (sub === undefined ? undefined : KEY_NAMES[`${key}.${sub}`]) ?? KEY_NAMES[key] ?? key;
}
