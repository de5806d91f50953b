/**
 * The relay's fallback when no daemon can be used: the whole server in this process, as
 * `--no-daemon` runs it, reached by the relay through an in-memory transport pair. Imported only
 * then, so the relay itself stays light.
 */
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { createApp } from "../app.js";
import { ConfigError, readConfig } from "../config.js";
import { createLogger } from "../logger.js";
import { createServer } from "../server.js";
import type { JsonRpc, Upstream } from "./relay.js";

export async function inProcessUpstream(argv: string[], why: string): Promise<Upstream> {
  let config: ReturnType<typeof readConfig>;
  try {
    config = readConfig(process.env, argv);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`vector-memory-mcp: ${error.message}\n`);
    process.exit(1);
  }
  const logger = createLogger(config.logLevel);
  logger.warn(why);
  const app = createApp(config, logger);
  const server = createServer({ memory: app.memory, logger });
  const [ours, theirs] = InMemoryTransport.createLinkedPair();
  await server.connect(theirs);
  app.embedders.warm(app.defaultModel);
  const upstream: Upstream = {
    name: "the in-process server",
    send(message: JsonRpc) {
      void ours.send(message as JSONRPCMessage);
    },
    // Awaited before the relay exits, as --no-daemon awaits it: a compaction is not cut midway.
    async close() {
      await server.close();
      await app.close();
    },
  };
  ours.onmessage = (message) => upstream.onmessage?.(message as JsonRpc);
  await ours.start();
  return upstream;
}
