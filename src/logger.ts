import type { LogLevel } from "./config.js";

export type LogSeverity = Exclude<LogLevel, "silent">;

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** Also deliver log lines (those at or above the logger's level) to `listener`; returns an unsubscribe. */
  onLog(listener: (level: LogSeverity, message: string) => void): () => void;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/**
 * Logs to stderr: on stdio, stdout belongs to the MCP protocol and one stray line corrupts it.
 * Listeners (the MCP servers, for `notifications/message`) get the same lines.
 */
export function createLogger(
  level: LogLevel,
  write: (line: string) => void = (l) => process.stderr.write(l),
): Logger {
  const listeners = new Set<(level: LogSeverity, message: string) => void>();
  const at = (name: LogSeverity) => (message: string) => {
    if (RANK[name] < RANK[level]) return;
    write(`[vector-memory-mcp] ${name}: ${message}\n`);
    for (const listener of listeners) listener(name, message);
  };
  return {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    onLog(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export const silentLogger: Logger = createLogger("silent");
