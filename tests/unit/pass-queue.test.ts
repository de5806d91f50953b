import { describe, expect, it } from "vitest";
import { PassQueue } from "../../src/embeddings/pass-queue.js";

/** A fake model: each row's vector is [first id, row length]; every pass is recorded. */
function fakeModel(fail?: (rows: readonly (readonly number[])[]) => boolean) {
  const passes: number[][][] = [];
  let release: (() => void) | undefined;
  const pass = async (rows: readonly (readonly number[])[]) => {
    passes.push(rows.map((row) => [...row]));
    // The first pass waits to be released, so that calls pile up behind it.
    if (passes.length === 1) await new Promise<void>((resolve) => (release = resolve));
    if (fail?.(rows)) throw new Error("bad row");
    return rows.map((row) => Float32Array.from([row[0] ?? -1, row.length]));
  };
  return { passes, pass, release: () => release?.() };
}

const ids = (first: number, length: number) => [first, ...Array.from({ length: length - 1 }, () => 0)];

describe("PassQueue (concurrent embed calls sharing forward passes)", () => {
  it("runs a lone call at once, then joins the calls that arrived meanwhile into one pass", async () => {
    const model = fakeModel();
    const queue = new PassQueue(model.pass, 32);
    const first = queue.embed([ids(1, 3)]);
    const later = [queue.embed([ids(2, 3)]), queue.embed([ids(3, 4), ids(4, 2)]), queue.embed([ids(5, 1)])];
    expect(model.passes).toHaveLength(1); // the first started alone, without waiting
    model.release();
    const [a, b, c, d] = await Promise.all([first, ...later]);
    expect(model.passes.map((rows) => rows.length)).toEqual([1, 4]);
    // Each call gets its own rows' vectors, in its own order.
    expect(a?.map((v) => v[0])).toEqual([1]);
    expect(b?.map((v) => v[0])).toEqual([2]);
    expect(c?.map((v) => v[0])).toEqual([3, 4]);
    expect(d?.map((v) => v[0])).toEqual([5]);
  });

  it("keeps to maxRows per pass, and does not pad short texts to a much longer one", async () => {
    const model = fakeModel();
    const queue = new PassQueue(model.pass, 4);
    const first = queue.embed([ids(1, 2)]);
    const long = queue.embed([ids(2, 100)]);
    const short = [
      queue.embed([ids(3, 5)]),
      queue.embed([ids(4, 5), ids(5, 5)]),
      queue.embed([ids(6, 5), ids(7, 5)]),
    ];
    model.release();
    await Promise.all([first, long, ...short]);
    const firstIds = model.passes.map((rows) => rows.map((row) => row[0]));
    // Oldest first: the long text alone (the short ones would cost its length), then the short
    // ones, at most 4 rows a pass; arrival order is kept among those that fit.
    expect(firstIds).toEqual([[1], [2], [3, 4, 5], [6, 7]]);
  });

  it("gives each call its own failure: a joined pass that fails is run again call by call", async () => {
    const model = fakeModel((rows) => rows.some((row) => row[0] === 13));
    const queue = new PassQueue(model.pass, 32);
    const first = queue.embed([ids(1, 1)]);
    const good = queue.embed([ids(2, 1)]);
    const bad = queue.embed([ids(13, 1)]);
    model.release();
    const [a, b, c] = await Promise.allSettled([first, good, bad]);
    expect(a.status).toBe("fulfilled");
    expect(b.status === "fulfilled" && b.value[0]?.[0]).toBe(2);
    expect(c.status === "rejected" && (c.reason as Error).message).toBe("bad row");
  });
});
