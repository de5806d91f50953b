import type { Config } from "../config.js";
import { LIMITS } from "../limits.js";
import type { SearchMode } from "../memory.js";
import { type Command, type CommandIO, EXIT, parseIntFlag, parseJsonFlag, table, UsageError } from "./io.js";

const print = (io: CommandIO, config: Config, json: unknown, human: () => string) => {
  io.out(config.json ? `${JSON.stringify(json, null, 2)}\n` : human());
};

export const searchCommand: Command = async (args, config, app, io) => {
  const [collection, query, ...rest] = args;
  if (!collection || !query || rest.length > 0)
    throw new UsageError('usage: search <collection> "<query>" [-n N] [--where JSON] [--mode M]');
  const mode = (config.commandFlags.mode ?? "hybrid") as SearchMode;
  if (!["hybrid", "semantic", "keyword"].includes(mode))
    throw new UsageError("--mode is hybrid, semantic or keyword");
  const { results } = await app.memory.search(collection, query, {
    limit:
      parseIntFlag("n-results", config.commandFlags.nResults, 1, LIMITS.nResultsMax) ??
      LIMITS.nResultsDefault,
    mode,
    where: parseJsonFlag("where", config.commandFlags.where),
  });
  print(io, config, { collection, mode, results }, () =>
    results.length === 0
      ? "No matches.\n"
      : table(
          ["#", "score", "id", "text"],
          results.map((r, i) => [String(i + 1), r.score.toFixed(3), r.id, r.text]),
        ),
  );
  return EXIT.ok;
};

export const listCommand: Command = async (args, config, app, io) => {
  if (args.length > 0) throw new UsageError("usage: list");
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
};

export const getCommand: Command = async (args, config, app, io) => {
  const [collection, ...ids] = args;
  if (!collection) throw new UsageError("usage: get <collection> [ids...] [--where JSON] [--limit N]");
  const where = parseJsonFlag("where", config.commandFlags.where);
  if (ids.length > 0 && where) throw new UsageError("give ids or --where, not both");
  const result = await app.memory.getDocuments(
    collection,
    ids.length > 0
      ? { ids }
      : { where, limit: parseIntFlag("limit", config.commandFlags.limit, 1, LIMITS.nResultsMax) ?? 20 },
  );
  print(io, config, result, () => {
    const rows = table(
      ["id", "text", "metadata"],
      result.documents.map((d) => [d.id, d.text, JSON.stringify(d.metadata)]),
    );
    const missing = result.notFound.length > 0 ? `not found: ${result.notFound.join(", ")}\n` : "";
    const more = result.nextCursor ? `${result.total} in all; showing ${result.documents.length}.\n` : "";
    return rows + missing + more;
  });
  return result.notFound.length > 0 && result.documents.length === 0 ? EXIT.failed : EXIT.ok;
};

export const deleteCommand: Command = async (args, config, app, io) => {
  const [collection, ...ids] = args;
  const where = parseJsonFlag("where", config.commandFlags.where);
  const selectors = [ids.length > 0, where !== undefined, config.commandFlags.drop].filter(Boolean).length;
  if (!collection || selectors !== 1) {
    throw new UsageError("usage: delete <collection> (ids... | --where JSON | --drop) [--dry-run]");
  }
  const request = ids.length > 0 ? { ids } : where ? { where } : { dropCollection: true as const };
  const result = await app.memory.delete(collection, request, { dryRun: config.commandFlags.dryRun });
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
};

export const statsCommand: Command = async (args, config, app, io) => {
  if (args.length > 1) throw new UsageError("usage: stats [<collection>]");
  const names = args.length === 1 ? args : (await app.memory.listCollections()).map((c) => c.name);
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
};

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}
