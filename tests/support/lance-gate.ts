import path from "node:path";
import * as lancedb from "@lancedb/lancedb";
import { vi } from "vitest";
import type { Logger } from "../../src/logger.js";

type TableMethod = "optimize" | "createIndex";

/**
 * Holds LanceDB's `method` on every table until `open()`: a compaction or an index build that takes
 * as long as the test wants. Only calls `holds` picks (default: all); the first `conflicts` of
 * those fail at once, as LanceDB's do when another commit preempted them. `dir`: where a probe
 * table may be made (LanceDB's Table class is reached through one). Restore with vi.restoreAllMocks.
 */
export async function gateTable(
  dir: string,
  method: TableMethod,
  { holds = () => true, conflicts = 0 }: { holds?: (args: unknown[]) => boolean; conflicts?: number } = {},
): Promise<{ entered: Promise<void>; open: () => void }> {
  const db = await lancedb.connect(path.join(dir, "gate-probe"));
  const probe = await db.createTable("t", [{ x: 1 }], { mode: "overwrite" });
  const proto = Object.getPrototypeOf(probe) as Record<TableMethod, (...args: unknown[]) => Promise<unknown>>;
  probe.close();
  db.close();
  const real = proto[method];
  let open = () => {};
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  let entered = () => {};
  const inside = new Promise<void>((resolve) => {
    entered = resolve;
  });
  let failures = conflicts;
  vi.spyOn(proto, method).mockImplementation(async function (this: unknown, ...args: unknown[]) {
    if (holds(args)) {
      if (failures-- > 0)
        throw new Error("Commit conflict for version 9: preempted by concurrent transaction");
      entered();
      await gate;
    }
    return real.apply(this, args);
  });
  return { entered: inside, open };
}

/** A logger that keeps its warnings and errors, for tests that expect none (or some). */
export function warningLogger(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const logger: Logger = {
    debug: () => {},
    info: () => {},
    warn: (message) => void warnings.push(message),
    error: (message) => void warnings.push(message),
    onLog: () => () => {},
  };
  return { logger, warnings };
}
