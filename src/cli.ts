#!/usr/bin/env node
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";

// stdout carries the MCP protocol only. Libraries that log with console.log (model runtimes do)
// would corrupt it, so console output goes to stderr before anything else is imported.
console.log = console.error;
console.info = console.error;
console.debug = console.error;
process.env.LANCEDB_LOG ??= "error";

const { ConfigError, readConfig, usage } = await import("./config.js");
const { createLogger } = await import("./logger.js");
const { createApp } = await import("./app.js");
const { createServer } = await import("./server.js");
const { specId } = await import("./embeddings/model-spec.js");
const { VERSION } = await import("./version.js");
const { processIO } = await import("./commands/io.js");
const { modelsCommand } = await import("./commands/models.js");
const { reembedCommand } = await import("./commands/reembed.js");

const COMMANDS: Record<string, typeof modelsCommand> = { models: modelsCommand, reembed: reembedCommand };

async function main(): Promise<number> {
  let config: ReturnType<typeof readConfig>;
  try {
    config = readConfig(process.env, process.argv.slice(2));
  } catch (error) {
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
  const app = createApp(config, logger);
  const [command, ...args] = config.command;
  if (command !== undefined) {
    const run = COMMANDS[command];
    if (!run) {
      process.stderr.write(`vector-memory-mcp: unknown command "${command}"\n\n${usage()}`);
      return 1;
    }
    try {
      return await run(args, config, app, processIO);
    } finally {
      await app.close();
    }
  }
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

const code = await main();
if (code >= 0) process.exit(code);
