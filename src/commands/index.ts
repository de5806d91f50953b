import type { App } from "../app.js";
import type { Config } from "../config.js";
import { MemoryError } from "../errors.js";
import { addCommand } from "./add.js";
import { type Command, describeOptions } from "./command.js";
import { deleteCommand, getCommand, listCommand, searchCommand, statsCommand } from "./documents.js";
import { backupCommand, historyCommand, restoreBackupCommand, restoreCommand } from "./history.js";
import { type CommandIO, EXIT, UsageError } from "./io.js";
import { modelsCommand } from "./models.js";
import { reembedCommand } from "./reembed.js";
import { exportCommand, importCommand } from "./transfer.js";
import { uiCommand } from "./ui.js";

export const COMMANDS: ReadonlyMap<string, Command> = new Map<string, Command>(
  [
    modelsCommand,
    reembedCommand,
    addCommand,
    searchCommand,
    listCommand,
    getCommand,
    deleteCommand,
    statsCommand,
    exportCommand,
    importCommand,
    historyCommand,
    restoreCommand,
    backupCommand,
    restoreBackupCommand,
    uiCommand,
  ].map((command) => [command.name, command as Command]),
);

/** The one-line answer to a flag the command does not take: which flags it does take. */
export function unknownFlagMessage(command: Command, reason: string): string {
  return `${reason.replace(/\.$/, "")}; ${command.name} takes ${describeOptions(command.options)}, and the server options (see --help)`;
}

/**
 * Runs a command whose flags have parsed. Mistakes in the call (usage, a value the contract refuses,
 * a bad --where) print one line and exit 2; problems the user can fix otherwise exit 1; bugs throw.
 */
export async function runCommand(
  command: Command,
  args: string[],
  config: Config,
  app: App,
  io: CommandIO,
): Promise<number> {
  const fail = (code: number, message: string) => {
    io.err(`vector-memory-mcp ${command.name}: ${message}\n`);
    return code;
  };
  const missing = Object.entries(command.options).find(
    ([name, spec]) => spec.required && config.flags[name] === undefined,
  );
  if (missing) return fail(EXIT.usage, `--${missing[0]} is required: ${command.usage}`);
  try {
    // readConfig parsed exactly this command's options, so the values have the types its specs say.
    const flags = config.flags as Parameters<Command["run"]>[0]["flags"];
    return await command.run({ args, flags, config, app, io });
  } catch (error) {
    if (error instanceof UsageError) return fail(EXIT.usage, error.message);
    if (error instanceof MemoryError)
      return fail(error.code === "invalid_filter" ? EXIT.usage : EXIT.failed, error.messageFor("cli"));
    throw error;
  }
}
