import type { Logger } from "../logger.js";
import { type Embedder, ModelUnavailableError } from "./embedder.js";
import { type ModelSpec, specId } from "./model-spec.js";

/** What a model load reports while it runs: bytes of a file downloaded or read. */
export interface LoadEvent {
  file: string;
  loaded: number;
  total: number;
}

export type EmbedderFactory = (spec: ModelSpec, onEvent: (event: LoadEvent) => void) => Promise<Embedder>;

interface Load {
  promise: Promise<Embedder>;
  listeners: Set<(event: LoadEvent) => void>;
  ready: boolean;
}

/**
 * One embedder per model, loaded once behind a memoised promise and shared by every collection
 * that uses it. Callers that wait for a load may listen to its progress. A failed load is
 * forgotten, so a later call can retry (after a download, say).
 */
export class EmbedderRegistry {
  private readonly loads = new Map<string, Load>();

  constructor(
    private readonly factory: EmbedderFactory,
    private readonly logger: Logger,
  ) {}

  /** True once the model is loaded: a call that uses it will not wait. */
  isReady(spec: ModelSpec): boolean {
    return this.loads.get(specId(spec))?.ready ?? false;
  }

  get(spec: ModelSpec, onEvent?: (event: LoadEvent) => void): Promise<Embedder> {
    const id = specId(spec);
    let load = this.loads.get(id);
    if (!load) load = this.start(id, spec);
    if (onEvent && !load.ready) {
      const listeners = load.listeners;
      listeners.add(onEvent);
      const remove = () => listeners.delete(onEvent);
      load.promise.then(remove, remove);
    }
    return load.promise;
  }

  private start(id: string, spec: ModelSpec): Load {
    const started = Date.now();
    this.logger.info(`loading embedding model ${id}`);
    const listeners = new Set<(event: LoadEvent) => void>();
    const emit = (event: LoadEvent) => {
      for (const listener of listeners) listener(event);
    };
    const load: Load = {
      listeners,
      ready: false,
      promise: Promise.resolve(undefined as unknown as Embedder),
    };
    load.promise = this.factory(spec, emit).then(
      (embedder) => {
        load.ready = true;
        this.logger.info(
          `model ${id} ready in ${Date.now() - started} ms (${embedder.dimensions} dimensions)`,
        );
        return embedder;
      },
      (error: unknown) => {
        this.loads.delete(id);
        const message = error instanceof Error ? error.message : String(error);
        this.logger.warn(`model ${id} failed to load: ${message}`);
        throw error instanceof ModelUnavailableError ? error : new ModelUnavailableError(message);
      },
    );
    this.loads.set(id, load);
    return load;
  }

  /** Starts loading in the background (the server's default model at startup); failures surface on use. */
  warm(spec: ModelSpec): void {
    this.get(spec).catch(() => undefined);
  }

  async dispose(): Promise<void> {
    const pending = [...this.loads.values()];
    this.loads.clear();
    await Promise.all(pending.map((load) => load.promise.then((e) => e.dispose()).catch(() => undefined)));
  }
}
