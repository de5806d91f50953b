import { homedir } from "node:os";
import type { App } from "../app.js";
import type { Config } from "../config.js";
import { ModelUnavailableError } from "../embeddings/embedder.js";
import { KNOWN_MODELS } from "../embeddings/known-models.js";
import { listCachedModels } from "../embeddings/model-cache.js";
import { BUNDLED_MODELS, resolveModelSpec, specId } from "../embeddings/model-spec.js";
import { defineCommand } from "./command.js";
import { type CommandIO, UsageError } from "./io.js";

export const modelsCommand = defineCommand({
  name: "models",
  usage: "models list [--json] | models pull <model id> [--dtype <dtype>]",
  options: {},
  async run({ args, config, app, io }) {
    const [sub, ...rest] = args;
    if (sub === "list" && rest.length === 0) return listModels(config, app, io);
    if (sub === "pull" && rest.length === 1) return pullModel(rest[0] as string, config, app, io);
    throw new UsageError(`usage: ${this.usage}`);
  },
});

async function listModels(config: Config, app: App, io: CommandIO): Promise<number> {
  const collections = await app.memory.listCollections();
  const usedBy = (model: string) => collections.filter((c) => c.model.model === model).map((c) => c.name);
  const cached = listCachedModels(config.modelCache);
  const report = {
    default: specId(app.defaultModel),
    cacheDir: config.modelCache,
    bundled: BUNDLED_MODELS.map((id) => ({ id, dimensions: 512, usedBy: usedBy(id) })),
    cached: cached.map((m) => ({ ...m, usedBy: usedBy(m.id) })),
    known: KNOWN_MODELS.map((m) => ({
      id: m.id,
      dimensions: m.dimensions,
      note: m.note,
      cached: cached.some((c) => c.id === m.id),
    })),
    collections: collections.map((c) => ({ name: c.name, ...c.model })),
  };
  if (config.json) {
    io.out(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  }
  const lines = [
    `Default model for new collections: ${report.default}`,
    "",
    "Bundled (no download, works offline):",
  ];
  for (const m of report.bundled) lines.push(`  ${m.id}  ${m.dimensions}-d${inUse(m.usedBy)}`);
  lines.push("", `Cached in ${report.cacheDir}:`);
  if (report.cached.length === 0) lines.push("  (none)");
  for (const m of report.cached) lines.push(`  ${m.id}  [${m.dtypes.join(", ")}]${inUse(m.usedBy)}`);
  lines.push("", "Known models (vector-memory-mcp models pull <id>):");
  for (const m of report.known)
    lines.push(
      `  ${m.id.padEnd(46)} ${String(m.dimensions).padStart(4)}-d  ${m.note}${m.cached ? " (cached)" : ""}`,
    );
  lines.push("", "Collections:");
  if (report.collections.length === 0) lines.push("  (none)");
  for (const c of report.collections) lines.push(`  ${c.name}: ${c.model} (${c.dtype}, ${c.dimensions}-d)`);
  io.out(`${lines.join("\n")}\n`);
  return 0;
}

function inUse(names: string[]): string {
  return names.length > 0 ? `  used by: ${names.join(", ")}` : "";
}

/**
 * Loads the model once with the app's embedder factory (the configured providers; --offline was
 * refused above, so the load may download), which puts it in the cache, then lets it go.
 */
async function pullModel(id: string, config: Config, app: App, io: CommandIO): Promise<number> {
  const spec = resolveModelSpec(id, config.dtype, homedir());
  if (spec.kind !== "hub") {
    io.err(
      `${id} is ${spec.kind === "bundled" ? "bundled with the package" : "a local directory"}; there is nothing to download.\n`,
    );
    return 0;
  }
  if (config.offline) {
    io.err("models pull downloads from the hub; run it without --offline.\n");
    return 1;
  }
  let lastReport = 0;
  try {
    const embedder = await app.embedderFactory(spec, (event) => {
      const now = Date.now();
      if (now - lastReport < 500 && event.loaded < event.total) return;
      lastReport = now;
      io.err(`${event.file}: ${(event.loaded / 1e6).toFixed(1)} of ${(event.total / 1e6).toFixed(1)} MB\n`);
    });
    await embedder.dispose();
    const result = {
      id: spec.name,
      dtype: spec.dtype,
      dimensions: embedder.dimensions,
      cacheDir: config.modelCache,
    };
    io.out(
      config.json
        ? `${JSON.stringify(result)}\n`
        : `Pulled ${specId(spec)} (${embedder.dimensions} dimensions) into ${config.modelCache}. It now loads with --offline.\n`,
    );
    return 0;
  } catch (error) {
    if (!(error instanceof ModelUnavailableError)) throw error;
    io.err(`${error.message}\n`);
    return 1;
  }
}
