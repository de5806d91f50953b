/** Messages between the map page and its projection worker. */
export interface ProjectionJob {
  id: number;
  method: "pca" | "umap";
  count: number;
  dimensions: number;
  /** One scale per row: value = int8 × scale. */
  scales: Float32Array;
  data: Int8Array;
  /** Points UMAP lays out at most. */
  umapMax: number;
}

export type ProjectionReply =
  | { id: number; kind: "progress"; done: number }
  | { id: number; kind: "done"; indices: Int32Array; coords: Float32Array; ms: number }
  | { id: number; kind: "error"; message: string };
