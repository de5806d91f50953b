import { parentPort, workerData } from "node:worker_threads";
import { type Graph, loadGraph } from "./use-lite-graph.js";

/**
 * The use-lite model's thread. TF.js's wasm backend computes on the thread that calls it; on the
 * main thread each pass (10-45 ms) held back every other call's I/O, LanceDB's replies included
 * (see use-lite.ts). Messages: see ToWorker / FromWorker in use-lite.ts.
 */
const port = parentPort;
if (!port) throw new Error("bug: use-lite-worker.ts runs only as a worker thread");
const { modelDir } = workerData as { modelDir: string };

let graph: Graph;
try {
  graph = await loadGraph(modelDir);
  port.postMessage({ kind: "ready" });
} catch (error) {
  port.postMessage({ kind: "failed", message: error instanceof Error ? error.message : String(error) });
  process.exit(0);
}

port.on("message", (message: { id: number; rows?: number[][]; tensors?: true }) => {
  if (message.tensors) {
    port.postMessage({ id: message.id, tensors: graph.tensors() });
    return;
  }
  graph.embed(message.rows ?? []).then(
    (vectors) => {
      // One buffer for the whole pass, handed over without a copy.
      const flat = new Float32Array(vectors.length * (vectors[0]?.length ?? 0));
      for (const [i, vector] of vectors.entries()) flat.set(vector, i * vector.length);
      port.postMessage({ id: message.id, vectors: flat, count: vectors.length }, [flat.buffer]);
    },
    (error: unknown) => {
      port.postMessage({ id: message.id, error: error instanceof Error ? error.message : String(error) });
    },
  );
});
