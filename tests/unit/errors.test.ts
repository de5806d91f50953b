import { describe, expect, it } from "vitest";
import { MemoryError, unknownCollectionError } from "../../src/errors.js";

describe("errors worded for the surface that shows them", () => {
  it("names the tool over MCP and the command in the CLI, from one message", () => {
    const error = unknownCollectionError("ghost", ["notes"]);
    expect(error.message).toBe(
      'Collection "ghost" does not exist. Known collections: notes. Use add_documents to create a collection.',
    );
    expect(error.messageFor("mcp")).toBe(error.message);
    expect(error.messageFor("cli")).toBe(
      'Collection "ghost" does not exist. Known collections: notes. Use `vector-memory-mcp add <collection> <files>` to create it.',
    );
  });

  it("leaves a plain message the same on every surface", () => {
    const error = new MemoryError("invalid_input", "Numbers must be finite.");
    expect(error.messageFor("cli")).toBe("Numbers must be finite.");
  });
});
