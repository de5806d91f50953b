/**
 * Web UI benchmark: the UI server's API and the map, at 10k and 50k documents.
 *
 *   npm run build && npx tsx bench/ui-bench.ts          (sizes from BENCH_UI_SIZES, default 10000,50000)
 *   BENCH_UI_METHODS=pca (default pca,umap) and BENCH_UI_QUALITY=0 (no Node projection quality) shorten it.
 *
 * For each size: synthetic documents (512-d clustered vectors, the use-lite shape; short texts; a
 * `topic` key) are written straight into a LanceStore, then the built `dist/cli.js ui` serves them.
 * Timed over loopback with the session cookie: the first page load (page + entry script), a browse
 * page of 50 (first and a later page), the map payload, one duplicates page, the live-update poll.
 * Then headless Chromium opens the Map page and reports "ready" (payload + worker projection +
 * first draw) for PCA and for UMAP. Last, the projections' quality on the same data: how many of
 * each point's 10 nearest neighbours (cosine, in 512-d) stay among its 10 nearest on the map.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { createApp } from "../src/app.js";
import { silentLogger } from "../src/logger.js";
import { LanceStore } from "../src/store/lancedb-store.js";
import type { ChunkToWrite } from "../src/store/vector-store.js";
import type { ProjectionJob } from "../src/ui/web/map-protocol.js";
import { pca, umap } from "../src/ui/web/projection.js";
import { launchChromium, raw, spawnUi } from "../tests/support/ui.js";
import { median } from "./lib/timing.js";
import { generateDataset, syntheticTexts } from "./lib/vectors.js";

const SIZES = (process.env.BENCH_UI_SIZES ?? "10000,50000").split(",").map(Number);
const DIM = 512;
// Recorded as the bundled use-lite model (512-d, no download), so queries embed and every search
// mode runs; the stored vectors are still synthetic.
const MODEL = { model: "use-lite", dtype: "fp32", dimensions: DIM };
const UMAP_MAX = 3000;
/** A word of the synthetic texts, for keyword search. */
const KEYWORD_QUERY = "nightly backup";
const SEARCH_MODES = ["semantic", "keyword", "hybrid"] as const;
const MIDDLE_ID = (size: number) => `doc-${String(Math.floor(size / 2)).padStart(6, "0")}`;

const ms = (t: number) => `${t.toFixed(1)} ms`;

async function timed(
  times: number,
  work: () => Promise<unknown>,
): Promise<{ median: number; bytes: number }> {
  const all: number[] = [];
  let bytes = 0;
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    const result = await work();
    all.push(performance.now() - started);
    if (typeof result === "number") bytes = result;
  }
  return { median: median(all), bytes };
}

/** Of each sampled point's k nearest neighbours in the original space, the share that stays among its k nearest on the map. */
function neighbourhoodKept(
  job: ProjectionJob,
  indices: Int32Array,
  coords: Float32Array,
  k = 10,
  probes = 300,
): number {
  const n = indices.length;
  const vec = (p: number) => {
    const i = indices[p] as number;
    const out = new Float32Array(job.dimensions);
    for (let j = 0; j < job.dimensions; j++)
      out[j] = (job.data[i * job.dimensions + j] ?? 0) * (job.scales[i] ?? 1);
    return out;
  };
  const vectors = Array.from({ length: n }, (_, p) => vec(p));
  let kept = 0;
  const step = Math.max(1, Math.floor(n / probes));
  let probed = 0;
  for (let p = 0; p < n; p += step) {
    const high = vectors
      .map((v, q) => {
        let dot = 0;
        const a = vectors[p] as Float32Array;
        for (let j = 0; j < job.dimensions; j++) dot += (a[j] ?? 0) * (v[j] ?? 0);
        return { q, d: -dot };
      })
      .filter((x) => x.q !== p)
      .sort((a, b) => a.d - b.d)
      .slice(0, k)
      .map((x) => x.q);
    const low = new Set(
      Array.from({ length: n }, (_, q) => q)
        .filter((q) => q !== p)
        .map((q) => ({
          q,
          d:
            ((coords[2 * q] ?? 0) - (coords[2 * p] ?? 0)) ** 2 +
            ((coords[2 * q + 1] ?? 0) - (coords[2 * p + 1] ?? 0)) ** 2,
        }))
        .sort((a, b) => a.d - b.d)
        .slice(0, k)
        .map((x) => x.q),
    );
    kept += high.filter((q) => low.has(q)).length / k;
    probed++;
  }
  return kept / probed;
}

async function main(): Promise<void> {
  const assets = path.resolve("dist/ui/assets");
  console.log(
    `# Web UI benchmark (${new Date().toISOString()}, ${cpus().length} cores, load ${loadavg()[0]?.toFixed(2)})\n`,
  );
  console.log("## Bundle\n\n| file | bytes | gzip |\n| --- | ---: | ---: |");
  for (const file of readdirSync(assets).sort()) {
    const bytes = readFileSync(path.join(assets, file));
    console.log(`| ${file} | ${bytes.length} | ${gzipSync(bytes).length} |`);
  }
  for (const size of SIZES) {
    const work = mkdtempSync(path.join(tmpdir(), "vmm-ui-bench-"));
    try {
      const dbPath = path.join(work, "db");
      const data = generateDataset(size, DIM, 42);
      const texts = syntheticTexts(size, 42);
      const store = new LanceStore({ dbPath, logger: silentLogger });
      let started = performance.now();
      for (let start = 0; start < size; start += 1000) {
        const rows: ChunkToWrite[] = [];
        for (let i = start; i < Math.min(size, start + 1000); i++)
          rows.push({
            id: `doc-${String(i).padStart(6, "0")}`,
            text: texts[i] as string,
            metadata: { topic: `t${(data.clusterOf[i] ?? 0) % 8}` },
            vector: data.data.slice(i * DIM, (i + 1) * DIM),
          });
        await store.upsert("bench", MODEL, rows);
      }
      await store.close();
      console.log(
        `\n## ${size} documents x ${DIM}\n\nwritten in ${((performance.now() - started) / 1000).toFixed(1)} s (not part of the UI)\n`,
      );

      const ui = await spawnUi(["--db-path", dbPath, "--offline", "--log-level", "warn"]);
      try {
        const login = await raw(ui.loginUrl);
        const cookie = String(login.headers["set-cookie"]).split(";")[0] ?? "";
        const fetchBytes = async (route: string) => {
          const reply = await fetch(`${ui.base}${route}`, { headers: { Cookie: cookie } });
          if (!reply.ok) throw new Error(`${route}: ${reply.status} ${await reply.text()}`);
          return (await reply.arrayBuffer()).byteLength;
        };
        const home = await (await fetch(`${ui.base}/`, { headers: { Cookie: cookie } })).text();
        const csrf = /name="csrf-token" content="([^"]+)"/.exec(home)?.[1] ?? "";
        const rows: Array<[string, string, string]> = [];
        const add = (what: string, r: { median: number; bytes: number }) =>
          rows.push([what, ms(r.median), r.bytes.toLocaleString("en")]);
        add(
          "first page load: / + app.js + app.css",
          await timed(
            5,
            async () =>
              (await fetchBytes("/")) +
              (await fetchBytes("/assets/app.js")) +
              (await fetchBytes("/assets/app.css")),
          ),
        );
        add("collections (with stats)", await timed(10, () => fetchBytes("/api/collections")));
        // The first page after a commit lists and sorts the ids (kept per revision); later pages do not.
        add(
          "browse, first page of 50 after a write (lists and sorts the ids)",
          await timed(1, () => fetchBytes("/api/documents?collection=bench&limit=50")),
        );
        add(
          "browse, first page of 50",
          await timed(20, () => fetchBytes("/api/documents?collection=bench&limit=50")),
        );
        const cursor = Buffer.from(
          JSON.stringify({ after: `doc-${String(Math.floor(size / 2)).padStart(6, "0")}` }),
        ).toString("base64url");
        add(
          "browse, a page of 50 in the middle",
          await timed(20, () => fetchBytes(`/api/documents?collection=bench&limit=50&cursor=${cursor}`)),
        );
        add(
          "browse, 50 filtered by topic",
          await timed(20, () =>
            fetchBytes(
              `/api/documents?collection=bench&limit=50&where=${encodeURIComponent('{"topic":"t3"}')}`,
            ),
          ),
        );
        const postBytes = async (route: string, body: unknown) => {
          const reply = await fetch(`${ui.base}${route}`, {
            method: "POST",
            headers: { Cookie: cookie, "Content-Type": "application/json", "X-CSRF-Token": csrf },
            body: JSON.stringify(body),
          });
          if (!reply.ok) throw new Error(`${route}: ${reply.status} ${await reply.text()}`);
          return (await reply.arrayBuffer()).byteLength;
        };
        for (const mode of SEARCH_MODES) {
          const body = { collection: "bench", query: KEYWORD_QUERY, mode, n_results: 10 };
          await postBytes("/api/search", body); // loads the model, makes the full-text index
          add(
            `search, ${mode}, 10 results (/api/search)`,
            await timed(10, () => postBytes("/api/search", body)),
          );
        }
        add(
          "find similar, 10 results (/api/similar: a vector search)",
          await timed(10, () => fetchBytes(`/api/similar?collection=bench&id=${MIDDLE_ID(size)}&n=10`)),
        );
        add(
          "map payload (int8 vectors + ids, texts, metadata)",
          await timed(3, () => fetchBytes("/api/map?collection=bench")),
        );
        // The first page reads every vector into the duplicate matrix; the next ones reuse it.
        const duplicates = async (cursor?: string) => {
          const started = performance.now();
          const reply = await fetch(
            `${ui.base}/api/duplicates?collection=bench&min=0.95&limit=20${cursor ? `&cursor=${cursor}` : ""}`,
            { headers: { Cookie: cookie } },
          );
          const body = (await reply.json()) as {
            checked: number;
            total: number;
            pairs: unknown[];
            nextCursor: string | null;
          };
          return { ...body, ms: performance.now() - started };
        };
        const first = await duplicates();
        const second = first.nextCursor
          ? await duplicates(first.nextCursor)
          : { ...first, checked: first.checked };
        rows.push(["duplicates, first page (min 0.95, 2 s budget; reads the vectors)", ms(first.ms), ""]);
        rows.push(["duplicates, next page", ms(second.ms), ""]);
        const perSecond = first.nextCursor
          ? (second.checked - first.checked) / (second.ms / 1000)
          : first.checked / (first.ms / 1000);
        const duplicatesNote = `the first page checked ${first.checked} of ${first.total} documents (${first.pairs.length} pair(s)), the next ${second.checked - first.checked} (${second.pairs.length} pair(s)): ${perSecond.toFixed(0)} documents/s each against every later one, so a whole pass takes about ${(first.total / Math.max(1, perSecond) / 2).toFixed(0)} s`;
        add("live-update poll (/api/changes)", await timed(10, () => fetchBytes("/api/changes")));
        console.log("| request (server on loopback, median) | time | bytes |\n| --- | ---: | ---: |");
        for (const r of rows) console.log(`| ${r.join(" | ")} |`);
        console.log(`\nDuplicates: ${duplicatesNote}.`);

        // The same reads through the memory core in this process, as the tools make them.
        const app = createApp(
          { dbPath, model: MODEL.model, dtype: "fp32", modelCache: path.join(work, "cache"), offline: true },
          silentLogger,
        );
        try {
          const core: string[] = [];
          for (const mode of SEARCH_MODES) {
            await app.memory.search("bench", KEYWORD_QUERY, { limit: 10, mode });
            const t = await timed(10, () =>
              app.memory.search("bench", KEYWORD_QUERY, { limit: 10, mode }).then(() => 0),
            );
            core.push(`${mode} search ${ms(t.median)}`);
          }
          const similar = await timed(10, () =>
            app.memory.similarTo("bench", MIDDLE_ID(size), { limit: 10 }).then(() => 0),
          );
          const warmBrowse = await timed(20, () =>
            app.memory.getDocuments("bench", { limit: 50, cursor }).then(() => 0),
          );
          console.log(
            `\nThe memory core in-process (what the tools call), median: ${core.join(", ")}, find similar ${ms(similar.median)}, a page of 50 in the middle ${ms(warmBrowse.median)}.`,
          );
        } finally {
          await app.close();
        }

        // The map in a real browser: the page's own "ready in" (payload, worker, first draw).
        const profile = path.join(work, "profile");
        mkdirSync(profile);
        const context = await launchChromium(profile);
        try {
          const page = context.pages()[0] ?? (await context.newPage());
          // The login token was spent above: hand the browser the session cookie instead.
          const [name, value] = cookie.split("=") as [string, string];
          await context.addCookies([{ name, value, url: ui.base, httpOnly: true, sameSite: "Strict" }]);
          console.log("\n| map in headless Chromium | status line |\n| --- | --- |");
          for (const method of (process.env.BENCH_UI_METHODS ?? "pca,umap").split(",")) {
            const hash = `#/map?c=bench&p=${method}`;
            started = performance.now();
            await page.goto(`${ui.base}/${hash}`);
            await page
              .locator(`main[data-route="${hash}"] #map-plot[data-ready="true"]`)
              .waitFor({ timeout: 600_000 });
            const wall = performance.now() - started;
            const status = await page.locator("p.summary").textContent();
            console.log(
              `| ${method.toUpperCase()} (navigation to drawn: ${(wall / 1000).toFixed(2)} s) | ${status} |`,
            );
          }
        } finally {
          await context.close();
        }
      } finally {
        await ui.stop();
      }

      // Projection quality on the points UMAP lays out (the same evenly spread subset for both).
      // BENCH_UI_QUALITY=0 leaves out the projections' quality (measured before; the slow part).
      if (process.env.BENCH_UI_QUALITY === "0") continue;
      const count = Math.min(size, UMAP_MAX);
      const scales = new Float32Array(count);
      const int8 = new Int8Array(count * DIM);
      for (let p = 0; p < count; p++) {
        const i = Math.floor((p * size) / count);
        let max = 0;
        for (let j = 0; j < DIM; j++) max = Math.max(max, Math.abs(data.data[i * DIM + j] ?? 0));
        const scale = max / 127 || 1;
        scales[p] = scale;
        for (let j = 0; j < DIM; j++) int8[p * DIM + j] = Math.round((data.data[i * DIM + j] ?? 0) / scale);
      }
      const job: ProjectionJob = {
        id: 1,
        method: "pca",
        count,
        dimensions: DIM,
        scales,
        data: int8,
        umapMax: UMAP_MAX,
      };
      let t = performance.now();
      const p = pca(job);
      const pcaMs = performance.now() - t;
      t = performance.now();
      const u = await umap(job);
      const umapMs = performance.now() - t;
      console.log(
        `\n| projection of ${count} points (Node, one thread) | time | 10-NN kept on the map |\n| --- | ---: | ---: |\n| PCA (druid.js) | ${ms(pcaMs)} | ${neighbourhoodKept(job, p.indices, p.coords).toFixed(3)} |\n| UMAP (umap-js) | ${ms(umapMs)} | ${neighbourhoodKept(job, u.indices, u.coords).toFixed(3)} |`,
      );
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
}

await main();
