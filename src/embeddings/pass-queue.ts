/**
 * Forward passes of one in-process model, one at a time, with the calls that arrive during a pass
 * joined into the next one (dynamic batching). A lone call runs at once, as before.
 *
 * Why: the bundled model runs on the main thread, and most of a short text's pass is fixed cost
 * (graph walk, tensor set-up): measured here, 8 short texts in one pass 44 ms against 8 passes of
 * ~13 ms. With 8 agents adding and searching at once, the model was 55% of the main thread's time
 * (CPU profile of bench/add-breakdown.ts), and every other call's await waited behind it.
 */
export class PassQueue {
  private readonly waiting: Pending[] = [];
  private draining = false;

  /**
   * `pass`: one forward pass over token-id rows, a vector per row in order. `maxRows`: rows per
   * pass at most (no call brings more).
   */
  constructor(
    private readonly pass: (rows: readonly (readonly number[])[]) => Promise<Float32Array[]>,
    private readonly maxRows: number,
  ) {}

  embed(rows: readonly (readonly number[])[]): Promise<Float32Array[]> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ rows, resolve, reject });
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.waiting.length > 0) await this.run(this.nextPass());
    } finally {
      this.draining = false;
    }
  }

  /**
   * The oldest waiting call, and those after it that fit beside it. The graph pads every text of a
   * pass to the longest, so a call joins only when neither side's longest text is more than twice
   * the other's (texts up to 16 tokens count as 16): a 128-token document does not slow 7 short
   * queries down to its length.
   */
  private nextPass(): Pending[] {
    const first = this.waiting.shift() as Pending;
    const taken = [first];
    let rows = first.rows.length;
    let longest = longestOf(first.rows);
    for (let i = 0; i < this.waiting.length && rows < this.maxRows; ) {
      const call = this.waiting[i] as Pending;
      const own = longestOf(call.rows);
      const fits =
        rows + call.rows.length <= this.maxRows &&
        Math.max(longest, own) <= 2 * Math.max(Math.min(longest, own), SHORT_TOKENS);
      if (!fits) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      taken.push(call);
      rows += call.rows.length;
      longest = Math.max(longest, own);
    }
    return taken;
  }

  /** One pass for the calls taken; if it fails, each call again alone, so each gets its own outcome. */
  private async run(calls: Pending[]): Promise<void> {
    if (calls.length > 1) {
      let vectors: Float32Array[] | undefined;
      try {
        vectors = await this.pass(calls.flatMap((call) => call.rows));
      } catch {
        vectors = undefined;
      }
      if (vectors) {
        let at = 0;
        for (const call of calls) {
          call.resolve(vectors.slice(at, at + call.rows.length));
          at += call.rows.length;
        }
        return;
      }
    }
    for (const call of calls) {
      try {
        call.resolve(await this.pass(call.rows));
      } catch (error) {
        call.reject(error);
      }
    }
  }
}

/** Texts this short cost about the same in a pass, whatever their length. */
const SHORT_TOKENS = 16;

interface Pending {
  rows: readonly (readonly number[])[];
  resolve: (vectors: Float32Array[]) => void;
  reject: (error: unknown) => void;
}

function longestOf(rows: readonly (readonly number[])[]): number {
  let longest = 0;
  for (const row of rows) longest = Math.max(longest, row.length);
  return longest;
}
