import { createRequire } from "node:module";

// Read from package.json so the server, the CLI and npm never disagree; works from src/ and dist/ alike.
const pkg = createRequire(import.meta.url)("../package.json") as { version: string };

export const VERSION: string = pkg.version;
