#!/usr/bin/env node
// stdout carries the MCP protocol only. Libraries that log with console.log (model runtimes do)
// would corrupt it, so console output goes to stderr before anything else is imported.
console.log = console.error;
console.info = console.error;
console.debug = console.error;
process.env.LANCEDB_LOG ??= "error";

// The plain stdio server (what editors start) is a light relay to the shared daemon; it loads
// only Node's own modules, so the decision comes before anything heavy is imported.
const argv = process.argv.slice(2);
const { planStart } = await import("./daemon/location.js");
const plan = planStart(process.env, argv);
if (plan.kind === "relay") {
  const { runRelay } = await import("./daemon/relay.js");
  const { VERSION } = await import("./version.js");
  const entry = process.argv[1] ?? "";
  runRelay({
    place: plan.place,
    version: VERSION,
    daemonCommand: {
      command: process.execPath,
      args: [...process.execArgv, entry, "daemon", "serve", ...argv],
    },
    checkConfig: async () => {
      const { ConfigError, readConfig } = await import("./config.js");
      try {
        readConfig(process.env, argv);
        return undefined;
      } catch (error) {
        if (error instanceof ConfigError) return error.message;
        throw error;
      }
    },
    inProcess: async (why) => (await import("./daemon/in-process.js")).inProcessUpstream(argv, why),
    log: (line) => process.stderr.write(`[vector-memory-mcp] relay: ${line}\n`),
  });
} else {
  const { main } = await import("./main.js");
  const code = await main();
  if (code >= 0) process.exit(code);
}
