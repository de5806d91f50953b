/**
 * The map's projection, off the page's thread (projection.ts does the work). Built as a classic
 * script of its own and started from /assets/, so CSP's script-src 'self' covers it (no blob: URL).
 */
import type { ProjectionJob, ProjectionReply } from "./map-protocol.js";
import { pca, umap } from "./projection.js";

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<ProjectionJob>) => void) | null;
  postMessage(message: ProjectionReply, transfer?: Transferable[]): void;
};

scope.onmessage = (event) => {
  const job = event.data;
  const started = performance.now();
  void (async () => {
    try {
      const { indices, coords } =
        job.method === "umap"
          ? await umap(job, (done) => scope.postMessage({ id: job.id, kind: "progress", done }))
          : pca(job);
      scope.postMessage({ id: job.id, kind: "done", indices, coords, ms: performance.now() - started }, [
        indices.buffer,
        coords.buffer,
      ]);
    } catch (error) {
      scope.postMessage({ id: job.id, kind: "error", message: String(error) });
    }
  })();
};
