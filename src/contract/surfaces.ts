/**
 * The memory is reached two ways: MCP tools, called by an agent, and CLI commands, typed by a person.
 * An error that says what to do next must name the step the reader can take there, so messages are
 * written once with these phrases as blanks, and each surface fills them in.
 */
export type Surface = "mcp" | "cli";

export interface NextSteps {
  /** A whole sentence: how to create a collection. */
  createCollection: string;
  /** How to empty a whole collection, after "use". */
  dropCollection: string;
  /** The unit within which the ids of added documents must be unique, after "within". */
  oneAdd: string;
}

export const NEXT_STEPS: Record<Surface, NextSteps> = {
  mcp: {
    createCollection: "Use add_documents to create a collection.",
    dropCollection: "drop_collection: true",
    oneAdd: "one add_documents call",
  },
  cli: {
    createCollection: "Use `vector-memory-mcp add <collection> <files>` to create it.",
    dropCollection: "`vector-memory-mcp delete <collection> --drop`",
    oneAdd: "one import batch",
  },
};
