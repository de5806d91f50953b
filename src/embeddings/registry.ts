import type { Logger } from "../logger.js";
import { type Embedder, ModelUnavailableError } from "./embedder.js";
import { type ModelSpec, specId } from "./model-spec.js";

export type EmbedderFactory = (spec: ModelSpec) => Promise<Embedder>;

/**
 * One embedder per model, loaded once behind a memoised promise and shared by every collection
 * that uses it. A failed load is forgotten, so a later call can retry (after a download, say).
 */
export class EmbedderRegistry {
  private readonly loading = new Map<string, Promise<Embedder>>();

  constructor(
    private readonly factory: EmbedderFactory,
    private readonly logger: Logger,
  ) {}

  get(spec: ModelSpec): Promise<Embedder> {
    const id = specId(spec);
    let pending = this.loading.get(id);
    if (!pending) {
      const started = Date.now();
      this.logger.info(`loading embedding model ${id}`);
      pending = this.factory(spec).then(
        (embedder) => {
          this.logger.info(
            `model ${id} ready in ${Date.now() - started} ms (${embedder.dimensions} dimensions)`,
          );
          return embedder;
        },
        (error: unknown) => {
          this.loading.delete(id);
          const message = error instanceof Error ? error.message : String(error);
          this.logger.warn(`model ${id} failed to load: ${message}`);
          throw error instanceof ModelUnavailableError ? error : new ModelUnavailableError(message);
        },
      );
      this.loading.set(id, pending);
    }
    return pending;
  }

  /** Starts loading in the background (the server's default model at startup); failures surface on use. */
  warm(spec: ModelSpec): void {
    this.get(spec).catch(() => undefined);
  }

  async dispose(): Promise<void> {
    const pending = [...this.loading.values()];
    this.loading.clear();
    await Promise.all(pending.map((p) => p.then((e) => e.dispose()).catch(() => undefined)));
  }
}
