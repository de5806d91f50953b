/** `vector-memory-mcp daemon serve | status | stop`: the shared daemon, for relays and for people. */
import type { Socket } from "node:net";
import type { App } from "../app.js";
import type { CommandIO } from "../commands/io.js";
import { EXIT } from "../commands/io.js";
import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import { createServer } from "../server.js";
import { VERSION } from "../version.js";
import { DaemonStartError, startDaemon } from "./daemon.js";
import { checkSocket, daemonPlaceFor, secureSocketDir } from "./location.js";
import { type DaemonHello, openingLine, reachDaemon } from "./protocol.js";

const USAGE = "usage: vector-memory-mcp daemon status | stop [--json] (the same --db-path as the editor's)";

export async function daemonCommand(
  config: Config,
  argv: string[],
  logger: Logger,
  makeApp: () => App,
  io: CommandIO,
): Promise<number> {
  const [, sub, ...extra] = config.command;
  const place = daemonPlaceFor(process.env, argv);
  if (extra.length > 0 || !["serve", "status", "stop"].includes(sub ?? "")) {
    io.err(`vector-memory-mcp daemon: ${USAGE}\n`);
    return EXIT.usage;
  }
  if (sub === "serve") {
    const app = makeApp();
    try {
      const started = await startDaemon({
        place,
        version: VERSION,
        idleMs: config.daemonIdleSeconds * 1000,
        logger,
        makeServer: () => createServer({ memory: app.memory, logger }),
        close: () => app.close(),
      });
      if (started.kind === "another") {
        logger.info(
          `a daemon (pid ${started.pid ?? "busy"}) already serves ${place.location}; this one exits`,
        );
        await app.close();
        return EXIT.ok;
      }
      app.embedders.warm(app.defaultModel);
      // On object storage: a wrong secret or endpoint goes to the daemon's log at once (main.ts).
      app
        .checkStore()
        .catch((error: unknown) => logger.error(error instanceof Error ? error.message : String(error)));
      await started.stopped;
      return EXIT.ok;
    } catch (error) {
      if (!(error instanceof DaemonStartError)) throw error;
      logger.error(`cannot start the daemon: ${error.message}`);
      await app.close();
      return EXIT.failed;
    }
  }
  // As the relay does: a socket someone else could have made is not talked to.
  const socketFile = checkSocket(place.socketPath);
  const refused =
    secureSocketDir(place.socketDir) ?? (typeof socketFile === "object" ? socketFile.refused : undefined);
  if (refused) {
    io.err(`vector-memory-mcp daemon: refusing the daemon socket: ${refused}\n`);
    return EXIT.failed;
  }
  const reached = await reachDaemon(place.socketPath);
  if (reached.kind === "none") {
    const text = `no daemon runs for ${place.location} (socket ${place.socketPath})`;
    if (config.json)
      io.out(`${JSON.stringify({ running: false, location: place.location, socket: place.socketPath })}\n`);
    else io.out(`${text}\n`);
    return sub === "status" ? EXIT.failed : EXIT.ok;
  }
  const { hello, socket } = reached;
  if (sub === "status") {
    socket.resume();
    socket.end(openingLine("status"));
    if (config.json)
      io.out(`${JSON.stringify({ running: true, socket: place.socketPath, ...strip(hello) })}\n`);
    else io.out(describe(hello, place.socketPath));
    return EXIT.ok;
  }
  await stop(socket);
  // Gone when its process is: it closes the store and models after it stops listening.
  for (let i = 0; i < 200 && alive(hello.pid); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  if (alive(hello.pid)) {
    io.err(`vector-memory-mcp daemon: the daemon (pid ${hello.pid}) is still closing after 10 s\n`);
    return EXIT.failed;
  }
  io.out(`stopped the daemon (pid ${hello.pid}) for ${hello.location}\n`);
  return EXIT.ok;
}

function stop(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    socket.once("close", () => resolve());
    socket.resume();
    socket.write(openingLine("stop"));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function strip(hello: DaemonHello) {
  const { vectorMemoryDaemon: _tag, ...rest } = hello;
  return rest;
}

function describe(hello: DaemonHello, socketPath: string): string {
  return [
    `daemon pid ${hello.pid}, version ${hello.version}, running since ${hello.startedAt}`,
    `  database  ${hello.location}`,
    `  clients   ${hello.clients} attached`,
    `  memory    ${Math.round(hello.rssBytes / 1048576)} MiB resident`,
    `  socket    ${socketPath}`,
    `  log       ${hello.log}`,
    "",
  ].join("\n");
}
