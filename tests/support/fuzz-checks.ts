/**
 * The fuzzer's invariants, checked after every call: a clear answer of the right shape, stored data
 * equal to the model, and no file outside the database directory.
 */
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import {
  applyAdd,
  byCodeUnits,
  type CollectionModel,
  type Doc,
  kindOf,
  type Model,
  type NewDoc,
  Refused,
  referenceFilter,
} from "./fuzz-model.js";
import { isPlain, type Kind, objectOf } from "./fuzz-values.js";
import type { Harness } from "./harness.js";

/** FUZZ_VERBOSE=1: count outcomes into `tally`, which the test prints at the end. */
export const VERBOSE = process.env.FUZZ_VERBOSE === "1";

/** The ids a filter selects (all without one), or the reason the reference refuses it. */
function expectedIds(where: unknown, coll: CollectionModel): Set<string> | Refused {
  if (where === undefined) return new Set(coll.docs.keys());
  try {
    if (!isPlain(where)) throw new Refused("not an object");
    const predicate = referenceFilter(where, coll.kinds);
    const ids = new Set([...coll.docs].filter(([, doc]) => predicate(doc.metadata)).map(([id]) => id));
    if (VERBOSE)
      count(`filter selects ${ids.size === 0 ? "none" : ids.size === coll.docs.size ? "all" : "some"}`);
    return ids;
  } catch (error) {
    if (error instanceof Refused) return error;
    throw error;
  }
}

/** What a JSON transport delivers: NaN and Infinity become null, -0 becomes 0, undefined disappears. */
export const wire = (value: unknown): unknown =>
  value === undefined ? undefined : JSON.parse(JSON.stringify(value));
function noNegZero(value: unknown): unknown {
  if (Object.is(value, -0)) return 0;
  if (Array.isArray(value)) return value.map(noNegZero);
  if (isPlain(value)) return objectOf(Object.keys(value).map((k) => [k, noNegZero(value[k])]));
  return value;
}
/** Equal as sent over any wire (-0 is 0 there), and exactly equal otherwise (NaN is not null). */
export const same = (a: unknown, b: unknown) => isDeepStrictEqual(noNegZero(a), noNegZero(b));
export const show = (value: unknown, max = 400): string => {
  const text =
    JSON.stringify(value, (_k, v) =>
      typeof v === "number" && !Number.isFinite(v) ? `<${v}>` : v === undefined ? "<undefined>" : v,
    ) ?? String(value);
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
};

export const BUG_TEXT =
  /internal error|this is a bug|output validation error|unknown error|\[object Object\]/i;
const COLLECTION_DIR = /^([a-z0-9][a-z0-9_-]{0,63}(\.g[1-9][0-9]*)?\.lance|\.locks)$/;
const LOCK_DIR = /^[a-z0-9][a-z0-9_-]{0,63}\.lock$/;
const COLLECTION_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export type Outcome =
  | { kind: "ok"; sc: Record<string, unknown>; result: CallToolResult }
  | { kind: "error"; text: string }
  | { kind: "thrown"; message: string };

export interface Run {
  h: Harness;
  model: Model;
  base: string;
  /** Paths under `base` that may exist: the directories down to the database. */
  allowed: Set<string>;
  /** Directories a path escape could reach, with what they held before the run. */
  outside: Map<string, Set<string>>;
  log: string[];
}

export const tally = new Map<string, number>();
export const count = (key: string) => tally.set(key, (tally.get(key) ?? 0) + 1);

export async function invoke(h: Harness, tool: string, args: unknown): Promise<Outcome> {
  try {
    const result = (await h.client.callTool({
      name: tool,
      arguments: args as Record<string, unknown>,
    })) as CallToolResult;
    if (result.isError) {
      return { kind: "error", text: result.content.map((c) => (c.type === "text" ? c.text : "")).join("\n") };
    }
    return { kind: "ok", sc: result.structuredContent as Record<string, unknown>, result };
  } catch (error) {
    return { kind: "thrown", message: error instanceof Error ? error.message : String(error) };
  }
}

export function fail(run: Run, message: string): never {
  throw new Error(`${message}\n  steps:\n    ${run.log.join("\n    ")}`);
}

/**
 * Whether an unchanged valid call must succeed: its collection exists (an add creates it), its filter
 * is one the reference accepts for the collection's columns, and an add gives no key a second type.
 */
export function mustSucceed(model: Model, tool: string, args: Record<string, unknown>): boolean {
  const coll = model.get(args.collection as string);
  if (tool === "list_collections") return true;
  if (tool !== "add_documents")
    return coll !== undefined && !(expectedIds(args.where, coll) instanceof Refused);
  const kinds = coll?.kinds ?? new Map<string, Kind>();
  const keys = new Set(kinds.keys());
  for (const doc of args.documents as NewDoc[]) {
    const metadata = doc.metadata ?? {};
    for (const key of Object.keys(metadata)) {
      const known = kinds.get(key);
      if (known !== undefined && known !== kindOf(metadata[key])) return false;
      keys.add(key);
    }
  }
  return keys.size <= 256;
}

export function checkResultShape(run: Run, outcome: Extract<Outcome, { kind: "ok" }>): void {
  // The client has listed the tools, so it already validated structuredContent against the outputSchema.
  if (!isPlain(outcome.sc)) fail(run, "success without structuredContent");
  if (!isDeepStrictEqual(noNegZero(outcome.sc), wire(outcome.sc)))
    fail(run, `structuredContent does not survive JSON (NaN, Infinity, undefined?): ${show(outcome.sc)}`);
  const text = outcome.result.content.find((c) => c.type === "text");
  if (text?.type !== "text" || text.text.length === 0) fail(run, "success without a text block");
}

interface SearchHit {
  id: string;
  text?: string;
  truncated: boolean;
  text_chars: number;
  score: number;
  distance: number;
  metadata: unknown;
}

export function checkSuccess(
  run: Run,
  tool: string,
  args: Record<string, unknown>,
  sc: Record<string, unknown>,
): void {
  const model = run.model;
  const collection = args.collection as string;
  if (tool !== "list_collections" && !COLLECTION_NAME.test(String(collection)))
    fail(run, `accepted a bad collection name ${show(collection)}`);
  const coll = model.get(collection);
  const stored = (id: string, what: unknown) => {
    const doc = coll?.docs.get(id);
    if (!doc) fail(run, `${tool} returned ${show(what)}, which is not stored`);
    return doc;
  };
  switch (tool) {
    case "add_documents": {
      const docs = args.documents as NewDoc[];
      const out = sc as { ids: string[]; added: number; replaced: number; created: boolean };
      if (out.ids.length !== docs.length)
        fail(run, `add returned ${out.ids.length} ids for ${docs.length} documents`);
      docs.forEach((d, i) => {
        if (d.id !== undefined && out.ids[i] !== d.id)
          fail(run, `add returned id ${show(out.ids[i])} for ${show(d.id)}`);
      });
      const replaced = out.ids.filter((id) => coll?.docs.has(id)).length;
      if (out.created !== (coll === undefined)) fail(run, `add: created=${out.created}`);
      if (out.replaced !== replaced || out.added !== docs.length - replaced)
        fail(run, `add: added ${out.added} replaced ${out.replaced}, expected ${replaced} replaced`);
      applyAdd(model, collection, docs, out.ids);
      return;
    }
    case "search_similar": {
      if (!coll) fail(run, "search succeeded on a collection that does not exist");
      const limit = (args.n_results as number | undefined) ?? 5;
      const exact = args.mode === "semantic" && !args.diversity && args.min_score === undefined;
      const expected = expectedIds(args.where, coll);
      if (expected instanceof Refused)
        fail(run, `search accepted a filter the reference refuses (${expected.message})`);
      const results = (sc as { results: SearchHit[] }).results;
      const ids = results.map((r) => r.id);
      if (new Set(ids).size !== ids.length) fail(run, `search returned an id twice: ${show(ids)}`);
      if (
        ids.length > limit ||
        ids.some((id) => !expected.has(id)) ||
        (exact && ids.length !== Math.min(limit, expected.size))
      )
        fail(run, `search returned ${show(ids)}; the filter selects ${show([...expected])} (limit ${limit})`);
      results.forEach((r, i) => {
        const doc = stored(r.id, r);
        const textOk =
          args.include_text === false
            ? r.text === undefined
            : r.text !== undefined &&
              doc.text.startsWith(r.text) &&
              r.truncated === r.text.length < doc.text.length;
        if (!textOk || r.text_chars !== doc.text.length || !same(r.metadata, doc.metadata))
          fail(run, `search returned ${show(r)}, stored is ${show(doc)}`);
        if (Math.abs(r.distance - (1 - r.score)) > 1e-5 || r.score > 1 + 1e-5)
          fail(run, `score ${r.score} / distance ${r.distance}`);
        if (typeof args.min_score === "number" && r.score < args.min_score)
          fail(run, `score below min_score`);
        if (exact && i > 0 && r.score > (results[i - 1]?.score as number) + 1e-6)
          fail(run, "results not best first");
      });
      return;
    }
    case "get_documents": {
      if (!coll) fail(run, "get_documents succeeded on a collection that does not exist");
      const out = sc as { documents: Array<{ id: string } & Doc>; not_found: string[]; total: number };
      for (const d of out.documents) {
        const doc = stored(d.id, d);
        if (d.text !== doc.text || !same(d.metadata, doc.metadata))
          fail(run, `get_documents returned ${show(d)}, stored is ${show(doc)}`);
      }
      const got = out.documents.map((d) => d.id);
      if (args.ids !== undefined) {
        const requested = [...new Set(args.ids as string[])];
        const present = requested.filter((id) => coll.docs.has(id));
        if (
          !same(got, present) ||
          !same(
            out.not_found,
            requested.filter((id) => !coll.docs.has(id)),
          )
        )
          fail(run, `get_documents by ids returned ${show(got)} / not found ${show(out.not_found)}`);
        return;
      }
      const expected = expectedIds(args.where, coll);
      if (expected instanceof Refused)
        fail(run, `get_documents accepted a filter the reference refuses (${expected.message})`);
      const sorted = [...expected].sort(byCodeUnits);
      const limit = (args.limit as number | undefined) ?? 20;
      if (out.total !== expected.size || got.some((id) => !expected.has(id)) || got.length > limit)
        fail(run, `get_documents returned ${show(got)} of ${out.total}; the filter selects ${show(sorted)}`);
      if (args.cursor === undefined && !same(got, sorted.slice(0, limit)))
        fail(run, `get_documents first page ${show(got)}, expected ${show(sorted.slice(0, limit))}`);
      return;
    }
    case "delete": {
      if (!coll) fail(run, "delete succeeded on a collection that does not exist");
      const out = sc as {
        deleted: number;
        not_found: string[];
        dropped_collection: boolean;
        dry_run?: boolean;
      };
      const dry = args.dry_run === true;
      if ((out.dry_run ?? false) !== dry) fail(run, `delete: dry_run=${out.dry_run}`);
      let gone: string[];
      if (args.ids !== undefined) {
        const requested = [...new Set(args.ids as string[])];
        gone = requested.filter((id) => coll.docs.has(id));
        const missing = requested.filter((id) => !coll.docs.has(id));
        if (!same(out.not_found, missing))
          fail(run, `delete: not_found ${show(out.not_found)}, expected ${show(missing)}`);
      } else if (args.where !== undefined) {
        const expected = expectedIds(args.where, coll);
        if (expected instanceof Refused)
          fail(run, `delete accepted a filter the reference refuses (${expected.message})`);
        if (isPlain(args.where) && Object.keys(args.where).length === 0)
          fail(run, "delete accepted an empty where");
        gone = [...expected];
      } else {
        gone = [...coll.docs.keys()];
        if (!out.dropped_collection) fail(run, "drop_collection did not report dropped_collection");
        if (!dry) model.delete(collection);
      }
      if (out.deleted !== gone.length)
        fail(run, `delete: deleted ${out.deleted}, expected ${gone.length} (${show(gone)})`);
      if (!dry) for (const id of gone) coll.docs.delete(id);
      return;
    }
    case "list_collections":
      return; // checkState compares the listing with the model after every step.
    default:
      fail(run, `tool ${tool} succeeded but does not exist`);
  }
}

/** The server answers, and every collection holds exactly what the model says (read whole, by paging). */
export async function checkState(run: Run): Promise<void> {
  const listed = await invoke(run.h, "list_collections", {});
  if (listed.kind !== "ok") fail(run, `list_collections failed after the step: ${show(listed)}`);
  const collections = (
    listed.sc as { collections: Array<{ name: string; count: number; dimensions: number }> }
  ).collections;
  const names = collections.map((c) => c.name).sort();
  const expectedNames = [...run.model.keys()].sort();
  if (!same(names, expectedNames)) fail(run, `collections ${show(names)}, expected ${show(expectedNames)}`);
  for (const c of collections) {
    const coll = run.model.get(c.name) as CollectionModel;
    if (c.count !== coll.docs.size)
      fail(run, `"${c.name}" holds ${c.count} documents, expected ${coll.docs.size}`);
    if (c.dimensions !== 64) fail(run, `"${c.name}" has ${c.dimensions} dimensions`);
    const seen = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await invoke(run.h, "get_documents", {
        collection: c.name,
        limit: 100,
        ...(cursor ? { cursor } : {}),
      });
      if (page.kind !== "ok") fail(run, `reading "${c.name}" failed: ${show(page)}`);
      const out = page.sc as { documents: Array<{ id: string } & Doc>; next_cursor: string | null };
      for (const d of out.documents) {
        const doc = coll.docs.get(d.id);
        if (!doc || seen.has(d.id) || doc.text !== d.text || !same(doc.metadata, d.metadata))
          fail(run, `"${c.name}" holds ${show(d)}, expected ${show(doc ?? "nothing with that id")}`);
        seen.add(d.id);
      }
      cursor = out.next_cursor ?? undefined;
    } while (cursor);
    if (seen.size !== coll.docs.size)
      fail(run, `"${c.name}": read ${seen.size} documents of ${coll.docs.size}`);
  }
}

/**
 * Every metadata column holds a value exactly for the documents that have the key, and that value
 * behaves like the one returned in `metadata`: probe filters that any present value satisfies, and a
 * range split at 0, must select what the reference selects (once per run: it costs a call per probe).
 */
export async function checkColumns(run: Run): Promise<void> {
  const probes: Record<Kind, unknown[]> = {
    string: [{ $ne: "\u0001never" }],
    number: [{ $ne: 1.2345678912345e-300 }, { $gte: 0 }],
    boolean: [{ $in: [true, false] }, true],
    "string[]": [{ $nin: ["\u0001never"] }],
  };
  for (const [name, coll] of run.model) {
    for (const [key, kind] of coll.kinds) {
      for (const probe of probes[kind]) {
        const where = objectOf([[key, probe]]);
        const expected = [...(expectedIds(where, coll) as Set<string>)].sort(byCodeUnits);
        const page = await invoke(run.h, "get_documents", { collection: name, where, limit: 100 });
        if (page.kind !== "ok") fail(run, `get_documents ${show(where)} on "${name}" failed: ${show(page)}`);
        const out = page.sc as { documents: Array<{ id: string }>; total: number };
        const got = out.documents.map((d) => d.id);
        if (out.total !== expected.length || !same(got, expected.slice(0, 100)))
          fail(
            run,
            `"${name}": ${show(where)} selects ${show(got)} (${out.total}), expected ${show(expected)}`,
          );
      }
    }
  }
}

export function listDir(dir: string): Set<string> {
  try {
    return new Set(readdirSync(dir));
  } catch {
    return new Set();
  }
}

/**
 * Nothing new outside the database directory; inside it, only `<collection>[.gN].lance` directories
 * and `.locks`, the cross-process lock directory, holding only `<collection>.lock` entries.
 */
export function checkFiles(run: Run): void {
  const walk = (dir: string, rel: string): void => {
    for (const entry of readdirSync(dir)) {
      const relPath = rel ? `${rel}/${entry}` : entry;
      if (!run.allowed.has(relPath)) fail(run, `a file outside the database: ${path.join(dir, entry)}`);
      if (path.join(dir, entry) !== run.h.dbPath) walk(path.join(dir, entry), relPath);
    }
  };
  walk(run.base, "");
  const onlyDirectories = (dir: string, pattern: RegExp) => {
    for (const entry of listDir(dir)) {
      // A lock may be released between the listing and the stat: a vanished entry is fine.
      const isDirectory = statSync(path.join(dir, entry), { throwIfNoEntry: false })?.isDirectory() ?? true;
      if (!pattern.test(entry) || !isDirectory) fail(run, `unexpected entry in ${dir}: ${show(entry)}`);
    }
  };
  onlyDirectories(run.h.dbPath, COLLECTION_DIR);
  onlyDirectories(path.join(run.h.dbPath, ".locks"), LOCK_DIR);
  // The shared temp dir and / change under other processes: only names an escape could make count there.
  for (const [dir, before] of run.outside) {
    for (const entry of listDir(dir)) {
      if (!before.has(entry) && (dir === "/" || /\.lance$|^(x|etc|passwd|share)$/.test(entry)))
        fail(run, `new entry ${show(entry)} in ${dir}`);
    }
  }
}
