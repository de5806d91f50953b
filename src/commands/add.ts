import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { LIMITS } from "../contract/index.js";
import type { NewDocument } from "../memory.js";
import { defineCommand, parseCollection } from "./command.js";
import { collectFiles } from "./files.js";
import { EXIT, UsageError } from "./io.js";

const BATCH = 100;

/**
 * `add <collection> <files or dirs...>`: loads text and Markdown files, one document per file. The
 * id is the file's path relative to the working directory, so running it again updates in place.
 */
export const addCommand = defineCommand({
  name: "add",
  usage: "add <collection> <files or dirs...> [--include glob] [--exclude glob]",
  options: {
    include: { type: "string", multiple: true, value: "glob" },
    exclude: { type: "string", multiple: true, value: "glob" },
  },
  async run({ args, flags, config, app, io }) {
    const [name, ...targets] = args;
    if (name === undefined || targets.length === 0) throw new UsageError(`usage: ${this.usage}`);
    const collection = parseCollection(name);
    for (const target of targets) {
      try {
        statSync(target);
      } catch {
        throw new UsageError(`no such file or directory: ${target}`);
      }
    }
    const files = collectFiles(targets, flags.include ?? [], flags.exclude ?? []);
    const skipped: string[] = [];
    const documents: NewDocument[] = [];
    for (const file of files) {
      // Editors on Windows save UTF-8 with a byte-order mark; it is not part of the text.
      const text = readFileSync(file, "utf8").replace(/^\uFEFF/, "");
      const id = documentId(file);
      if (text.trim().length === 0) skipped.push(`${id} (empty)`);
      else if (text.length > LIMITS.textChars) skipped.push(`${id} (over ${LIMITS.textChars} characters)`);
      else documents.push({ id, text, metadata: fileMetadata(file, id, text) });
    }

    let added = 0;
    let replaced = 0;
    for (let start = 0; start < documents.length; start += BATCH) {
      const result = await app.memory.addDocuments(collection, documents.slice(start, start + BATCH));
      added += result.added;
      replaced += result.replaced;
      if (io.isTTY && !config.json) io.err(`\r${progressBar(start + result.ids.length, documents.length)}`);
    }
    if (io.isTTY && !config.json && documents.length > 0) io.err("\n");
    for (const skip of skipped) io.err(`skipped ${skip}\n`);
    const summary = { collection, files: documents.length, added, replaced, skipped };
    io.out(
      config.json
        ? `${JSON.stringify(summary)}\n`
        : `Loaded ${documents.length} file(s) into "${collection}": ${added} added, ${replaced} updated${skipped.length > 0 ? `, ${skipped.length} skipped` : ""}.\n`,
    );
    return documents.length === 0 && skipped.length > 0 ? EXIT.failed : EXIT.ok;
  },
});

function documentId(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return (rel.startsWith("..") || path.isAbsolute(rel) ? file : rel).split(path.sep).join("/");
}

function fileMetadata(file: string, id: string, text: string): Record<string, string | number> {
  const title = /^#\s+(.+)$/m.exec(text)?.[1]?.trim();
  return {
    source: id,
    ext: path.extname(file).toLowerCase() || "none",
    bytes: statSync(file).size,
    modified: statSync(file).mtime.toISOString(),
    ...(title ? { title: title.slice(0, LIMITS.metadataStringChars) } : {}),
  };
}

function progressBar(done: number, total: number): string {
  const width = 30;
  const filled = Math.round((done / Math.max(total, 1)) * width);
  return `[${"#".repeat(filled)}${" ".repeat(width - filled)}] ${done}/${total} files`;
}
