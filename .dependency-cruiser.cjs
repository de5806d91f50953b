/**
 * The architecture's import rules, checked by `npm run check:deps` (and .ci/run).
 *
 * Data flows one way: surfaces (MCP tools, CLI commands) -> the memory core (src/memory.ts, with
 * the input contract in src/contract/) -> embeddings (text to vectors) and the store (vectors and
 * rows). src/app.ts is the composition root: the one place that picks the concrete store and the
 * embedding providers, so it is exempt from the layering rules below.
 *
 * Type-only imports count: `tsPreCompilationDeps` keeps them, because a type that crosses a
 * boundary couples the two sides as much as a value does.
 *
 * What "concrete embedder" means (rule surfaces-not-to-concrete-embedders): everything in
 * src/embeddings/ except these neutral modules, which load no model and no runtime:
 *   embedder.ts      the Embedder interface, ModelUnavailableError (ModelRecord: src/model-record.ts)
 *   model-spec.ts    parsing a model id into a spec (hub id, local dir, bundled name)
 *   known-models.ts  the catalogue shown by `models list`
 *   model-cache.ts   listing what is in the download cache (file system only)
 *   registry.ts      EmbedderRegistry, which loads models only through the factory it is given
 * providers.ts (the factory that imports transformers.js and TF.js), transformers.ts, use-lite.ts,
 * sentencepiece.ts and any new provider are concrete: surfaces reach them only through the
 * registry that src/app.ts builds.
 */
const NEUTRAL_EMBEDDINGS = "^src/embeddings/(embedder|model-spec|known-models|model-cache|registry)\\.ts$";

const RELAY = "^src/(daemon/(relay|location|protocol)|config-args|server-info|version)\\.ts$";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "A cycle makes import order matter and the layers meaningless.",
      from: {},
      to: { circular: true },
    },
    {
      name: "surfaces-not-to-store",
      severity: "error",
      comment:
        "Tools, commands and the web UI go through the memory core (src/memory.ts); they never touch the store, not even its types.",
      from: { path: "^src/(tools|commands|ui)/" },
      to: { path: "^src/store/" },
    },
    {
      name: "surfaces-not-to-concrete-embedders",
      severity: "error",
      comment:
        "Tools, commands and the web UI may use the neutral embedding modules (listed at the top of this file), never a provider.",
      from: { path: "^src/(tools|commands|ui)/" },
      to: { path: "^src/embeddings/", pathNot: NEUTRAL_EMBEDDINGS },
    },
    {
      name: "memory-not-to-concrete-store",
      severity: "error",
      comment:
        "The memory core knows the VectorStore interface (src/store/vector-store.ts) only; src/app.ts picks the implementation.",
      from: { path: "^src/memory\\.ts$" },
      to: { path: "^src/store/", pathNot: "^src/store/vector-store\\.ts$" },
    },
    {
      name: "store-not-to-embeddings",
      severity: "error",
      comment:
        "The store never embeds: it takes vectors and model records, and imports nothing from src/embeddings/.",
      from: { path: "^src/store/" },
      to: { path: "^src/embeddings/" },
    },
    {
      name: "lancedb-only-in-store-lance",
      severity: "error",
      comment:
        "LanceDB is known only to src/store/lance/ and the store that orchestrates it (src/store/lancedb-store.ts).",
      from: { path: "^src/", pathNot: "^src/store/(lance/|lancedb-store\\.ts$)" },
      to: { path: "@lancedb/lancedb" },
    },
    {
      name: "store-neutral-not-to-lance",
      severity: "error",
      comment:
        "The store's backend-neutral modules (the interface, the commit seam, locks, compaction policy, the vector cache) never import the LanceDB pieces: another backend reuses them as they are.",
      from: { path: "^src/store/", pathNot: "^src/store/(lance/|lancedb-store\\.ts$)" },
      to: { path: "^src/store/lance/" },
    },
    {
      name: "ui-browser-code-apart",
      comment:
        "src/ui/web/ runs in the browser: it reaches the server only over HTTP (its JSON API), never by importing server modules, and nothing on the server imports it (esbuild bundles it).",
      severity: "error",
      from: { path: "^src/ui/web/" },
      to: { path: "^src/", pathNot: "^src/ui/web/" },
    },
    {
      name: "nothing-imports-ui-browser-code",
      severity: "error",
      comment: "The browser bundle's sources are not server modules.",
      from: { path: "^src/", pathNot: "^src/ui/web/" },
      to: { path: "^src/ui/web/" },
    },
    {
      name: "relay-stays-light",
      severity: "error",
      comment:
        "The stdio relay (src/daemon/relay.ts, with what it reads: location, protocol, config-args, server-info, version) runs in every editor window: it imports Node's own modules only, never the SDK, zod, the store or a model runtime (bench/daemon.ts measures its memory).",
      from: { path: RELAY },
      to: { pathNot: RELAY, dependencyTypesNot: ["core"] },
    },
    {
      name: "nothing-imports-cli",
      severity: "error",
      comment: "src/cli.ts is the entry point: importing it would run the program.",
      from: {},
      to: { path: "^src/cli\\.ts$" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^dist/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
    },
  },
};
