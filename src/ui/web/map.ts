/**
 * The Map page: every document of a collection (a stable sample above the server's cap) as a point,
 * projected to 2D in a worker (map-worker.ts), drawn by Apache ECharts on a canvas (its "large"
 * scatter mode draws tens of thousands of points in one path), coloured by a metadata key. Hover
 * shows the text, a click opens the document, and ECharts' brush (box or lasso) selects points to
 * delete or tag through the same routes as the rest of the UI.
 */
import { ScatterChart } from "echarts/charts";
import { BrushComponent, GridComponent, LegendComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";
import { ApiError, type Metadata } from "./api.js";
import { confirmDelete, metadataValueOf, tagIds } from "./bulk.js";
import { field, h, preview } from "./dom.js";
import type { ProjectionJob, ProjectionReply } from "./map-protocol.js";
import { errorBox, go, type Route } from "./router.js";
import { collectionSelect } from "./select.js";

echarts.use([ScatterChart, BrushComponent, GridComponent, LegendComponent, CanvasRenderer]);

/** Points UMAP lays out at most (it costs far more per point than PCA); PCA draws them all. */
export const UMAP_MAX = 3000;
/** Colours for the most common values of the colour key; the rest are "other". */
const PALETTE = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
];
const OTHER = "#9a9a9a";

interface MapData {
  total: number;
  count: number;
  sampled: boolean;
  dimensions: number;
  ids: string[];
  texts: string[];
  metadata: Metadata[];
  scales: Float32Array;
  vectors: Int8Array;
}

async function loadMap(collection: string, where: string): Promise<MapData> {
  const query = new URLSearchParams({ collection });
  if (where) query.set("where", where);
  const response = await fetch(`/api/map?${query}`, { credentials: "same-origin" });
  if (!response.ok) {
    const body = (await response.json().catch(() => ({}))) as { error?: string };
    throw new ApiError(body.error ?? `The server answered ${response.status}.`);
  }
  const bytes = await response.arrayBuffer();
  const headerLength = new DataView(bytes).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(bytes, 4, headerLength))) as Omit<
    MapData,
    "scales" | "vectors"
  >;
  const scalesAt = Math.ceil((4 + headerLength) / 4) * 4;
  const vectorsAt = scalesAt + 4 * header.count;
  return {
    ...header,
    scales: new Float32Array(bytes, scalesAt, header.count),
    vectors: new Int8Array(bytes, vectorsAt, header.count * header.dimensions),
  };
}

let worker: Worker | undefined;
let jobs = 0;

/** Projects in the worker (one for the page's life); resolves with the points it placed. */
function project(
  data: MapData,
  method: "pca" | "umap",
  onProgress: (done: number) => void,
): Promise<{ indices: Int32Array; coords: Float32Array; ms: number }> {
  worker ??= new Worker("/assets/map-worker.js");
  const id = ++jobs;
  const active = worker;
  return new Promise((resolve, reject) => {
    const listener = (event: MessageEvent<ProjectionReply>) => {
      const reply = event.data;
      if (reply.id !== id) return;
      if (reply.kind === "progress") return onProgress(reply.done);
      active.removeEventListener("message", listener);
      if (reply.kind === "done") resolve(reply);
      else reject(new Error(`The projection failed: ${reply.message}`));
    };
    active.addEventListener("message", listener);
    const job: ProjectionJob = {
      id,
      method,
      count: data.count,
      dimensions: data.dimensions,
      scales: data.scales.slice(),
      data: data.vectors.slice(),
      umapMax: UMAP_MAX,
    };
    active.postMessage(job, [job.scales.buffer, job.data.buffer]);
  });
}

/** The metadata keys of the points, most common first. */
function keysOf(metadata: Metadata[]): string[] {
  const counts = new Map<string, number>();
  for (const m of metadata) for (const key of Object.keys(m)) counts.set(key, (counts.get(key) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).map(([key]) => key);
}

/** Point indices grouped by the colour key's value: the most common values, then "other" and "(none)". */
function groupsOf(
  data: MapData,
  indices: Int32Array,
  key: string,
): Array<{ name: string; color: string; members: number[] }> {
  if (!key) return [{ name: "documents", color: PALETTE[0] as string, members: [...indices] }];
  const labelOf = (i: number) => {
    const v = data.metadata[i]?.[key];
    return v === undefined ? undefined : Array.isArray(v) ? v.join(", ") : String(v);
  };
  const counts = new Map<string, number>();
  for (const i of indices) {
    const v = labelOf(i);
    if (v !== undefined) counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  const top = [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, PALETTE.length)
    .map(([v]) => v);
  const groups = top.map((name, k) => ({ name, color: PALETTE[k] as string, members: [] as number[] }));
  const other = { name: "other", color: OTHER, members: [] as number[] };
  const none = { name: `(no ${key})`, color: "#d0d0d0", members: [] as number[] };
  for (const i of indices) {
    const v = labelOf(i);
    const group = v === undefined ? none : (groups[top.indexOf(v)] ?? other);
    group.members.push(i);
  }
  return [...groups, other, none].filter((g) => g.members.length > 0);
}

export async function mapPage({ params }: Route): Promise<HTMLElement> {
  const collection = params.get("c") ?? "";
  const method = params.get("p") === "umap" ? "umap" : "pca";
  const where = params.get("where") ?? "";
  const select = await collectionSelect(collection);
  const methodSelect = h(
    "select",
    {},
    h("option", { value: "pca", selected: method === "pca" }, "PCA (fast, every point)"),
    h("option", { value: "umap", selected: method === "umap" }, `UMAP (clusters, up to ${UMAP_MAX} points)`),
  );
  const whereInput = h("input", { type: "text", value: where, placeholder: '{"topic": "ops"}' });
  const colourSelect = h("select", {}, h("option", { value: "" }, "(one colour)"));
  const status = h("p", { class: "summary", role: "status" }, "Loading the vectors…");
  const hover = h(
    "div",
    { class: "map-hover", "aria-live": "polite" },
    "Point at a dot to read it; click it to open it.",
  );
  const plot = h("div", {
    id: "map-plot",
    class: "map-plot",
    role: "img",
    "aria-label": "Map of the documents",
  });
  const selection = h("div", { class: "map-selection" });
  const confirmBox = h("div", { class: "confirm" });

  const form = h(
    "form",
    {
      class: "filters",
      onsubmit: (event: Event) => {
        event.preventDefault();
        go("map", {
          c: select.value,
          p: methodSelect.value,
          where: whereInput.value.trim(),
          key: colourSelect.value,
        });
      },
    },
    field("Collection", select),
    field("Projection", methodSelect),
    field("Filter (where, JSON)", whereInput),
    field("Colour by", colourSelect),
    h("button", { type: "submit" }, "Draw"),
  );
  const tools = h(
    "div",
    { class: "map-tools", role: "toolbar", "aria-label": "Selection" },
    h("button", { type: "button", onclick: () => brush("rect") }, "Box select"),
    h("button", { type: "button", onclick: () => brush("polygon") }, "Lasso select"),
    h("button", { type: "button", onclick: () => clearBrush() }, "Clear selection"),
  );
  const section = h(
    "section",
    { class: "map-page" },
    h("h1", { tabindex: -1 }, "Map"),
    form,
    status,
    tools,
    plot,
    hover,
    selection,
    confirmBox,
  );
  const name = collection || select.value;
  if (!name) {
    status.textContent = "No collection yet.";
    return section;
  }

  let chart: echarts.ECharts | undefined;
  let data: MapData | undefined;
  let selected: number[] = [];
  const brush = (type: "rect" | "polygon") =>
    chart?.dispatchAction({
      type: "takeGlobalCursor",
      key: "brush",
      brushOption: { brushType: type, brushMode: "single" },
    });
  const clearBrush = () => chart?.dispatchAction({ type: "brush", areas: [] });

  function showSelection(): void {
    confirmBox.replaceChildren();
    if (!data || selected.length === 0) {
      selection.replaceChildren();
      return;
    }
    const ids = selected.map((i) => data?.ids[i] as string);
    const keyInput = h("input", {
      type: "text",
      required: true,
      pattern: "[A-Za-z_][A-Za-z0-9_]*",
      placeholder: "reviewed",
    });
    const valueInput = h("input", { type: "text", required: true, placeholder: "true" });
    const tagStatus = h("p", { class: "notice", role: "status" });
    selection.replaceChildren(
      h("h2", {}, `${ids.length} selected`),
      h("p", { class: "map-ids" }, preview(ids.join(", "), 300)),
      h(
        "button",
        {
          type: "button",
          class: "danger",
          onclick: () =>
            void confirmDelete(confirmBox, name, ids, (deleted) => {
              confirmBox.replaceChildren(
                h("p", { class: "notice", role: "status" }, `Deleted ${deleted} document(s).`),
              );
              void draw();
            }),
        },
        "Delete selected…",
      ),
      h(
        "form",
        {
          class: "filters",
          onsubmit: (event: Event) => {
            event.preventDefault();
            const value = metadataValueOf(valueInput.value);
            tagIds(name, ids, { [keyInput.value]: value })
              .then((n) => {
                tagStatus.textContent = `Tagged ${n} document(s): ${keyInput.value} = ${JSON.stringify(value)}.`;
                for (const i of selected) {
                  const m = data?.metadata[i];
                  if (m) m[keyInput.value] = value;
                }
              })
              .catch((error: unknown) => tagStatus.replaceChildren(errorBox(error)));
          },
        },
        field("Tag key", keyInput),
        field("Tag value", valueInput, 'JSON (7, true, ["a"]) or text'),
        h("button", { type: "submit" }, "Tag selected"),
      ),
      tagStatus,
    );
  }

  async function draw(): Promise<void> {
    selected = [];
    showSelection();
    status.textContent = "Loading the vectors…";
    const started = performance.now();
    data = await loadMap(name, where);
    if (data.count === 0) {
      status.textContent = "No documents to draw.";
      chart?.clear();
      return;
    }
    const keys = keysOf(data.metadata);
    const key = params.get("key") ?? "";
    colourSelect.replaceChildren(
      h("option", { value: "" }, "(one colour)"),
      ...keys.map((k) => h("option", { value: k, selected: k === key }, k)),
    );
    status.textContent = `Projecting ${data.count} points (${method.toUpperCase()})…`;
    const { indices, coords, ms } = await project(data, method, (done) => {
      status.textContent = `Projecting with UMAP… ${Math.round(done * 100)}%`;
    });
    const position = new Map<number, number>();
    indices.forEach((point, k) => {
      position.set(point, k);
    });
    const groups = groupsOf(data, indices, keys.includes(key) ? key : "");
    const size = indices.length > 5000 ? 3 : indices.length > 1000 ? 5 : 8;
    chart ??= echarts.init(plot, undefined, { renderer: "canvas" });
    chart.setOption(
      {
        animation: false,
        grid: { left: 8, right: 8, top: 36, bottom: 8 },
        xAxis: { type: "value", scale: true, show: false },
        yAxis: { type: "value", scale: true, show: false },
        legend: { top: 0, type: "scroll" },
        brush: {
          brushMode: "single",
          throttleType: "debounce",
          throttleDelay: 50,
          outOfBrush: { colorAlpha: 0.2 },
        },
        series: groups.map((g) => ({
          type: "scatter",
          name: g.name,
          large: true,
          largeThreshold: 2000,
          symbolSize: size,
          itemStyle: { color: g.color },
          data: g.members.map((i) => {
            const k = position.get(i) ?? 0;
            return [coords[2 * k] ?? 0, coords[2 * k + 1] ?? 0, i];
          }),
        })),
      },
      { notMerge: true },
    );
    const shown = indices.length;
    plot.dataset.points = String(shown);
    const sampleNote = data.sampled ? ` (a stable sample of the ${data.total} matching)` : "";
    const umapNote = shown < data.count ? `; UMAP laid out ${shown} of ${data.count}` : "";
    status.textContent = `${shown} point(s)${sampleNote}${umapNote}; projected in ${Math.round(ms)} ms, ready in ${Math.round(performance.now() - started)} ms.`;
    // For tests and tools: where a document's point is on screen.
    (plot as unknown as { pixelOf: (id: string) => number[] | undefined }).pixelOf = (id) => {
      const i = data?.ids.indexOf(id) ?? -1;
      const k = position.get(i);
      if (k === undefined || !chart) return undefined;
      const at = chart.convertToPixel({ gridIndex: 0 }, [coords[2 * k] ?? 0, coords[2 * k + 1] ?? 0]);
      const box = plot.getBoundingClientRect();
      return [box.left + (at[0] ?? 0), box.top + (at[1] ?? 0)];
    };
    chart.off("mouseover");
    chart.off("click");
    chart.off("brushSelected");
    chart.on("mouseover", (p) => {
      const i = (p.value as number[] | undefined)?.[2];
      if (i === undefined || !data) return;
      hover.replaceChildren(
        h("strong", {}, data.ids[i] ?? ""),
        " ",
        h("code", {}, JSON.stringify(data.metadata[i] ?? {})),
        h("p", {}, data.texts[i] ?? ""),
      );
    });
    chart.on("click", (p) => {
      const i = (p.value as number[] | undefined)?.[2];
      if (i !== undefined && data) go("doc", { c: name, id: data.ids[i] });
    });
    chart.on("brushSelected", (event) => {
      const batch = (
        event as { batch?: Array<{ selected: Array<{ seriesIndex: number; dataIndex: number[] }> }> }
      ).batch;
      const picked: number[] = [];
      for (const s of batch?.[0]?.selected ?? []) {
        const group = groups[s.seriesIndex];
        if (group) for (const d of s.dataIndex) picked.push(group.members[d] as number);
      }
      selected = picked;
      showSelection();
    });
    plot.dataset.ready = "true";
  }

  // Drawn once the page is in the document (ECharts measures its container).
  queueMicrotask(() => {
    requestAnimationFrame(() => {
      draw().catch((error: unknown) => status.replaceChildren(errorBox(error)));
    });
  });
  return section;
}
