/**
 * The whole program, loaded by src/cli.ts unless this process is only a stdio relay: commands,
 * the in-process stdio server (`--no-daemon`), `--http`, and `daemon serve|status|stop`.
 */
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { App } from "./app.js";
import type { Config } from "./config.js";
import type { Logger } from "./logger.js";

const { ArgvError, ConfigError, commandName, readConfig, usage } = await import("./config.js");
const { createLogger } = await import("./logger.js");
const { createApp } = await import("./app.js");
const { createServer } = await import("./server.js");
const { specId } = await import("./embeddings/model-spec.js");
const { VERSION } = await import("./version.js");
const { EXIT, processIO } = await import("./commands/io.js");
const { COMMANDS, runCommand, unknownFlagMessage } = await import("./commands/index.js");
const { MAX_BODY_BYTES, startHttpServer } = await import("./http.js");
const { resolveToken } = await import("./http-token.js");
const { createUiHandler } = await import("./ui/server.js");
const { daemonCommand } = await import("./daemon/command.js");

/** Runs what the command line asks; a negative result means "keep running" (a server). */
export async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const name = commandName(argv);
  const command = name === undefined ? undefined : COMMANDS.get(name);
  let config: ReturnType<typeof readConfig>;
  try {
    // A command's own flags are known only to it; any other command's flag is unknown here.
    config = readConfig(process.env, argv, undefined, command?.options);
  } catch (error) {
    if (error instanceof ArgvError && command) {
      process.stderr.write(
        `vector-memory-mcp ${command.name}: ${unknownFlagMessage(command, error.unknownOption ? `unknown option ${error.unknownOption}` : error.detail)}\n`,
      );
      return EXIT.usage;
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`vector-memory-mcp: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  if (config.help) {
    process.stdout.write(usage());
    return 0;
  }
  if (config.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const logger = createLogger(config.logLevel);
  if (name === "daemon")
    return daemonCommand(config, process.argv.slice(2), logger, () => createApp(config, logger), processIO);
  const app = createApp(config, logger);
  if (name !== undefined) {
    if (!command) {
      await app.close();
      process.stderr.write(`vector-memory-mcp: unknown command "${name}"\n\n${usage()}`);
      return EXIT.usage;
    }
    try {
      return await runCommand(command, config.command.slice(1), config, app, processIO);
    } finally {
      await app.close();
    }
  }
  // A server on object storage says at once when the store cannot be written (a wrong secret, an
  // unreachable endpoint), rather than at an agent's first write; the handshake does not wait.
  app
    .checkStore()
    .catch((error: unknown) => logger.error(error instanceof Error ? error.message : String(error)));
  if (config.http) return serveHttp(config, app, logger);
  const server = createServer({ memory: app.memory, logger });
  const transport = new StdioServerTransport();

  let closing = false;
  const shutdown = async (reason: string) => {
    if (closing) return;
    closing = true;
    logger.info(`shutting down (${reason})`);
    await server.close().catch(() => undefined);
    await app.close().catch((error: unknown) => logger.error(`close failed: ${String(error)}`));
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.stdin.on("end", () => void shutdown("stdin closed"));

  await server.connect(transport);
  logger.info(
    `v${VERSION} ready on stdio; database ${config.dbPath}; default model ${specId(app.defaultModel)}`,
  );
  // Load the default model in the background: the handshake never waits for it, the first tool call does.
  app.embedders.warm(app.defaultModel);
  return -1;
}

async function serveHttp(config: Config, app: App, logger: Logger): Promise<number> {
  let token: { token: string; source: string };
  try {
    token = resolveToken(process.env.VECTOR_MEMORY_TOKEN, config.tokenFile);
  } catch (error) {
    process.stderr.write(`vector-memory-mcp: ${(error as Error).message}\n`);
    return 1;
  }
  if (!["127.0.0.1", "localhost", "::1"].includes(config.host)) {
    logger.warn(
      `binding ${config.host}: the server is reachable beyond this machine; anyone with the token can use it`,
    );
  }
  // The web UI beside /mcp; without its built files (a tsx run from src/) MCP is served alone.
  let beside: ReturnType<typeof createUiHandler> | undefined;
  try {
    beside = createUiHandler({ memory: app.memory, logger });
  } catch (error) {
    logger.warn(`no web UI beside /mcp: ${(error as Error).message}`);
  }
  const http = await startHttpServer({
    host: config.host,
    port: config.port,
    token: token.token,
    allowedOrigins: config.allowedOrigins,
    maxBodyBytes: MAX_BODY_BYTES,
    logger,
    makeServer: () => createServer({ memory: app.memory, logger }),
    ...(beside ? { beside } : {}),
  });
  const shutdown = async (reason: string) => {
    logger.info(`shutting down (${reason})`);
    await http.close().catch(() => undefined);
    await app.close().catch(() => undefined);
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  // Before the "listening" line (which scripts wait for), whatever the log level: it is the way in.
  if (http.besideLoginUrl)
    process.stderr.write(`web UI: ${http.besideLoginUrl} (one login; see README "Web UI")\n`);
  logger.info(
    `v${VERSION} listening on ${http.url} (bearer token from ${token.source}); database ${config.dbPath}`,
  );
  app.embedders.warm(app.defaultModel);
  return -1;
}
