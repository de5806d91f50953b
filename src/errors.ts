import { NEXT_STEPS, type NextSteps, type Surface } from "./contract/surfaces.js";

/**
 * A problem the caller can fix (bad filter, unknown collection, model unavailable...).
 * Tools turn it into an `isError` result whose text says what to do next; anything else is a bug.
 */
export type MemoryErrorCode =
  | "unknown_collection"
  | "invalid_filter"
  | "invalid_input"
  | "metadata_type_conflict"
  | "limit_exceeded"
  | "model_unavailable"
  | "model_mismatch"
  | "storage_unavailable";

/** A message with the next step left blank, to be worded for the surface that shows it. */
export type Worded = (steps: NextSteps) => string;

export class MemoryError extends Error {
  override readonly name = "MemoryError";
  private readonly worded: Worded | undefined;

  /** `message` is worded for MCP, the server's own surface; `messageFor` words it for another. */
  constructor(
    readonly code: MemoryErrorCode,
    message: string | Worded,
  ) {
    super(typeof message === "string" ? message : message(NEXT_STEPS.mcp));
    this.worded = typeof message === "string" ? undefined : message;
  }

  /** The message as `surface` says it: tool names over MCP, commands in the CLI. */
  messageFor(surface: Surface): string {
    return this.worded ? this.worded(NEXT_STEPS[surface]) : this.message;
  }
}

export function unknownCollectionError(collection: string, known: string[]): MemoryError {
  const list = known.length > 0 ? `Known collections: ${known.join(", ")}.` : "There are no collections yet.";
  return new MemoryError(
    "unknown_collection",
    (say) => `Collection "${collection}" does not exist. ${list} ${say.createCollection}`,
  );
}

/** The client cancelled the request (notifications/cancelled); nothing of the unfinished call was stored. */
export class CancelledError extends Error {
  override readonly name = "CancelledError";
}

/** Stops work between steps once the request is cancelled, whatever reason the abort carried. */
export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError("The request was cancelled.");
}
