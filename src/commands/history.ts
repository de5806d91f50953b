import path from "node:path";
import { parseTime, TIME_FORMS } from "../time.js";
import { defineCommand, parseCollection } from "./command.js";
import { EXIT, table, UsageError } from "./io.js";

/** `history <collection>`: the kept versions, oldest first, with time, operation and rows changed. */
export const historyCommand = defineCommand({
  name: "history",
  usage: "history <collection>",
  options: {},
  async run({ args, config, app, io }) {
    const [name, ...rest] = args;
    if (name === undefined || rest.length > 0) throw new UsageError(`usage: ${this.usage}`);
    const versions = await app.memory.history(parseCollection(name));
    io.out(
      config.json
        ? `${JSON.stringify({ collection: name, versions })}\n`
        : table(
            ["version", "time", "operation", "rows", "change"],
            versions.map((v) => [
              String(v.version),
              v.time,
              v.operation,
              String(v.rows),
              v.rowsChanged > 0 ? `+${v.rowsChanged}` : String(v.rowsChanged),
            ]),
          ),
    );
    return EXIT.ok;
  },
});

/**
 * `restore <collection> --version N | --at <time> [--dry-run]`: the collection as it was, as a new
 * version (one commit; restoring the version it replaced undoes it). The dry run lists what would
 * change and writes nothing.
 */
export const restoreCommand = defineCommand({
  name: "restore",
  usage: "restore <collection> (--version N | --at <ISO 8601 time>) [--dry-run]",
  options: {
    version: { type: "string", value: "N" },
    at: { type: "string", value: "time" },
    "dry-run": { type: "boolean" },
  },
  async run({ args, flags, config, app, io }) {
    const [name, ...rest] = args;
    if (name === undefined || rest.length > 0 || (flags.version === undefined) === (flags.at === undefined))
      throw new UsageError(`usage: ${this.usage}`);
    let target: { version: number } | { at: number };
    if (flags.version !== undefined) {
      const version = Number(flags.version);
      if (!Number.isSafeInteger(version) || version < 1)
        throw new UsageError(`--version takes a version number from \`history\`, not ${flags.version}`);
      target = { version };
    } else {
      const at = parseTime(flags.at ?? "");
      if (at === undefined) throw new UsageError(`--at takes an ISO 8601 time: ${TIME_FORMS}`);
      target = { at };
    }
    const dryRun = flags["dry-run"] === true;
    const plan = await app.memory.restore(parseCollection(name), target, { dryRun });
    if (config.json) {
      io.out(`${JSON.stringify({ collection: name, dryRun, ...plan })}\n`);
      return EXIT.ok;
    }
    const list = (ids: string[]) =>
      ids.length === 0 ? "none" : `${ids.slice(0, 20).join(", ")}${ids.length > 20 ? ", ..." : ""}`;
    const what = `back: ${list(plan.back)}; removed: ${list(plan.gone)}; changed back: ${list(plan.changed)}`;
    io.out(
      dryRun
        ? `Would restore "${name}" to version ${plan.version} (now ${plan.from}), ${plan.documents} document(s). ${what}. Nothing was changed.\n`
        : `Restored "${name}" to version ${plan.version} as version ${plan.restoredAs}, ${plan.documents} document(s). ${what}. Undo: restore ${name} --version ${plan.from}\n`,
    );
    return EXIT.ok;
  },
});

/** `backup <dir>`: every collection, each at one version taken as the backup starts, into a new database directory. */
export const backupCommand = defineCommand({
  name: "backup",
  usage: "backup <dir>",
  options: {},
  async run({ args, config, app, io }) {
    const [dir, ...rest] = args;
    if (dir === undefined || rest.length > 0) throw new UsageError(`usage: ${this.usage}`);
    const copied = await app.memory.backup(path.resolve(dir));
    io.out(
      config.json
        ? `${JSON.stringify({ dir: path.resolve(dir), collections: copied })}\n`
        : `Backed up ${copied.length} collection(s) to ${path.resolve(dir)}: ${copied.map((c) => `${c.collection} (version ${c.version}, ${c.rows} rows)`).join(", ") || "none"}. Restore with: restore-backup ${dir} --db-path <dir>\n`,
    );
    return EXIT.ok;
  },
});

/** `restore-backup <dir>`: copies a backup's collections into this database; refuses ones that exist here. */
export const restoreBackupCommand = defineCommand({
  name: "restore-backup",
  usage: "restore-backup <dir>",
  options: {},
  async run({ args, config, app, io }) {
    const [dir, ...rest] = args;
    if (dir === undefined || rest.length > 0) throw new UsageError(`usage: ${this.usage}`);
    const restored = await app.memory.restoreBackup(path.resolve(dir));
    io.out(
      config.json
        ? `${JSON.stringify({ dir: path.resolve(dir), collections: restored })}\n`
        : `Restored ${restored.length} collection(s) from ${path.resolve(dir)}: ${restored.map((c) => `${c.collection} (${c.rows} rows)`).join(", ")}.\n`,
    );
    return EXIT.ok;
  },
});
