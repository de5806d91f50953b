import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../support/harness.js";

/** History and restore: through the memory the CLI uses, checked through the MCP tools. */

type Doc = {
  id: string;
  text: string;
  metadata: Record<string, unknown>;
  created_at: string;
  updated_at: string;
};

const T0 = Date.parse("2026-11-01T08:00:00.000Z");

describe("history and restore", () => {
  let h: Harness;
  let now = T0;
  beforeEach(async () => {
    now = T0;
    h = await startHarness({ now: () => now });
  });
  afterEach(async () => h.close());

  const all = async () =>
    (await h.ok<{ documents: Doc[] }>("get_documents", { collection: "c", limit: 100 })).documents;
  const vectors = async () => {
    const rows = await h.app.memory.search("c", "release notes", { limit: 20, mode: "semantic" });
    return new Map(rows.results.map((r) => [r.id, r.score]));
  };

  it("undoes a delete by where: every document, vector and time back; the restore itself undoable", async () => {
    await h.ok("add_documents", {
      collection: "c",
      documents: [
        { id: "a", text: "release notes for version one", metadata: { team: "x" } },
        { id: "b", text: "release notes for version two", metadata: { team: "x" } },
        { id: "c", text: "lunch menu", metadata: { team: "y" } },
      ],
    });
    now += 60_000;
    await h.ok("update_documents", {
      collection: "c",
      documents: [{ id: "c", text: "lunch menu, updated" }],
    });
    const before = await all();
    const scoresBefore = await vectors();
    const good = (await h.app.memory.history("c")).at(-1)?.version as number;

    await h.ok("delete", { collection: "c", where: { team: "x" } });
    expect((await all()).map((d) => d.id)).toEqual(["c"]);
    const history = await h.app.memory.history("c");
    expect(history.at(-1)).toMatchObject({ operation: "delete", rowsChanged: -2 });
    expect(history[0]).toMatchObject({ operation: "create", rows: 3 });

    const dry = await h.app.memory.restore("c", { version: good }, { dryRun: true });
    expect(dry).toMatchObject({ version: good, documents: 3, back: ["a", "b"], gone: [], changed: [] });
    expect(dry.restoredAs).toBeUndefined();
    expect((await all()).map((d) => d.id)).toEqual(["c"]);

    const done = await h.app.memory.restore("c", { version: good }, { dryRun: false });
    expect(done.restoredAs).toBeGreaterThan(done.from);
    expect(await all()).toEqual(before);
    expect(await vectors()).toEqual(scoresBefore);

    // Undo the restore: back to the state after the delete.
    const undo = await h.app.memory.restore("c", { version: done.from }, { dryRun: false });
    expect(undo.gone).toEqual(["a", "b"]);
    expect((await all()).map((d) => d.id)).toEqual(["c"]);
    // And by time: the newest version at or before it.
    const at = Date.parse(history.find((v) => v.version === good)?.time ?? "");
    await h.app.memory.restore("c", { at }, { dryRun: false });
    expect(await all()).toEqual(before);
  });

  it("refuses a version that is not kept, or a time before every version, saying what is kept", async () => {
    await h.ok("add_documents", { collection: "c", documents: [{ id: "a", text: "x" }] });
    await expect(h.app.memory.restore("c", { version: 999 }, { dryRun: true })).rejects.toThrow(/not kept/);
    await expect(
      h.app.memory.restore("c", { at: Date.parse("2000-01-01") }, { dryRun: true }),
    ).rejects.toThrow(/No kept version/);
    await expect(h.app.memory.history("ghost")).rejects.toThrow(/does not exist/);
  });
});
