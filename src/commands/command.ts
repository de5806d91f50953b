import { z } from "zod";
import type { App } from "../app.js";
import type { Config } from "../config.js";
import { collectionName } from "../contract/index.js";
import { type CommandIO, UsageError } from "./io.js";

/** One option of a command, as node:util parseArgs takes it, plus what its help line shows. */
export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  /** The value's placeholder in help, e.g. "JSON". */
  value?: string;
  /** The command refuses to run without it. */
  required?: boolean;
}

export type OptionSpecs = Record<string, OptionSpec>;

type FlagValue<O extends OptionSpec> = O["type"] extends "boolean"
  ? boolean | undefined
  : O["multiple"] extends true
    ? string[] | undefined
    : string | undefined;

/** The parsed values of a command's options, typed from their specs. */
export type Flags<O extends OptionSpecs> = { readonly [K in keyof O]: FlagValue<O[K]> };

export interface CommandContext<O extends OptionSpecs> {
  /** Positional words after the command's name. */
  args: string[];
  flags: Flags<O>;
  config: Config;
  app: App;
  io: CommandIO;
}

/**
 * A CLI command: its name, usage line and own options (besides the server's, which every command
 * takes), and what it does; returns the exit code.
 */
export interface Command<O extends OptionSpecs = OptionSpecs> {
  name: string;
  /** Usage after the program name, e.g. `search <collection> "<query>" [-n N]`. */
  usage: string;
  options: O;
  run(context: CommandContext<O>): Promise<number>;
}

/** Declares a command; `const` keeps the option specs literal, so `flags` is typed from them. */
export function defineCommand<const O extends OptionSpecs>(command: Command<O>): Command<O> {
  return command;
}

/** The command's own flags, for a usage error: `-n/--n-results <N>, --where <JSON>`. */
export function describeOptions(options: OptionSpecs): string {
  const parts = Object.entries(options).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}/` : ""}--${name}`;
    const value = spec.type === "string" ? ` <${spec.value ?? "value"}>` : "";
    const notes = [spec.required ? "required" : "", spec.multiple ? "repeatable" : ""].filter(Boolean);
    return `${flag}${value}${notes.length > 0 ? ` (${notes.join(", ")})` : ""}`;
  });
  return parts.length > 0 ? parts.join(", ") : "no options of its own";
}

/**
 * Validates a command's input with the contract's schema, the one the matching MCP tool uses.
 * The first problem becomes a one-line usage error naming the argument as the command line spells
 * it (`labels`: schema field to `<collection>`, `--where`, ...).
 */
export function parseInput<S extends z.ZodType>(
  schema: S,
  input: Record<string, unknown>,
  labels: Record<string, string>,
): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path[0];
  const label = field === undefined ? undefined : (labels[String(field)] ?? `--${String(field)}`);
  let value: unknown = input;
  for (const key of issue?.path ?? []) value = (value as Record<PropertyKey, unknown> | undefined)?.[key];
  const shown = typeof value === "string" && value.length <= 80 ? ` ${JSON.stringify(value)}` : "";
  const where = label === undefined ? "" : `${label}${shown}: `;
  throw new UsageError(`${where}${issue?.message ?? "invalid input"}`);
}

const collectionOnly = z.object({ collection: collectionName });

/** A collection name checked by the contract before anything opens the database. */
export function parseCollection(collection: string): string {
  return parseInput(collectionOnly, { collection }, { collection: "<collection>" }).collection;
}

/** A number-valued flag: the schema checks its range; a word that is not a number stops here. */
export function numberFlag(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n))
    throw new UsageError(`${flag} takes a number, not "${value}"`);
  return n;
}
