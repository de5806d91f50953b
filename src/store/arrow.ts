import { createRequire } from "node:module";

/**
 * apache-arrow as LanceDB sees it. LanceDB is CommonJS and checks `instanceof arrow.Field`
 * against the CJS build; an ESM `import` loads a second copy whose classes fail that check
 * (addColumns then rejects our fields). Loading the CJS build here shares LanceDB's copy.
 */
export const arrow = createRequire(import.meta.url)("apache-arrow") as typeof import("apache-arrow");
