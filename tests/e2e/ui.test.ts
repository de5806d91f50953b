import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../support/harness.js";
import { spawnHttpServer } from "../support/http.js";
import { CLI, TINY_BERT } from "../support/stdio.js";
import {
  HAVE_CHROMIUM,
  importDocuments,
  launchChromium,
  raw,
  spawnUi,
  type UiProcess,
} from "../support/ui.js";

const HOSTILE_TEXT = '<script>window.__pwned = 1; alert("text")</script><img src=x onerror="alert(1)">';
const HOSTILE_META = "<img src=x onerror=window.__pwned=2>";

const DOCS = [
  {
    id: "a1",
    text: "The deploy key lives in the ops vault, rotated monthly.",
    metadata: { topic: "ops", n: 1 },
  },
  { id: "a2", text: "Deploys run from the release branch after review.", metadata: { topic: "ops", n: 2 } },
  { id: "b1", text: "Lunch on Fridays is pizza in the kitchen.", metadata: { topic: "office", n: 3 } },
  { id: "b2", text: "The printer on floor two needs toner.", metadata: { topic: "office", n: 4 } },
  { id: "x<script>", text: HOSTILE_TEXT, metadata: { topic: "hostile", note: HOSTILE_META } },
];

// Chromium is required in CI (.ci/run installs it); on a machine without it these tests say why they skip.
const reason = HAVE_CHROMIUM ? "" : " (skipped: /usr/bin/chromium not found; apt-get install chromium)";
if (!HAVE_CHROMIUM && process.env.CI)
  throw new Error("CI must run the web UI tests: /usr/bin/chromium is missing");

describe.skipIf(!HAVE_CHROMIUM)(`the web UI in headless Chromium${reason}`, () => {
  const work = tempDir("vmm-ui-");
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
  let csrf: string;
  const dialogs: string[] = [];
  const foreignRequests: string[] = [];

  beforeAll(async () => {
    importDocuments(args, "notes", DOCS);
    ui = await spawnUi(args);
    mkdirSync(path.join(work.dir, "profile"));
    context = await launchChromium(path.join(work.dir, "profile"));
    page = context.pages()[0] ?? (await context.newPage());
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    page.on("request", (request) => {
      if (!request.url().startsWith(ui.base)) foreignRequests.push(request.url());
    });
    await page.goto(ui.loginUrl);
    await page.getByRole("heading", { name: "Collections" }).waitFor();
    const session = (await context.cookies(ui.base)).find((c) => c.name.startsWith("vmm_ui_"));
    cookie = `${session?.name}=${session?.value}`;
    csrf = (await page.locator('meta[name="csrf-token"]').getAttribute("content")) ?? "";
  });
  afterAll(async () => {
    await context?.close();
    await ui?.stop();
    work.cleanup();
  });

  const api = (
    route: string,
    options: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
  ) =>
    raw(`${ui.base}/api${route}`, {
      method: options.method ?? "GET",
      headers: { "Content-Type": "application/json", ...options.headers },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
  /** Goes to a page of the UI and waits until it has rendered that route. */
  const open = async (hash: string) => {
    await page.goto(`${ui.base}/${hash}`);
    // Runs in the page; typed loosely since the tests' tsconfig has no DOM types.
    await page.waitForFunction(() => {
      const { document, location } = globalThis as unknown as {
        document: {
          querySelector(s: string): { dataset: Record<string, string>; ariaBusy: string | null } | null;
        };
        location: { hash: string };
      };
      const main = document.querySelector("main");
      return main?.dataset.route === location.hash && main.ariaBusy === "false";
    });
  };
  const metadataOf = async (id: string) => {
    const reply = await api(`/documents?collection=notes&id=${encodeURIComponent(id)}`, {
      headers: { Cookie: cookie },
    });
    return (JSON.parse(reply.body) as { documents: { metadata: Record<string, unknown> }[] }).documents[0]
      ?.metadata;
  };

  it("logs in with the printed URL: an HttpOnly, SameSite=Strict cookie, then the clean URL", async () => {
    expect(page.url()).toBe(`${ui.base}/`);
    const [session] = (await context.cookies(ui.base)).filter((c) => c.name.startsWith("vmm_ui_"));
    expect(session).toMatchObject({ httpOnly: true, sameSite: "Strict" });
    expect(csrf).toMatch(/^[\w-]{40,}$/);
    // The login token is good for one login only; the browser that used it is just let in again.
    expect((await raw(ui.loginUrl)).status).toBe(401);
    await page.goto(ui.loginUrl);
    expect(page.url()).toBe(`${ui.base}/`);
    await page.getByRole("heading", { name: "Collections" }).waitFor();
  });

  it("lists the collections with count, model, dimensions and index state", async () => {
    const row = page.locator('tr[data-collection="notes"]');
    await expect.poll(() => row.count()).toBe(1);
    const cells = await row.locator("td").allTextContents();
    expect(cells[0]).toBe("5");
    expect(cells[2]).toContain("tiny-bert");
    expect(Number(cells[4])).toBeGreaterThan(0);
    // The index state: a small collection has no vector index (it is searched exactly).
    expect(await row.locator('td[data-index="vector"]').textContent()).toBe("none");
    expect(await row.locator('td[data-index="text"]').textContent()).toMatch(/^(none|\d+ indexed.*)$/);
  });

  it("browses the documents and filters them with a where filter", async () => {
    await page.getByRole("link", { name: "notes" }).click();
    await page.getByRole("heading", { name: "Browse" }).waitFor();
    const rows = page.locator("table.documents tbody tr");
    await expect.poll(() => rows.count()).toBe(5);
    await page.getByLabel("Filter (where, JSON)").fill('{"topic": "ops"}');
    await page.getByLabel("Filter (where, JSON)").press("Enter");
    await expect.poll(() => page.locator("p.summary").textContent()).toContain("2 document(s) match");
    expect(await rows.locator("th").allTextContents()).toEqual(["a1", "a2"]);
    await page.getByLabel("Filter (where, JSON)").fill('{"topic": {"$bogus": 1}}');
    await page.getByRole("button", { name: "Apply" }).click();
    await expect.poll(() => page.getByRole("alert").count()).toBe(1);
  });

  it("pages through the documents", async () => {
    await open(`#/browse?c=notes&limit=2`);
    await expect.poll(() => page.locator("table.documents tbody th").allTextContents()).toEqual(["a1", "a2"]);
    await page.getByRole("link", { name: "Next page" }).click();
    await expect.poll(() => page.locator("table.documents tbody th").allTextContents()).toEqual(["b1", "b2"]);
  });

  for (const mode of ["hybrid", "semantic", "keyword"]) {
    it(`searches in ${mode} mode, with the query's words marked`, async () => {
      await open(`#/search?c=notes`);
      await page.getByLabel("Query").fill("deploy key vault");
      await page.getByLabel("Mode").selectOption(mode);
      await page.getByLabel("Results").fill("3");
      await page.getByRole("button", { name: "Search" }).click();
      const results = page.locator("li.result");
      // The first search of the run loads the model and writes the collection's text index: on a
      // loaded CI machine that passed the 1 s default (seen once), so it gets longer.
      await expect.poll(() => results.count(), { timeout: 15_000 }).toBeGreaterThan(0);
      expect(await results.count()).toBeLessThanOrEqual(3);
      const first = results.first();
      expect(await first.locator(".matched").textContent()).toMatch(/matched by (semantic|keyword)/);
      expect(await first.locator(".score").textContent()).toMatch(/^score -?\d\.\d{3}$/);
      if (mode !== "semantic") {
        expect(await first.locator("a.doc-link").textContent()).toBe("a1");
        expect((await first.locator("mark").allTextContents()).map((m) => m.toLowerCase())).toContain(
          "vault",
        );
      }
      if (mode === "hybrid") {
        await page.screenshot({ path: process.env.UI_SCREENSHOT ?? path.join(work.dir, "ui-search.png") });
      }
    });
  }

  it("applies min_score and where in search", async () => {
    await open(
      `#/search?c=notes&q=pizza&mode=keyword&where=${encodeURIComponent('{"topic":"office"}')}&min=-1`,
    );
    await expect.poll(() => page.locator("li.result a.doc-link").allTextContents()).toEqual(["b1"]);
    await open(`#/search?c=notes&q=pizza&mode=keyword&min=1`);
    await expect.poll(() => page.locator("h2").textContent()).toBe("0 result(s)");
  });

  it("opens a document and edits its metadata with update_documents' rules", async () => {
    await open(`#/browse?c=notes`);
    await page.getByRole("link", { name: "a1", exact: true }).click();
    await page.locator("pre.doc-text").waitFor();
    expect(await page.locator("pre.doc-text").textContent()).toBe(DOCS[0]?.text);
    const editor = page.getByLabel(/Metadata as JSON/);
    await editor.fill(JSON.stringify({ topic: "security", reviewed: true }));
    await page.getByRole("button", { name: "Save metadata" }).click();
    await expect.poll(() => page.locator("#metadata-status").textContent()).toContain("Saved: 3 key(s)");
    expect(await metadataOf("a1")).toEqual({ topic: "security", reviewed: true });
    // A key keeps one type within a collection: the memory's refusal is shown, nothing changes.
    await editor.fill(JSON.stringify({ topic: 7, reviewed: true }));
    await page.getByRole("button", { name: "Save metadata" }).click();
    await expect.poll(() => page.getByRole("alert").count()).toBe(1);
    expect(await metadataOf("a1")).toEqual({ topic: "security", reviewed: true });
  });

  it("deletes a document only after showing the dry run's count", async () => {
    await open(`#/doc?c=notes&id=b2`);
    await page.getByRole("button", { name: "Delete…" }).click();
    await expect
      .poll(() => page.getByRole("alert").textContent())
      .toContain("Dry run: 1 document(s) would be deleted (b2)");
    expect(await metadataOf("b2")).toBeDefined();
    await page.getByRole("button", { name: "Delete 1 document(s)" }).click();
    await page.getByRole("heading", { name: "Browse" }).waitFor();
    expect(await page.getByRole("status").first().textContent()).toContain("Deleted 1 document(s): b2.");
    expect(await metadataOf("b2")).toBeUndefined();
  });

  it("shows HTML and script in stored text and metadata as text, never running it", async () => {
    await open(`#/doc?c=notes&id=${encodeURIComponent("x<script>")}`);
    await page.locator("pre.doc-text").waitFor();
    expect(await page.locator("pre.doc-text").textContent()).toBe(HOSTILE_TEXT);
    expect(await page.locator("h1 code").textContent()).toBe("x<script>");
    expect(await page.locator("body img, main script").count()).toBe(0);
    expect(JSON.parse(await page.getByLabel(/Metadata as JSON/).inputValue())).toMatchObject({
      note: HOSTILE_META,
    });
    await open(`#/browse?c=notes&where=${encodeURIComponent('{"topic":"hostile"}')}`);
    await expect.poll(() => page.locator("td.text").textContent()).toBe(HOSTILE_TEXT);
    expect(await page.locator("td.meta").textContent()).toContain(HOSTILE_META);
    expect(await page.locator("body img, main script").count()).toBe(0);
    await open(`#/search?c=notes&q=script%20img&mode=keyword`);
    await expect.poll(() => page.locator("li.result").count()).toBeGreaterThan(0);
    expect(await page.locator("body img, main script").count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(dialogs).toEqual([]);
  });

  it("loads nothing from anywhere but itself (works offline)", () => {
    expect(foreignRequests).toEqual([]);
  });

  it("refuses an API call without the session cookie: 401 and no data", async () => {
    const reply = await api("/collections");
    expect(reply.status).toBe(401);
    expect(reply.body).not.toContain("notes");
    const page = await raw(`${ui.base}/`);
    expect(page.status).toBe(401);
    expect(page.body).not.toContain("csrf");
    const del = await api("/delete", {
      method: "POST",
      headers: { "X-CSRF-Token": csrf },
      body: { collection: "notes", ids: ["a2"] },
    });
    expect(del.status).toBe(401);
    expect(await metadataOf("a2")).toBeDefined();
  });

  it("refuses a wrong Origin or Host with 403, even with the cookie", async () => {
    const origin = await api("/collections", { headers: { Cookie: cookie, Origin: "http://evil.example" } });
    expect(origin.status).toBe(403);
    expect(origin.body).not.toContain("notes");
    const host = await api("/collections", { headers: { Cookie: cookie, Host: "evil.example" } });
    expect(host.status).toBe(403);
    const ok = await api("/collections", { headers: { Cookie: cookie, Origin: ui.base } });
    expect(ok.status).toBe(200);
  });

  it("refuses a state-changing request without the CSRF token: 403 and nothing changes", async () => {
    const update = { collection: "notes", documents: [{ id: "a2", metadata: { topic: "changed" } }] };
    const attempts: Record<string, string>[] = [
      { Cookie: cookie },
      { Cookie: cookie, "X-CSRF-Token": "wrong" },
    ];
    for (const headers of attempts) {
      const reply = await api("/update", { method: "POST", headers, body: update });
      expect(reply.status).toBe(403);
    }
    const del = await api("/delete", {
      method: "POST",
      headers: { Cookie: cookie },
      body: { collection: "notes", ids: ["a2"] },
    });
    expect(del.status).toBe(403);
    expect(await metadataOf("a2")).toEqual({ topic: "ops", n: 2 });
    // With the token, the same request goes through: the refusals above were the token's doing.
    const done = await api("/update", {
      method: "POST",
      headers: { Cookie: cookie, "X-CSRF-Token": csrf },
      body: update,
    });
    expect(done.status).toBe(200);
    expect(await metadataOf("a2")).toEqual({ topic: "changed", n: 2 });
  });
});

describe("the ui command's usage", () => {
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [CLI, "ui", ...args], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "" },
    });

  it("refuses extra words or another command's flag with exit 2 and one line", () => {
    for (const [args, message] of [
      [["extra"], "usage: ui [--port N] [--open]"],
      [["--bogus"], "unknown option --bogus; ui takes --port <N>, --open"],
    ] as const) {
      const result = run(...args);
      expect(result.status).toBe(2);
      expect(result.stderr).toContain(message);
      expect(result.stdout).toBe("");
    }
  });

  it("says so when the port is taken, exit 1", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const { port } = taken.address() as AddressInfo;
    const result = run("--port", String(port), "--db-path", path.join(tmpdir(), "vmm-ui-unused"));
    taken.close();
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`port ${port} is in use; --port 0 picks a free one`);
  });

  it("refuses a port that is not one as the server's --port does: exit 1, nothing started", () => {
    for (const port of ["nope", "70000", "1.5"]) {
      const result = run("--port", port);
      expect(result.status).toBe(1);
      expect(result.stderr).toContain("--port / VECTOR_MEMORY_PORT");
      expect(result.stdout).toBe("");
    }
  });
});

describe("the web UI beside /mcp with --http", () => {
  const work = tempDir("vmm-ui-http-");
  let server: Awaited<ReturnType<typeof spawnHttpServer>>;
  beforeAll(async () => {
    const args = ["--db-path", path.join(work.dir, "db"), "--model", TINY_BERT, "--offline"];
    importDocuments(args, "notes", DOCS.slice(0, 2));
    server = await spawnHttpServer([...args, "--token-file", path.join(work.dir, "token")]);
  });
  afterAll(async () => {
    await server?.stop();
    work.cleanup();
  });

  it("serves the same UI and login, while /mcp still needs the bearer token", async () => {
    const loginUrl = /web UI: (http:\/\/\S+)/.exec(server.stderr())?.[1] ?? "";
    const base = server.url.replace(/\/mcp$/, "");
    expect(loginUrl.startsWith(`${base}/?token=`)).toBe(true);
    expect((await raw(`${base}/api/collections`)).status).toBe(401);
    const login = await raw(loginUrl);
    expect(login.status).toBe(303);
    const cookie = String(login.headers["set-cookie"]).split(";")[0] ?? "";
    expect(String(login.headers["set-cookie"])).toMatch(/HttpOnly; SameSite=Strict/);
    const collections = await raw(`${base}/api/collections`, { headers: { Cookie: cookie } });
    expect(collections.status).toBe(200);
    expect(JSON.parse(collections.body)).toMatchObject({ collections: [{ name: "notes", count: 2 }] });
    const page = await raw(`${base}/`, { headers: { Cookie: cookie } });
    expect(page.body).toContain('<script type="module" src="/assets/app.js">');
    expect(
      (await raw(`${base}/api/collections`, { headers: { Cookie: cookie, Origin: "http://evil.example" } }))
        .status,
    ).toBe(403);
    // The session cookie is no bearer token: /mcp and other paths refuse it.
    expect((await raw(server.url, { method: "POST", headers: { Cookie: cookie }, body: "{}" })).status).toBe(
      401,
    );
    expect((await raw(`${base}/other`, { headers: { Cookie: cookie } })).status).toBe(401);
  });
});
