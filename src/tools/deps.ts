import type { Logger } from "../logger.js";
import type { VectorMemory } from "../memory.js";

/** What every tool is given: the memory core and a logger (its own module, so tools and index.ts do not import each other). */
export interface ToolDeps {
  memory: VectorMemory;
  logger: Logger;
}
