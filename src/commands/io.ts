/** Where a command writes: results to `out` (stdout), progress and errors to `err` (stderr). */
export interface CommandIO {
  out(text: string): void;
  err(text: string): void;
  /** Whether stdout/stderr are terminals: tables and progress bars for people, plain lines otherwise. */
  isTTY: boolean;
  /** Reads all of standard input (for import). */
  readStdin(): Promise<string>;
}

export const processIO: CommandIO = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  isTTY: Boolean(process.stdout.isTTY && process.stderr.isTTY),
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  },
};

/** Wrong arguments: the command prints the message and its usage, and exits 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A plain text table: columns padded to their widest cell, long cells cut. */
export function table(headers: string[], rows: string[][], maxCell = 60): string {
  const cut = (cell: string) => {
    const flat = cell.replace(/\s+/g, " ");
    return flat.length > maxCell ? `${flat.slice(0, maxCell - 1)}…` : flat;
  };
  const cells = [headers, ...rows].map((row) => row.map(cut));
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? "").length)));
  const line = (row: string[]) =>
    row
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return `${[line(cells[0] ?? []), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n")}\n`;
}

export function parseJsonFlag(name: string, value: string | undefined): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(value);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new UsageError(`--${name} takes a JSON object, e.g. --${name} '{"topic": "ops"}'`);
}
