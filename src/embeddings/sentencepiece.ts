/**
 * A SentencePiece unigram tokenizer that reproduces, id for id, the tokenizer TF.js ships with the
 * Universal Sentence Encoder (`@tensorflow-models/universal-sentence-encoder`, `Tokenizer.encode`).
 * Matching it exactly lets us check our vectors against that pipeline, so its quirks are kept on
 * purpose (use-lite.ts folds whitespace before calling us, where SentencePiece itself would):
 *
 * - input is NFKC-normalised, not lower-cased, and only U+0020 becomes `▁` (no collapsing of runs of
 *   spaces, no trimming, tabs and newlines stay as they are); a non-empty text gets a leading `▁`;
 * - positions are UTF-16 code units, so an emoji is two unknown units (merged into one unk id);
 * - a character that starts no piece becomes the unk id with score 0, and consecutive unks merge;
 * - a best score of exactly 0 counts as "not yet set" and ties go to the later candidate.
 */

/** One vocabulary entry as stored in `vocab.json`: the piece and its log-probability score. */
export type VocabEntry = readonly [piece: string, score: number | null];

/** The word-boundary marker SentencePiece puts where a space was (U+2581 LOWER ONE EIGHTH BLOCK). */
export const WORD_BOUNDARY = "\u2581";

/** Ids below this are unk, control and user-defined symbols that never match text. */
const RESERVED_SYMBOLS = 6;
export const UNK_ID = 0;

interface Piece {
  id: number;
  score: number;
}

/** A lattice edge: a piece covering code units [start, end). */
interface Edge {
  start: number;
  id: number;
  score: number;
}

export class SentencePieceTokenizer {
  private readonly pieces = new Map<string, Piece>();
  private readonly maxPieceLength: number;

  constructor(vocabulary: readonly VocabEntry[]) {
    let maxPieceLength = 1;
    for (let id = RESERVED_SYMBOLS; id < vocabulary.length; id++) {
      const entry = vocabulary[id];
      if (!entry) continue;
      const [piece, score] = entry;
      // A few shipped entries (pieces with ':') have a null score; the reference adds it as 0.
      // A duplicated piece keeps its last id, as the reference trie overwrites it.
      this.pieces.set(piece, { id, score: score ?? 0 });
      maxPieceLength = Math.max(maxPieceLength, piece.length);
    }
    this.maxPieceLength = maxPieceLength;
  }

  /**
   * Token ids for one text; an empty text gives no ids. With `maxTokens`, only the leading ids are
   * returned, and a long text is cut before encoding so that the cost stays bounded however long it is.
   */
  encode(text: string, maxTokens = Number.POSITIVE_INFINITY): number[] {
    const symbols = prepare(text);
    // No piece has a `▁` after its first unit, so every segmentation breaks before each `▁`: the text
    // before any `▁` encodes to exactly the leading ids of the whole. Cut at one far enough in to hold
    // maxTokens ids; a long run of unknowns merges into fewer ids, hence the retry further in.
    for (let reach = maxTokens * this.maxPieceLength; reach < symbols.length; reach *= 2) {
      const cut = symbols.indexOf(WORD_BOUNDARY, reach);
      if (cut === -1) break;
      const ids = this.encodePrepared(symbols.slice(0, cut));
      if (ids.length >= maxTokens) return ids.slice(0, maxTokens);
    }
    return this.encodePrepared(symbols).slice(0, maxTokens);
  }

  private encodePrepared(symbols: string): number[] {
    return mergeUnknowns(bestPath(this.buildLattice(symbols), symbols.length));
  }

  /**
   * Every piece that matches the text, grouped by where it ends. Starts are visited in ascending
   * order, so each group lists its edges by ascending start, the order the reference scores them in.
   */
  private buildLattice(symbols: string): Edge[][] {
    const edgesEndingAt: Edge[][] = Array.from({ length: symbols.length + 1 }, () => []);
    for (let start = 0; start < symbols.length; start++) {
      const longest = Math.min(this.maxPieceLength, symbols.length - start);
      let matched = false;
      for (let length = 1; length <= longest; length++) {
        const piece = this.pieces.get(symbols.slice(start, start + length));
        if (!piece) continue;
        edgesEndingAt[start + length]?.push({ start, id: piece.id, score: piece.score });
        matched = true;
      }
      if (!matched) edgesEndingAt[start + 1]?.push({ start, id: UNK_ID, score: 0 });
    }
    return edgesEndingAt;
  }
}

/** The reference's normalisation: NFKC, spaces to `▁`, and a leading `▁` on non-empty text. */
export function prepare(text: string): string {
  const normalized = text.normalize("NFKC");
  return normalized.length > 0 ? WORD_BOUNDARY + normalized.replaceAll(" ", WORD_BOUNDARY) : "";
}

/** Viterbi over the lattice, then the backward walk from the end of the text. */
function bestPath(edgesEndingAt: readonly Edge[][], length: number): number[] {
  const best = new Float64Array(length + 1);
  const ids = new Int32Array(length + 1).fill(UNK_ID);
  // A position no edge reaches keeps the unk id and steps back one unit, as in the reference.
  const steps = new Int32Array(length + 1).fill(1);
  for (let end = 1; end <= length; end++) {
    for (const edge of edgesEndingAt[end] ?? []) {
      const score = edge.score + (best[edge.start] ?? 0);
      if (best[end] === 0 || score >= (best[end] ?? 0)) {
        best[end] = score;
        ids[end] = edge.id;
        steps[end] = end - edge.start;
      }
    }
  }
  const reversed: number[] = [];
  for (let end = length; end > 0; end -= steps[end] ?? 1) reversed.push(ids[end] ?? UNK_ID);
  return reversed.reverse();
}

function mergeUnknowns(ids: readonly number[]): number[] {
  return ids.filter((id, index) => !(id === UNK_ID && ids[index - 1] === UNK_ID));
}
