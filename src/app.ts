import { homedir } from "node:os";
import type { Config } from "./config.js";
import { type ModelSpec, resolveModelSpec } from "./embeddings/model-spec.js";
import { createEmbedderFactory } from "./embeddings/providers.js";
import { type EmbedderFactory, EmbedderRegistry } from "./embeddings/registry.js";
import type { Logger } from "./logger.js";
import { VectorMemory } from "./memory.js";
import { LanceStore } from "./store/lancedb-store.js";

export interface App {
  memory: VectorMemory;
  embedders: EmbedderRegistry;
  /** Makes an embedder from the configured providers, outside the registry (models pull uses it). */
  embedderFactory: EmbedderFactory;
  defaultModel: ModelSpec;
  /** On object storage: checks the store now (see LanceStore.checkStore); locally resolves at once. */
  checkStore(): Promise<void>;
  /** Settles once the store's background work on the collection (vector and keyword index builds) is done: for tests and benchmarks. */
  settled(collection: string): Promise<void>;
  close(): Promise<void>;
}

/** Wires the store, the embedders and the memory from a config. Opens nothing yet: everything is lazy. */
export function createApp(
  config: Pick<Config, "dbPath" | "model" | "dtype" | "modelCache" | "offline"> & {
    objectStore?: Config["objectStore"];
    hubUrl?: string;
    ortSpinning?: boolean | undefined;
    /** Default: the store's (1 GiB). */
    vectorCacheMb?: number | undefined;
    /** The clock for documents' times (default Date.now; tests set it). */
    now?: () => number;
  },
  logger: Logger,
  factory?: EmbedderFactory,
): App {
  const store = new LanceStore({
    dbPath: config.dbPath,
    logger,
    ...(config.objectStore ? { objectStore: config.objectStore } : {}),
    ...(config.vectorCacheMb === undefined ? {} : { vectorCacheBytes: config.vectorCacheMb * 1024 * 1024 }),
    ...(config.now ? { now: config.now } : {}),
  });
  const embedderFactory =
    factory ??
    createEmbedderFactory({
      cacheDir: config.modelCache,
      offline: config.offline,
      ...(config.hubUrl ? { hubUrl: config.hubUrl } : {}),
      spinning: config.ortSpinning,
    });
  const embedders = new EmbedderRegistry(embedderFactory, logger);
  const defaultModel = resolveModelSpec(config.model, config.dtype, homedir());
  const memory = new VectorMemory({
    store,
    embedders,
    defaultModel,
    logger,
    ...(config.now ? { now: config.now } : {}),
  });
  return {
    memory,
    embedders,
    embedderFactory,
    defaultModel,
    checkStore: () => store.checkStore(),
    async settled(collection) {
      await Promise.all([store.vectorIndexSettled(collection), store.keywordIndexSettled(collection)]);
    },
    async close() {
      await store.close();
      await embedders.dispose();
    },
  };
}
