import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { CallToolResult, ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import { CancelledError, MemoryError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { Progress } from "../memory.js";

export function toolResult(structuredContent: Record<string, unknown>, text: string): CallToolResult {
  return { structuredContent, content: [{ type: "text", text }] };
}

export function toolError(text: string): CallToolResult {
  return { isError: true, content: [{ type: "text", text }] };
}

/**
 * Runs a tool body: problems the agent can fix become `isError` results with their advice;
 * anything else is a bug, logged with its stack and reported without internals.
 */
export async function runTool(
  logger: Logger,
  tool: string,
  body: () => Promise<CallToolResult>,
): Promise<CallToolResult> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof MemoryError) return toolError(error.messageFor("mcp"));
    if (error instanceof CancelledError)
      return toolError(`${tool} was cancelled; nothing from the unfinished call was stored.`);
    logger.error(
      `${tool} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    return toolError(
      `${tool} failed with an internal error (${message}). This is a bug in vector-memory-mcp; the server log has details.`,
    );
  }
}

/** One line of a document for a text summary. */
export function snippet(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/**
 * Where the client asked for progress (a `progressToken`), sends each update as
 * `notifications/progress`; otherwise undefined, so no work is spent on it.
 */
export function progressSender(
  extra: RequestHandlerExtra<ServerRequest, ServerNotification>,
): Progress | undefined {
  const progressToken = extra._meta?.progressToken;
  if (progressToken === undefined) return undefined;
  return ({ progress, total, message }) => {
    extra
      .sendNotification({
        method: "notifications/progress",
        params: { progressToken, progress, total, message },
      })
      .catch(() => undefined);
  };
}
