import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BUG_TEXT } from "../support/fuzz-checks.js";
import type { Doc, NewDoc } from "../support/fuzz-model.js";
import { type Harness, startHarness } from "../support/harness.js";

/**
 * The bugs the fuzzer found, each as its minimal reproduction. Unpaired surrogates and a leading U+FEFF
 * may be refused or stored exactly; anything else (a silent change) is the bug.
 */
describe("fuzz findings", () => {
  let h: Harness;
  const text = (r: CallToolResult) => r.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");
  /** Refused with a clear error, or stored and read back exactly: either is fine, silent change is not. */
  async function refusedOrExact(documents: NewDoc[]): Promise<void> {
    const added = await h.call("add_documents", { collection: "k", documents });
    if (added.isError) {
      expect(text(added)).not.toMatch(BUG_TEXT);
      expect(await h.error("get_documents", { collection: "k" })).toMatch(/does not exist/);
      return;
    }
    const ids = documents.map((d) => d.id as string);
    const got = await h.ok<{ documents: Array<{ id: string } & Doc>; not_found: string[] }>("get_documents", {
      collection: "k",
      ids,
    });
    expect(got.not_found).toEqual([]);
    expect(got.documents).toEqual(
      documents.map((d) => ({ id: d.id, text: d.text, metadata: d.metadata ?? {} })),
    );
    const all = await h.ok<{ documents: Array<{ id: string }> }>("get_documents", { collection: "k" });
    expect(all.documents.map((d) => d.id).sort()).toEqual([...ids].sort());
  }

  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  // 1. Arrow encodes strings with TextEncoder, which turns an unpaired surrogate into U+FFFD: the text
  // was stored changed, and ids "\ud800" and "\udc00" became one stored id, twice.
  it("1a: a text with an unpaired surrogate is refused or stored exactly", async () => {
    await refusedOrExact([{ id: "u", text: "a\ud800b" }]);
  });
  it("1b: ids '\\ud800' and '\\udc00' are refused or stay two ids", async () => {
    await refusedOrExact([
      { id: "\ud800", text: "one" },
      { id: "\udc00", text: "two" },
    ]);
  });

  // 2. Strings are read back through TextDecoder, which drops a leading U+FEFF: "\ufeffhello" came back
  // as "hello"; an id "\ufeffid" came back from search as "id", could not be fetched, and delete by it
  // deleted the row while reporting it in not_found.
  it("2a: a text starting with U+FEFF is refused or stored exactly", async () => {
    await refusedOrExact([{ id: "t", text: "\ufeffhello" }]);
  });
  it("2b: an id starting with U+FEFF is refused or stored exactly", async () => {
    await refusedOrExact([{ id: "\ufeffid", text: "bom id" }]);
  });

  // 3. The store filled each metadata column from `row.metadata[key]`, so a document without the key
  // `constructor` (toString, valueOf...) got Object.prototype's member in that column, and filters,
  // delete included, matched documents that do not have the key.
  it("3: a filter on `constructor` matches only documents with that key", async () => {
    await h.ok("add_documents", {
      collection: "k",
      documents: [
        { id: "a", text: "has it", metadata: { constructor: "c" } },
        { id: "b", text: "does not" },
      ],
    });
    const out = await h.ok<{ ids: string[] }>("delete", {
      collection: "k",
      where: { constructor: { $ne: "zz" } },
      dry_run: true,
    });
    expect(out.ids).toEqual(["a"]);
  });

  // 4. zod's record() drops an own `__proto__` key, so a top-level `__proto__` condition in `where`
  // vanished instead of being refused: this delete would have removed every document with n >= 1.
  it("4: a top-level __proto__ key in where is refused", async () => {
    await h.ok("add_documents", { collection: "k", documents: [{ id: "a", text: "x", metadata: { n: 1 } }] });
    const where = JSON.parse('{"__proto__": {"n": 5}, "n": {"$gte": 1}}') as Record<string, unknown>;
    expect(await h.error("delete", { collection: "k", where, dry_run: true })).not.toMatch(BUG_TEXT);
  });

  // 5. The same zod behaviour dropped a `__proto__` metadata key: the add succeeded without it.
  it("5: a __proto__ metadata key is refused or kept", async () => {
    const metadata = JSON.parse('{"__proto__": 1, "n": 3}') as Record<string, unknown>;
    await refusedOrExact([{ id: "p", text: "proto", metadata }]);
  });

  // 6. JSON can carry -0 (Python's json.dumps(-0.0) is "-0.0"). The metadata JSON returned 0, but the
  // typed column kept -0.0, which Arrow orders below 0.0: {"n": 0} and {"n": {"$gte": 0}} missed the
  // document and {"n": {"$lt": 0}} found it.
  it("6: a metadata value -0 behaves as 0 in filters", async () => {
    const args = JSON.parse(
      '{"collection": "k", "documents": [{"id": "z", "text": "zero", "metadata": {"n": -0.0}}]}',
    );
    await h.ok("add_documents", args);
    const ids = async (where: string) =>
      (
        await h.ok<{ documents: Array<{ id: string }> }>("get_documents", {
          collection: "k",
          where: JSON.parse(where),
        })
      ).documents.map((d) => d.id);
    expect(await ids('{"n": 0}')).toEqual(["z"]);
    expect(await ids('{"n": {"$gte": 0}}')).toEqual(["z"]);
    expect(await ids('{"n": {"$lt": 0}}')).toEqual([]);
  });
});
