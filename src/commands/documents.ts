import type { Config } from "../config.js";
import {
  DOCUMENT_ORDERS,
  deleteInput,
  getDocumentsInput,
  SEARCH_MODES,
  searchSimilarInput,
} from "../contract/index.js";
import { defineCommand, numberFlag, parseCollection, parseInput } from "./command.js";
import { type CommandIO, EXIT, parseJsonFlag, table, UsageError } from "./io.js";

const print = (io: CommandIO, config: Config, json: unknown, human: () => string) => {
  io.out(config.json ? `${JSON.stringify(json, null, 2)}\n` : human());
};

/** How the command line spells the contract's fields, for its error messages. */
const LABELS = {
  collection: "<collection>",
  query: "<query>",
  ids: "<id>",
  n_results: "-n/--n-results",
  where: "--where",
  mode: "--mode",
  limit: "--limit",
  order_by: "--order-by",
};

export const searchCommand = defineCommand({
  name: "search",
  usage: `search <collection> "<query>" [-n N] [--where JSON] [--mode ${SEARCH_MODES.join("|")}]`,
  options: {
    "n-results": { type: "string", short: "n", value: "N" },
    where: { type: "string", value: "JSON" },
    mode: { type: "string", value: SEARCH_MODES.join("|") },
  },
  async run({ args, flags, config, app, io }) {
    const [collection, query, ...rest] = args;
    if (collection === undefined || query === undefined || rest.length > 0)
      throw new UsageError(`usage: ${this.usage}`);
    const input = parseInput(
      searchSimilarInput,
      {
        collection,
        query,
        n_results: numberFlag("-n/--n-results", flags["n-results"]),
        where: parseJsonFlag("where", flags.where),
        mode: flags.mode,
      },
      LABELS,
    );
    const { results } = await app.memory.search(input.collection, input.query, {
      limit: input.n_results,
      mode: input.mode,
      where: input.where,
    });
    print(io, config, { collection, mode: input.mode, results }, () =>
      results.length === 0
        ? "No matches.\n"
        : table(
            ["#", "score", "id", "updated", "text"],
            results.map((r, i) => [String(i + 1), r.score.toFixed(3), r.id, shortTime(r.updatedAt), r.text]),
          ),
    );
    return EXIT.ok;
  },
});

export const listCommand = defineCommand({
  name: "list",
  usage: "list",
  options: {},
  async run({ args, config, app, io }) {
    if (args.length > 0) throw new UsageError(`usage: ${this.usage}`);
    const collections = (await app.memory.listCollections()).map((c) => ({
      name: c.name,
      count: c.count,
      ...c.model,
    }));
    print(io, config, { collections }, () =>
      collections.length === 0
        ? "No collections yet.\n"
        : table(
            ["collection", "documents", "model", "dtype", "dims"],
            collections.map((c) => [c.name, String(c.count), c.model, c.dtype, String(c.dimensions)]),
          ),
    );
    return EXIT.ok;
  },
});

export const getCommand = defineCommand({
  name: "get",
  usage: "get <collection> [ids...] [--where JSON] [--limit N] [--order-by id|updated_at|created_at]",
  options: {
    where: { type: "string", value: "JSON" },
    limit: { type: "string", value: "N" },
    "order-by": { type: "string", value: DOCUMENT_ORDERS.join("|") },
  },
  async run({ args, flags, config, app, io }) {
    const [collection, ...ids] = args;
    if (collection === undefined) throw new UsageError(`usage: ${this.usage}`);
    const where = parseJsonFlag("where", flags.where);
    if (ids.length > 0 && where) throw new UsageError("give ids or --where, not both");
    const input = parseInput(
      getDocumentsInput,
      {
        collection,
        ids: ids.length > 0 ? ids : undefined,
        where,
        limit: numberFlag("--limit", flags.limit),
        order_by: flags["order-by"],
      },
      LABELS,
    );
    const result = await app.memory.getDocuments(
      input.collection,
      input.ids ? { ids: input.ids } : { where: input.where, limit: input.limit, orderBy: input.order_by },
    );
    print(io, config, result, () => {
      const rows = table(
        ["id", "updated", "text", "metadata"],
        result.documents.map((d) => [d.id, shortTime(d.updatedAt), d.text, JSON.stringify(d.metadata)]),
      );
      const missing = result.notFound.length > 0 ? `not found: ${result.notFound.join(", ")}\n` : "";
      const more = result.nextCursor ? `${result.total} in all; showing ${result.documents.length}.\n` : "";
      return rows + missing + more;
    });
    return result.notFound.length > 0 && result.documents.length === 0 ? EXIT.failed : EXIT.ok;
  },
});

export const deleteCommand = defineCommand({
  name: "delete",
  usage: "delete <collection> (ids... | --where JSON | --drop) [--dry-run]",
  options: {
    where: { type: "string", value: "JSON" },
    drop: { type: "boolean" },
    "dry-run": { type: "boolean" },
  },
  async run({ args, flags, config, app, io }) {
    const [collection, ...ids] = args;
    const where = parseJsonFlag("where", flags.where);
    const selectors = [ids.length > 0, where !== undefined, flags.drop === true].filter(Boolean).length;
    if (collection === undefined || selectors !== 1) throw new UsageError(`usage: ${this.usage}`);
    const input = parseInput(
      deleteInput,
      {
        collection,
        ids: ids.length > 0 ? ids : undefined,
        where,
        drop_collection: flags.drop === true ? true : undefined,
        dry_run: flags["dry-run"] === true,
      },
      LABELS,
    );
    const request = input.ids
      ? { ids: input.ids }
      : input.where
        ? { where: input.where }
        : { dropCollection: true as const };
    const result = await app.memory.delete(input.collection, request, { dryRun: input.dry_run });
    print(io, config, result, () => {
      const verb = result.dryRun ? "Would delete" : "Deleted";
      const dropped = result.droppedCollection
        ? ` and ${result.dryRun ? "drop" : "dropped"} "${collection}"`
        : "";
      const listed = result.dryRun && result.ids && result.ids.length > 0 ? `\n${result.ids.join("\n")}` : "";
      const missing = result.notFound.length > 0 ? `\nnot found: ${result.notFound.join(", ")}` : "";
      return `${verb} ${result.deleted} document(s)${dropped}.${listed}${missing}\n`;
    });
    return EXIT.ok;
  },
});

export const statsCommand = defineCommand({
  name: "stats",
  usage: "stats [<collection>]",
  options: {},
  async run({ args, config, app, io }) {
    if (args.length > 1) throw new UsageError(`usage: ${this.usage}`);
    const names =
      args.length === 1 ? args.map(parseCollection) : (await app.memory.listCollections()).map((c) => c.name);
    const stats = [];
    for (const name of names) stats.push(await app.memory.stats(name));
    const rows = stats.map((s) => ({
      name: s.name,
      documents: s.documents,
      chunks: s.chunks,
      model: s.model.model,
      dimensions: s.model.dimensions,
      fragments: s.fragments,
      bytes: s.bytes,
    }));
    print(
      io,
      config,
      { dbPath: config.dbPath, collections: rows },
      () =>
        `Database: ${config.dbPath}\n${
          rows.length === 0
            ? "No collections yet.\n"
            : table(
                ["collection", "documents", "chunks", "model", "dims", "fragments", "size"],
                rows.map((r) => [
                  r.name,
                  String(r.documents),
                  String(r.chunks),
                  r.model,
                  String(r.dimensions),
                  String(r.fragments),
                  formatBytes(r.bytes),
                ]),
              )
        }`,
    );
    return EXIT.ok;
  },
});

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

/** A stored time for a table cell: to the second, UTC; "-" where unknown (stored before times were kept). */
function shortTime(iso: string | null): string {
  return iso === null ? "-" : `${iso.slice(0, 19).replace("T", " ")}Z`;
}
