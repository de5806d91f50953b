import { z } from "zod";
import { createLogger } from "../logger.js";
import { startUiServer } from "../ui/server.js";
import { defineCommand, numberFlag, parseInput } from "./command.js";
import { EXIT, UsageError } from "./io.js";
import { openBrowser } from "./open-browser.js";

/** Beside the MCP HTTP default (7821), so both can run at once. */
export const DEFAULT_UI_PORT = 7822;

const portInput = z.object({ port: z.number().int().min(0).max(65535) });

export const uiCommand = defineCommand({
  name: "ui",
  usage: "ui [--port N] [--open]",
  options: {
    port: { type: "string", value: "N" },
    open: { type: "boolean" },
  },
  async run({ args, flags, config, app, io }) {
    if (args.length > 0) throw new UsageError(`usage: ${this.usage}`);
    const { port } = parseInput(
      portInput,
      { port: numberFlag("--port", flags.port) ?? DEFAULT_UI_PORT },
      { port: "--port" },
    );
    const logger = createLogger(config.logLevel, io.err);
    let ui: Awaited<ReturnType<typeof startUiServer>>;
    try {
      ui = await startUiServer({ port, memory: app.memory, logger });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
      io.err(`vector-memory-mcp ui: port ${port} is in use; --port 0 picks a free one.\n`);
      return EXIT.failed;
    }
    // The login URL is the one thing on stdout, so scripts (and the tests) can read it.
    io.out(`${ui.loginUrl}\n`);
    io.err(`Web UI on ${ui.url} for database ${config.dbPath}; Ctrl-C stops it.\n`);
    if (flags.open) {
      const problem = await openBrowser(ui.loginUrl);
      if (problem) io.err(`--open: could not start a browser (${problem}); open the URL above yourself.\n`);
    }
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    await ui.close();
    return EXIT.ok;
  },
});
