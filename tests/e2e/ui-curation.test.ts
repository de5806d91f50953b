import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../support/harness.js";
import { spawnServer, TINY_BERT } from "../support/stdio.js";
import {
  HAVE_CHROMIUM,
  importDocuments,
  launchChromium,
  raw,
  spawnUi,
  type UiProcess,
} from "../support/ui.js";

// The curation pages (map, duplicates, document editing, collections) in a real headless Chromium.
const TOPICS = ["ops", "office", "travel"];
const WORDS: Record<string, string[]> = {
  ops: ["deploy", "server", "vault", "rotate", "release", "incident"],
  office: ["lunch", "printer", "kitchen", "desk", "meeting", "toner"],
  travel: ["flight", "hotel", "visa", "train", "airport", "luggage"],
};
const DOCS = Array.from({ length: 60 }, (_, i) => {
  const topic = TOPICS[i % 3] as string;
  const words = WORDS[topic] as string[];
  return {
    id: `d${String(i).padStart(2, "0")}`,
    text: `${words[i % 6]} ${words[(i + 1) % 6]} ${words[(i + 2) % 6]} note number ${i}`,
    metadata: { topic, n: i },
  };
});

const BUDGET = "The quarterly budget review moved to Tuesday at ten.";
const PRINTER = "The third floor printer is out of toner again.";
const DUPLICATES = [
  { id: "dup-a", text: BUDGET, metadata: { topic: "office", tags: ["finance"] } },
  { id: "dup-b", text: BUDGET, metadata: { topic: "ops", tags: ["meeting"], source: "chat" } },
  { id: "dup-c", text: PRINTER, metadata: { topic: "office" } },
  { id: "dup-d", text: PRINTER, metadata: { topic: "office" } },
  { id: "lone", text: "Flights to Lisbon are booked for the offsite.", metadata: { topic: "travel" } },
];

const reason = HAVE_CHROMIUM ? "" : " (skipped: /usr/bin/chromium not found; apt-get install chromium)";
if (!HAVE_CHROMIUM && process.env.CI)
  throw new Error("CI must run the web UI tests: /usr/bin/chromium is missing");

describe.skipIf(!HAVE_CHROMIUM)(`the web UI's curation pages in headless Chromium${reason}`, () => {
  const work = tempDir("vmm-ui-cur-");
  const args = [
    "--db-path",
    path.join(work.dir, "db"),
    "--model",
    TINY_BERT,
    "--offline",
    "--log-level",
    "warn",
  ];
  let ui: UiProcess;
  let context: BrowserContext;
  let page: Page;
  let cookie: string;
  const problems: string[] = [];

  beforeAll(async () => {
    importDocuments(args, "notes", DOCS);
    importDocuments(args, "dups", DUPLICATES);
    // --open starts $BROWSER with the login URL; this one writes it down instead.
    const opener = path.join(work.dir, "browser.sh");
    writeFileSync(opener, `#!/bin/sh\necho "$1" > "${path.join(work.dir, "opened")}"\n`, { mode: 0o755 });
    ui = await spawnUi([...args, "--open"], { BROWSER: opener });
    mkdirSync(path.join(work.dir, "profile"));
    context = await launchChromium(path.join(work.dir, "profile"));
    page = context.pages()[0] ?? (await context.newPage());
    // A CSP refusal (of the worker, of eval in a library) shows up as a console error.
    page.on("console", (m) => {
      if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push(m.text());
    });
    page.on("response", (r) => {
      // Refusals the tests provoke are 400s; a missing asset is a 404, a bug a 500.
      if ((r.status() === 404 && !r.url().endsWith("/favicon.ico")) || r.status() >= 500)
        problems.push(`${r.status()} ${r.url()}`);
    });
    page.on("pageerror", (e) => problems.push(String(e)));
    page.on("request", (r) => {
      if (!r.url().startsWith(ui.base)) problems.push(`foreign request ${r.url()}`);
    });
    await page.goto(ui.loginUrl);
    await page.getByRole("heading", { name: "Collections" }).waitFor();
    const session = (await context.cookies(ui.base)).find((c) => c.name.startsWith("vmm_ui_"));
    cookie = `${session?.name}=${session?.value}`;
  });
  afterAll(async () => {
    await context?.close();
    await ui?.stop();
    work.cleanup();
  });

  const getJson = async <T>(route: string): Promise<T> => {
    const reply = await raw(`${ui.base}/api${route}`, { headers: { Cookie: cookie } });
    return JSON.parse(reply.body) as T;
  };
  const metadataOf = async (id: string, collection = "notes") =>
    (
      await getJson<{ documents: { metadata: Record<string, unknown> }[] }>(
        `/documents?collection=${collection}&id=${encodeURIComponent(id)}`,
      )
    ).documents[0]?.metadata;
  /** Goes to a page of the UI and waits until it has rendered that route. */
  const open = async (hash: string) => {
    await page.goto(`${ui.base}/${hash}`);
    await page.locator(`main[data-route="${hash}"][aria-busy="false"]`).waitFor();
  };
  const openMap = async (hash: string) => {
    await page.goto(`${ui.base}/${hash}`);
    await page
      .locator(`main[data-route="${hash}"] #map-plot[data-ready="true"]`)
      .waitFor({ timeout: 30_000 });
  };
  /** Coloured (not white, not transparent) pixels of the map's canvas, counted in the page. */
  const colouredPixels = () =>
    page.evaluate(() => {
      const canvas = (
        globalThis as unknown as { document: { querySelector(s: string): unknown } }
      ).document.querySelector("#map-plot canvas") as {
        width: number;
        height: number;
        getContext(t: string): { getImageData(...a: number[]): { data: Uint8ClampedArray } };
      };
      const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
      let n = 0;
      for (let i = 0; i < data.length; i += 4)
        if (
          (data[i + 3] ?? 0) > 0 &&
          ((data[i] ?? 0) < 235 || (data[i + 1] ?? 0) < 235 || (data[i + 2] ?? 0) < 235)
        )
          n++;
      return n;
    });
  const pixelOf = async (id: string): Promise<[number, number]> => {
    const at = await page.evaluate(
      (id) =>
        (
          (
            globalThis as unknown as { document: { querySelector(s: string): unknown } }
          ).document.querySelector("#map-plot") as {
            pixelOf(id: string): number[] | undefined;
          }
        ).pixelOf(id),
      id,
    );
    if (at?.length !== 2) throw new Error(`no point for ${id}`);
    return [at[0] as number, at[1] as number];
  };

  it("draws the map: PCA in a worker, every point, coloured by a key, nothing refused by the CSP", async () => {
    await openMap("#/map?c=notes&key=topic");
    expect(await page.locator("#map-plot").getAttribute("data-points")).toBe("60");
    expect(await page.locator("p.summary").textContent()).toMatch(/^60 point\(s\); projected in \d+ ms/);
    expect(await colouredPixels()).toBeGreaterThan(200);
    expect(await page.getByLabel("Colour by").inputValue()).toBe("topic");
    await page.screenshot({ path: process.env.UI_MAP_SCREENSHOT ?? path.join(work.dir, "ui-map.png") });
    expect(problems).toEqual([]);
  });

  it("shows a point's text on hover and opens its document on click", async () => {
    const [x, y] = await pixelOf("d07");
    await page.mouse.move(x, y);
    await expect.poll(() => page.locator(".map-hover strong").textContent()).toMatch(/^d\d\d$/);
    const shown = (await page.locator(".map-hover strong").textContent()) ?? "";
    expect(await page.locator(".map-hover p").textContent()).toBe(DOCS.find((d) => d.id === shown)?.text);
    await page.mouse.click(x, y);
    await page.waitForURL(/#\/doc\?c=notes&id=d\d\d/);
    await page.locator("pre.doc-text").waitFor();
  });

  it("lays the points out with UMAP as well", async () => {
    await openMap("#/map?c=notes&p=umap");
    expect(await page.locator("#map-plot").getAttribute("data-points")).toBe("60");
    expect(await colouredPixels()).toBeGreaterThan(200);
    expect(problems).toEqual([]);
  });

  it("tags the points a box selects, then deletes the points a lasso selects, after a dry run", async () => {
    await openMap("#/map?c=notes");
    const box = await page.locator("#map-plot").boundingBox();
    if (!box) throw new Error("no plot");
    // Box around the whole plot: every point.
    await page.getByRole("button", { name: "Box select" }).click();
    await page.mouse.move(box.x + 4, box.y + 30);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2, { steps: 4 });
    await page.mouse.move(box.x + box.width - 4, box.y + box.height - 4, { steps: 4 });
    await page.mouse.up();
    await expect.poll(() => page.locator(".map-selection h2").textContent()).toBe("60 selected");
    await page.getByLabel("Tag key").fill("reviewed");
    await page.getByLabel("Tag value").fill("true");
    await page.getByRole("button", { name: "Tag selected" }).click();
    await expect
      .poll(() => page.locator(".map-selection p.notice").textContent())
      .toContain("Tagged 60 document(s)");
    expect(await metadataOf("d05")).toEqual({ topic: "travel", n: 5, reviewed: true });

    // A small lasso around one point.
    await page.getByRole("button", { name: "Clear selection" }).click();
    await page.getByRole("button", { name: "Lasso select" }).click();
    // Where the point is now that the buttons (above the plot) are in view.
    const [x, y] = await pixelOf("d10");
    await page.mouse.move(x - 3, y - 3);
    await page.mouse.down();
    for (const [dx, dy] of [
      [3, -3],
      [3, 3],
      [-3, 3],
      [-3, -3],
    ] as const)
      await page.mouse.move(x + dx, y + dy, { steps: 2 });
    await page.mouse.up();
    await expect.poll(() => page.locator(".map-selection h2").textContent()).toMatch(/^\d+ selected$/);
    const count = Number((await page.locator(".map-selection h2").textContent())?.split(" ")[0]);
    expect(count).toBeGreaterThanOrEqual(1);
    expect(count).toBeLessThan(60);
    await page.getByRole("button", { name: "Delete selected…" }).click();
    await expect
      .poll(() => page.locator(".confirm [role=alert]").textContent())
      .toBe(`Dry run: ${count} document(s) would be deleted.`);
    expect(await metadataOf("d10")).toBeDefined();
    await page.getByRole("button", { name: `Delete ${count} document(s)` }).click();
    await expect.poll(() => page.locator("#map-plot").getAttribute("data-points")).toBe(String(60 - count));
    expect(await metadataOf("d10")).toBeUndefined();
    expect(problems).toEqual([]);
  }, 60_000);

  it("shows duplicate pairs side by side; merge keeps one and takes over the other's metadata", async () => {
    await open("#/duplicates?c=dups&min=0.999");
    expect(await page.locator("p.summary").textContent()).toBe(
      "2 pair(s) at or above 0.999; checked 5 of 5 document(s).",
    );
    const pairs = page.locator("li.pair");
    expect(
      await pairs.evaluateAll((items) =>
        items.map((i) => (i as unknown as { dataset: { pair: string } }).dataset.pair),
      ),
    ).toEqual(["dup-a dup-b", "dup-c dup-d"]);
    const budget = pairs.nth(0);
    expect(await budget.locator(".side .snippet").allTextContents()).toEqual([BUDGET, BUDGET]);
    await budget.getByRole("button", { name: "Merge into left" }).click();
    await expect
      .poll(() => budget.locator("p.notice").textContent())
      .toBe("Merged dup-b into dup-a (metadata taken over: tags, source); dup-b deleted.");
    expect(await metadataOf("dup-a", "dups")).toEqual({
      topic: "office",
      tags: ["finance", "meeting"],
      source: "chat",
    });
    expect(await metadataOf("dup-b", "dups")).toBeUndefined();

    const printer = pairs.nth(1);
    await printer.getByRole("button", { name: "Keep right, delete the other" }).click();
    await expect.poll(() => printer.locator("p.notice").textContent()).toBe("Deleted 1: dup-c.");
    expect(await metadataOf("dup-c", "dups")).toBeUndefined();
    expect(await metadataOf("dup-d", "dups")).toEqual({ topic: "office" });

    await open("#/duplicates?c=dups&min=0.999&again=1");
    expect(await page.locator("p.summary").textContent()).toBe(
      "0 pair(s) at or above 0.999; checked 3 of 3 document(s).",
    );
    expect(problems).toEqual([]);
  });

  it("edits a document's text (re-embedded, re-chunked) and shows where each chunk starts", async () => {
    await open(`#/doc?c=dups&id=lone`);
    await expect.poll(() => page.locator("table.chunk-table tbody tr").count()).toBe(1);
    expect(await page.locator("table.chunk-table tbody td").allTextContents()).toEqual([
      "0",
      "0",
      String(DUPLICATES[4]?.text.length),
      DUPLICATES[4]?.text,
    ]);
    const long = Array.from({ length: 300 }, (_, i) => `Sentence ${i} about the zeppelin offsite.`).join(" ");
    await page.getByLabel(/Edit the text/).fill(long);
    await page.getByRole("button", { name: "Save text" }).click();
    await expect
      .poll(() => page.locator("#text-status").textContent(), { timeout: 20_000 })
      .toBe("Saved: 1 document(s) re-embedded.");
    expect(await page.locator("pre.doc-text").textContent()).toBe(long);
    const rows = page.locator("table.chunk-table tbody tr");
    await expect.poll(() => rows.count()).toBeGreaterThan(1);
    const starts = (await rows.locator("td:nth-child(2)").allTextContents()).map(Number);
    expect(starts[0]).toBe(0);
    for (let i = 1; i < starts.length; i++) expect(starts[i]).toBeGreaterThan(starts[i - 1] as number);
    // The new text is what the memory searches now.
    await open(`#/search?c=dups&q=zeppelin&mode=keyword`);
    await expect.poll(() => page.locator("li.result a.doc-link").allTextContents()).toEqual(["lone"]);
  });

  it("finds documents similar to a stored one, from its page and from a search result", async () => {
    await open(`#/doc?c=dups&id=dup-a`);
    await page.getByRole("link", { name: "Find similar" }).click();
    await expect.poll(() => page.locator("main h2").textContent()).toBe("2 document(s) similar to dup-a");
    const found = await page.locator("li.result a.doc-link").allTextContents();
    expect(found.sort()).toEqual(["dup-d", "lone"]);
    await page.locator("li.result").first().getByRole("link", { name: "Find similar" }).click();
    await expect
      .poll(() => page.locator("main h2").textContent())
      .toMatch(/^2 document\(s\) similar to (dup-d|lone)$/);
    expect(problems).toEqual([]);
  });

  it("exports a collection, imports the file as a new one, and drops it only with its name typed", async () => {
    await open("#/collections");
    const row = page.locator('tr[data-collection="dups"]');
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      row.getByRole("link", { name: "Export" }).click(),
    ]);
    const file = path.join(work.dir, "dups.jsonl");
    await download.saveAs(file);
    const lines = readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ type: "vector-memory-mcp/collection", name: "dups", count: 3 });
    expect(lines.slice(1).map((l) => l.id)).toEqual(["dup-a", "dup-d", "lone"]);

    await page.getByLabel("Into collection").fill("copy");
    await page.getByLabel(/Collection file/).setInputFiles(file);
    await page.getByRole("button", { name: "Import" }).click();
    await expect
      .poll(() => page.getByRole("status").first().textContent(), { timeout: 20_000 })
      .toBe('Imported 3 document(s) into "copy": 3 added, 0 replaced.');
    const copy = page.locator('tr[data-collection="copy"]');
    expect(await copy.locator("td").first().textContent()).toBe("3");

    // A bad line: nothing is imported, and the line is named.
    const bad = path.join(work.dir, "bad.jsonl");
    writeFileSync(bad, `${JSON.stringify({ id: "ok", text: "fine" })}\n{"id": 5}\n`);
    await page.getByLabel("Into collection").fill("never");
    await page.getByLabel(/Collection file/).setInputFiles(bad);
    await page.getByRole("button", { name: "Import" }).click();
    await expect
      .poll(() => page.locator("#import-status").textContent())
      .toMatch(/^The file's line 2: .+; nothing was imported\.$/);
    expect(await page.locator('tr[data-collection="never"]').count()).toBe(0);

    // The server wants the name too: a drop without it is refused.
    const csrf = (await page.locator('meta[name="csrf-token"]').getAttribute("content")) ?? "";
    const refused = await raw(`${ui.base}/api/delete`, {
      method: "POST",
      headers: { Cookie: cookie, "X-CSRF-Token": csrf, "Content-Type": "application/json" },
      body: JSON.stringify({ collection: "copy", drop_collection: true }),
    });
    expect(refused.status).toBe(400);

    await copy.getByRole("button", { name: "Drop copy…" }).click();
    const confirm = page.getByRole("button", { name: "Drop copy and its 3 document(s)" });
    expect(await confirm.isDisabled()).toBe(true);
    await page.getByLabel("Name of the collection to drop").fill("cop");
    expect(await confirm.isDisabled()).toBe(true);
    await page.getByLabel("Name of the collection to drop").fill("copy");
    await confirm.click();
    await expect
      .poll(() => page.getByRole("status").first().textContent())
      .toBe('Dropped "copy" (3 document(s)).');
    expect(await page.locator('tr[data-collection="copy"]').count()).toBe(0);
    expect(await page.locator('tr[data-collection="dups"]').count()).toBe(1);
    expect(problems).toEqual([]);
  });

  it("opens the login URL in $BROWSER with --open", async () => {
    await expect.poll(() => existsSync(path.join(work.dir, "opened"))).toBe(true);
    expect(readFileSync(path.join(work.dir, "opened"), "utf8").trim()).toBe(ui.loginUrl);
  });

  it("builds a where filter from the simple-condition form", async () => {
    await open("#/browse?c=dups");
    await page.getByLabel("Key", { exact: true }).fill("topic");
    await page.getByLabel("Operator").selectOption("$eq");
    await page.getByLabel("Value", { exact: true }).fill("office");
    await page.getByRole("button", { name: "Add condition" }).click();
    expect(await page.getByLabel("Filter (where, JSON)").inputValue()).toBe('{"topic":{"$eq":"office"}}');
    await page.getByRole("button", { name: "Apply" }).click();
    await expect
      .poll(() => page.locator("table.documents tbody th").allTextContents())
      .toEqual(["dup-a", "dup-d"]);
    // A second condition is joined with $and.
    await page.getByLabel("Key", { exact: true }).fill("tags");
    await page.getByLabel("Operator").selectOption("$in");
    await page.getByLabel("Value", { exact: true }).fill("meeting, other");
    await page.getByRole("button", { name: "Add condition" }).click();
    expect(await page.getByLabel("Filter (where, JSON)").inputValue()).toBe(
      '{"$and":[{"topic":{"$eq":"office"}},{"tags":{"$in":["meeting","other"]}}]}',
    );
    await page.getByRole("button", { name: "Apply" }).click();
    await expect.poll(() => page.locator("table.documents tbody th").allTextContents()).toEqual(["dup-a"]);
  });

  it("shows what an MCP client adds without a reload (polling)", async () => {
    await open("#/browse?c=dups");
    await page.evaluate(() => {
      (globalThis as { __sameDocument?: boolean }).__sameDocument = true;
    });
    const rows = page.locator("table.documents tbody th");
    await expect.poll(() => rows.allTextContents()).toEqual(["dup-a", "dup-d", "lone"]);
    // Let the quiet spell after the page's own writes (4 s) pass, and a poll take its baseline.
    await page.waitForTimeout(4500);
    await page.waitForResponse((r) => r.url().includes("/api/changes"), { timeout: 10_000 });
    const agent = await spawnServer(args);
    try {
      const added = await agent.call("add_documents", {
        collection: "dups",
        documents: [{ id: "from-agent", text: "An agent remembered this just now." }],
      });
      expect(added.isError).toBeFalsy();
      await expect
        .poll(() => rows.allTextContents(), { timeout: 15_000 })
        .toEqual(["dup-a", "dup-d", "from-agent", "lone"]);
      expect(await page.evaluate(() => (globalThis as { __sameDocument?: boolean }).__sameDocument)).toBe(
        true,
      );
    } finally {
      await agent.close();
    }
    expect(problems).toEqual([]);
  }, 90_000);
});
