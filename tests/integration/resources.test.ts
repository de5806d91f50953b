import {
  LoggingMessageNotificationSchema,
  ResourceListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/logger.js";
import { type Harness, startHarness } from "../support/harness.js";

let h: Harness;
afterEach(async () => {
  await h.close();
});

const waitFor = async (check: () => boolean) => {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
};

describe("collections as MCP resources", () => {
  it("lists and reads the collection list and each collection", async () => {
    h = await startHarness();
    await h.ok("add_documents", { collection: "notes", documents: [{ text: "a" }, { text: "b" }] });
    const { resources } = await h.client.listResources();
    expect(resources.map((r) => r.uri).sort()).toEqual([
      "vector-memory://collections",
      "vector-memory://collections/notes",
    ]);
    expect(resources.find((r) => r.name === "notes")?.description).toContain("2 document(s)");

    const list = await h.client.readResource({ uri: "vector-memory://collections" });
    const first = list.contents[0] as { text: string; mimeType: string };
    expect(first.mimeType).toBe("application/json");
    expect(JSON.parse(first.text)).toEqual({
      collections: [{ name: "notes", count: 2, model: "test/hash-64", dtype: "fp32", dimensions: 64 }],
    });
    const one = await h.client.readResource({ uri: "vector-memory://collections/notes" });
    expect(JSON.parse((one.contents[0] as { text: string }).text)).toMatchObject({ name: "notes", count: 2 });
    await expect(h.client.readResource({ uri: "vector-memory://collections/ghost" })).rejects.toThrow(
      /no collection "ghost"/,
    );
    const { resourceTemplates } = await h.client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate)).toEqual(["vector-memory://collections/{name}"]);
  });

  it("announces list changes when a collection is created or dropped, not on every add", async () => {
    h = await startHarness();
    let changes = 0;
    h.client.setNotificationHandler(ResourceListChangedNotificationSchema, () => {
      changes += 1;
    });
    await h.ok("add_documents", { collection: "notes", documents: [{ text: "a" }] });
    await waitFor(() => changes === 1);
    await h.ok("add_documents", { collection: "notes", documents: [{ text: "b" }] });
    await h.ok("delete", { collection: "notes", drop_collection: true });
    await waitFor(() => changes === 2);
  });
});

describe("the logging capability", () => {
  it("sends log lines as notifications/message, honouring logging/setLevel", async () => {
    const lines: string[] = [];
    h = await startHarness({ logger: createLogger("debug", (line) => lines.push(line)) });
    const messages: Array<{ level: string; data: unknown }> = [];
    h.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      messages.push({ level: n.params.level, data: n.params.data });
    });
    await h.client.setLoggingLevel("info");
    await h.ok("add_documents", { collection: "logged", documents: [{ text: "a" }] });
    await waitFor(() => messages.some((m) => String(m.data).includes('created collection "logged"')));
    expect(messages.every((m) => m.level !== "debug")).toBe(true);
    // stderr (here: the logger's sink) gets the same line.
    expect(lines.some((l) => l.includes('created collection "logged"'))).toBe(true);
    await h.client.setLoggingLevel("error");
    const before = messages.length;
    await h.ok("add_documents", { collection: "quiet", documents: [{ text: "a" }] });
    await new Promise((r) => setTimeout(r, 50));
    expect(messages.length).toBe(before);
  });
});
