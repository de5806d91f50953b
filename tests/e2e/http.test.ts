import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../support/harness.js";
import { connectHttp, type HttpServerProcess, raw, spawnHttpServer } from "../support/http.js";
import { TINY_BERT } from "../support/stdio.js";

/** A raw request, so tests control every header (fetch forbids setting Host). */

const initialize = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
});

describe("the HTTP transport", () => {
  const work = tempDir("vmm-http-");
  const tokenFile = path.join(work.dir, "secret", "token");
  let server: HttpServerProcess;
  let token: string;

  beforeAll(async () => {
    server = await spawnHttpServer([
      "--db-path",
      path.join(work.dir, "db"),
      "--model",
      TINY_BERT,
      "--offline",
      "--token-file",
      tokenFile,
      "--allowed-origin",
      "http://localhost:5173",
    ]);
    token = readFileSync(tokenFile, "utf8").trim();
  });
  afterAll(async () => {
    await server.stop();
    work.cleanup();
  });

  it("binds loopback and keeps a generated token in a 0600 file", () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    expect(token.length).toBeGreaterThanOrEqual(40);
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(tokenFile)).mode & 0o777).toBe(0o700);
    expect(server.stderr()).not.toContain(token);
  });

  it("lets several clients share one memory, each seeing the others' writes", async () => {
    const a = await connectHttp(server.url, token, "agent-a");
    const b = await connectHttp(server.url, token, "agent-b");
    try {
      const added = await a.call("add_documents", {
        collection: "shared",
        documents: [{ id: "from-a", text: "agent A stored this fact" }],
      });
      expect(added.isError).toBeFalsy();
      const found = await b.call("search_similar", {
        collection: "shared",
        query: "agent A stored this fact",
      });
      expect((found.structuredContent as { results: Array<{ id: string }> }).results[0]?.id).toBe("from-a");
      await b.call("add_documents", {
        collection: "shared",
        documents: [{ id: "from-b", text: "agent B too" }],
      });
      const listed = await a.call("list_collections", {});
      expect(listed.structuredContent).toMatchObject({ collections: [{ name: "shared", count: 2 }] });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("answers a missing or wrong token with 401 and nothing else", async () => {
    const attempts: Array<Record<string, string>> = [
      {},
      { Authorization: "Bearer wrong-token-wrong-token-wrong" },
      { Authorization: token },
      { Authorization: `Bearer ${token}x` },
      { Authorization: `Basic ${token}` },
    ];
    for (const headers of attempts) {
      const res = await raw(server.url, {
        headers: { "Content-Type": "application/json", ...headers },
        body: initialize,
      });
      expect(res.status).toBe(401);
      expect(res.body).toBe("");
      expect(res.headers["www-authenticate"]).toMatch(/^Bearer/);
    }
    expect((await raw(server.url.replace("/mcp", "/other"), { method: "GET" })).status).toBe(401);
  });

  it("refuses foreign Host and Origin headers (DNS rebinding) even with the token", async () => {
    const auth = {
      Authorization: `Bearer ${token}`,
      "Content-Type": "application/json",
      Accept: "application/json, text/event-stream",
    };
    const evilHost = await raw(server.url, {
      headers: { ...auth, Host: "attacker.example:80" },
      body: initialize,
    });
    expect(evilHost.status).toBe(403);
    const evilOrigin = await raw(server.url, {
      headers: { ...auth, Origin: "http://attacker.example" },
      body: initialize,
    });
    expect(evilOrigin.status).toBe(403);
    const allowed = await raw(server.url, {
      headers: { ...auth, Origin: "http://localhost:5173" },
      body: initialize,
    });
    expect(allowed.status).toBe(200);
    const notFound = await raw(server.url.replace("/mcp", "/admin"), { headers: auth, body: initialize });
    expect(notFound.status).toBe(404);
  });

  it("refuses oversized bodies and non-JSON, and stays up", async () => {
    const auth = {
      Authorization: `Bearer ${token}`,
      "Content-Type": "application/json",
      Accept: "application/json, text/event-stream",
    };
    const huge = await raw(server.url, { headers: auth, body: "x".repeat(17 * 1024 * 1024) });
    expect(huge.status).toBe(413);
    const junk = await raw(server.url, { headers: auth, body: "{not json" });
    expect(junk.status).toBe(400);
    const noSession = await raw(server.url, {
      headers: auth,
      body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
    });
    expect(noSession.status).toBe(400);
    const c = await connectHttp(server.url, token);
    expect((await c.client.listTools()).tools.length).toBeGreaterThan(3);
    await c.close();
  });

  it("survives concurrent mixed load with no failed call and no lost acknowledged write", async () => {
    const clients = await Promise.all(
      Array.from({ length: 4 }, (_, i) => connectHttp(server.url, token, `load-${i}`)),
    );
    const acknowledged = new Set<string>();
    const deleted = new Set<string>();
    const failures: string[] = [];
    const until = Date.now() + 3000;
    await Promise.all(
      clients.map(async (c, worker) => {
        for (let n = 0; Date.now() < until; n++) {
          const id = `w${worker}-${n}`;
          const add = await c.call("add_documents", {
            collection: "load",
            documents: [{ id, text: `note ${n} from worker ${worker}`, metadata: { worker } }],
          });
          if (add.isError) failures.push(JSON.stringify(add.content));
          else acknowledged.add(id);
          const search = await c.call("search_similar", {
            collection: "load",
            query: `note ${n}`,
            n_results: 3,
          });
          if (search.isError) failures.push(JSON.stringify(search.content));
          if (n % 5 === 4) {
            const victim = `w${worker}-${n - 2}`;
            const del = await c.call("delete", { collection: "load", ids: [victim] });
            if (del.isError) failures.push(JSON.stringify(del.content));
            else deleted.add(victim);
          }
        }
      }),
    );
    expect(failures).toEqual([]);
    const check = clients[0] as (typeof clients)[number];
    const expected = [...acknowledged].filter((id) => !deleted.has(id));
    const got = await check.call("get_documents", { collection: "load", ids: expected.slice(0, 1000) });
    expect((got.structuredContent as { not_found: string[] }).not_found).toEqual([]);
    const gone = await check.call("get_documents", { collection: "load", ids: [...deleted].slice(0, 1000) });
    expect((gone.structuredContent as { documents: unknown[] }).documents).toEqual([]);
    await Promise.all(clients.map((c) => c.close()));
  });
});

describe("HTTP configuration", () => {
  it("accepts the token from VECTOR_MEMORY_TOKEN and refuses a short one", async () => {
    const work = tempDir("vmm-http2-");
    try {
      const strong = "s".repeat(32);
      const server = await spawnHttpServer(
        ["--db-path", path.join(work.dir, "db"), "--model", TINY_BERT, "--offline"],
        {
          VECTOR_MEMORY_TOKEN: strong,
        },
      );
      try {
        const c = await connectHttp(server.url, strong);
        expect((await c.call("list_collections", {})).isError).toBeFalsy();
        await c.close();
      } finally {
        await server.stop();
      }
      await expect(
        spawnHttpServer(["--db-path", path.join(work.dir, "db")], { VECTOR_MEMORY_TOKEN: "short" }),
      ).rejects.toThrow(/at least 16 characters/);
    } finally {
      work.cleanup();
    }
  });
});
