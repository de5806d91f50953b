/**
 * Property-based fuzzing of the tools through a real MCP Client (issue "Safe under hostile input").
 *
 * Each run starts a fresh server on a private database, seeds one collection, then plays a generated
 * sequence of calls to add_documents, search_similar, get_documents, delete and list_collections: valid
 * ones, and valid ones with one field made hostile (SQL, quotes, control and odd Unicode characters,
 * path-like names, huge and deeply nested values, NaN/Infinity/-0, wrong types, unknown fields), sent
 * either as a JSON transport would deliver them or as raw objects. After every call it checks that:
 *   1. the server still answers (list_collections succeeds);
 *   2. the answer is a result whose structuredContent matches the tool's outputSchema (the client
 *      validates it, having listed the tools) and survives JSON, or an isError result with a clear
 *      text: never the internal-error ("This is a bug") or output-validation path;
 *   3. the stored data equals a model of what should be there, read whole with get_documents (search
 *      texts are cut to a budget): refused calls change nothing, accepted ones change exactly what they
 *      say, and every filter selects what an independent reference evaluator selects;
 *   4. nothing was written outside the database directory, and inside it only `<collection>.lance`.
 *
 * Reproducible: a fixed seed. More runs locally: FUZZ_RUNS=500 npx vitest run tests/integration/fuzz.test.ts
 * (FUZZ_SEED=<n> for another seed, FUZZ_VERBOSE=1 for a tally of outcomes).
 *
 * The generators live in tests/support/fuzz-arbitraries.ts and fuzz-steps.ts, the model and reference
 * filter in fuzz-model.ts, the checks in fuzz-checks.ts; the bugs it found, as regression tests, in
 * fuzz-findings.test.ts.
 */
import fc from "fast-check";
import { describe, it } from "vitest";
import { checkColumns, tally, VERBOSE } from "../support/fuzz-checks.js";
import { playStep, withRun } from "../support/fuzz-run.js";
import { anyStep } from "../support/fuzz-steps.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 30);
const SEED = Number(process.env.FUZZ_SEED ?? 20_260_601);

describe("fuzz: the tools under generated valid and hostile input", () => {
  it(
    `stay up, answer clearly, change nothing on refusal and write only their directory (${RUNS} runs, seed ${SEED})`,
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(anyStep, { minLength: 1, maxLength: 10 }), async (steps) => {
          await withRun(async (run) => {
            for (const s of steps) await playStep(run, s);
            await checkColumns(run);
          });
        }),
        { numRuns: RUNS, seed: SEED },
      );
      if (VERBOSE)
        console.log(
          [...tally]
            .sort()
            .map(([k, v]) => `${k}: ${v}`)
            .join("\n"),
        );
    },
    Math.max(60_000, RUNS * 4_000),
  );
});
