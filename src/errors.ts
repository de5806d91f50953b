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

export class MemoryError extends Error {
  override readonly name = "MemoryError";
  constructor(
    readonly code: MemoryErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function unknownCollectionError(collection: string, known: string[]): MemoryError {
  const list = known.length > 0 ? `Known collections: ${known.join(", ")}.` : "There are no collections yet.";
  return new MemoryError(
    "unknown_collection",
    `Collection "${collection}" does not exist. ${list} Use add_documents to create a collection.`,
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
