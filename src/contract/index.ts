/**
 * The input contract: every value a caller may give the memory, with its limits and defaults, in
 * zod. MCP tools (`src/tools/`) and CLI commands (`src/commands/`) both validate with it, and
 * `surfaces.ts` says how each surface names the next step in an error.
 */
export { COLLECTION_NAME_PATTERN, LIMITS } from "../limits.js";
export * from "./fields.js";
export * from "./inputs.js";
export * from "./surfaces.js";
