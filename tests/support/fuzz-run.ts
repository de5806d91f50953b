/** One fuzz run: a fresh server on a private database with the seeded collection, and its steps played. */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  BUG_TEXT,
  checkFiles,
  checkResultShape,
  checkState,
  checkSuccess,
  count,
  fail,
  invoke,
  listDir,
  mustSucceed,
  type Run,
  show,
  VERBOSE,
  wire,
} from "./fuzz-checks.js";
import { applyAdd, SEED_DOCS } from "./fuzz-model.js";
import type { Step } from "./fuzz-steps.js";
import { isPlain, materialize } from "./fuzz-values.js";
import { startHarness } from "./harness.js";

export async function playStep(run: Run, s: Step): Promise<void> {
  const args = materialize(s.args);
  const arrived = s.route === "json" ? wire(args) : args;
  run.log.push(`${s.tool} [${s.route}] ${show(arrived, 300)}`);
  const outcome = await invoke(run.h, s.tool, arrived);
  if (VERBOSE) {
    const why = outcome.kind === "error" ? outcome.text : outcome.kind === "thrown" ? outcome.message : "";
    count(
      `${s.tool} ${s.valid ? "valid" : "mutated"} ${outcome.kind} ${why.replace(/\s+/g, " ").slice(0, 90)}`,
    );
  }

  if (outcome.kind === "thrown") {
    // Only a request that is not a tool call at all (arguments not an object) may fail at the protocol level.
    if (isPlain(arrived) || /structured content|output schema/i.test(outcome.message))
      fail(run, `the call threw instead of returning a result: ${outcome.message}`);
  } else if (outcome.kind === "error") {
    if (outcome.text.trim().length === 0) fail(run, "isError result without text");
    if (BUG_TEXT.test(outcome.text)) fail(run, `internal error: ${outcome.text}`);
    if (s.valid && mustSucceed(run.model, s.tool, arrived as Record<string, unknown>))
      fail(run, `a valid call was refused: ${outcome.text}`);
  } else {
    checkResultShape(run, outcome);
    checkSuccess(run, s.tool, isPlain(arrived) ? arrived : {}, outcome.sc);
  }
  await checkState(run);
  checkFiles(run);
}

export async function withRun(body: (run: Run) => Promise<void>): Promise<void> {
  // The database sits four levels down a private directory, so "../"-style escapes land where we look.
  const base = mkdtempSync(path.join(tmpdir(), "vmm-fuzz-"));
  const levels = ["l1", "l1/l2", "l1/l2/l3", "l1/l2/l3/l4"];
  mkdirSync(path.join(base, "l1", "l2", "l3", "l4"), { recursive: true });
  const dbPath = path.join(base, "l1", "l2", "l3", "l4", "db");
  const outside = new Map([tmpdir(), "/"].map((dir) => [dir, listDir(dir)]));
  const h = await startHarness({ dbPath });
  const run: Run = {
    h,
    model: new Map(),
    base,
    allowed: new Set([...levels, "l1/l2/l3/l4/db", "l1/l2/l3/l4/cache"]),
    outside,
    log: [],
  };
  try {
    await h.client.listTools(); // from now on the client validates structuredContent against each outputSchema
    await h.ok("add_documents", { collection: "seed", documents: SEED_DOCS });
    applyAdd(
      run.model,
      "seed",
      SEED_DOCS,
      SEED_DOCS.map((d) => d.id as string),
    );
    await checkState(run);
    await body(run);
  } finally {
    await h.close();
    rmSync(base, { recursive: true, force: true });
  }
}
