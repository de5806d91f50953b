import type { LogLevel } from "./config.js";

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/**
 * Logs to stderr only: on stdio, stdout belongs to the MCP protocol and one stray line corrupts it.
 */
export function createLogger(
  level: LogLevel,
  write: (line: string) => void = (l) => process.stderr.write(l),
): Logger {
  const at = (name: Exclude<LogLevel, "silent">) => (message: string) => {
    if (RANK[name] >= RANK[level]) write(`[vector-memory-mcp] ${name}: ${message}\n`);
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

export const silentLogger: Logger = createLogger("silent");
