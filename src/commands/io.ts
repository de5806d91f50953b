/** Where a command writes: results to `out` (stdout), progress and errors to `err` (stderr). */
export interface CommandIO {
  out(text: string): void;
  err(text: string): void;
}

export const processIO: CommandIO = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};
