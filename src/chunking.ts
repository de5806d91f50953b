/**
 * Splits a text longer than an embedding model's window into overlapping chunks the model reads
 * whole. Pure: the token counter comes from the embedder. Every chunk is an exact slice of the text
 * and together they cover all of it, so nothing is dropped and the text can be put back together.
 */

export interface TextChunk {
  /** Exactly `text.slice(start, end)` of the original. */
  text: string;
  start: number;
  end: number;
}

export interface ChunkingOptions {
  /** Tokens one chunk may hold. */
  maxTokens: number;
  countTokens(text: string): number;
  /** Share of the window the next chunk repeats from the end of the previous one (default 0.15). */
  overlap?: number;
}

/** The default overlap: enough to carry a sentence across a boundary without doubling the chunks. */
export const DEFAULT_OVERLAP = 0.15;

/**
 * Where a text may be cut, from the most natural boundary to the least: blank lines (paragraphs),
 * then sentence ends and line breaks, then any whitespace (words). A cut falls after the separator,
 * so each piece keeps its trailing whitespace and the pieces stay contiguous.
 */
const BOUNDARIES: readonly RegExp[] = [/\n[^\S\n]*\n\s*/g, /[.!?;。！？]+["'”’)\]]*\s+|\n\s*/g, /\s+/g];

interface Piece {
  start: number;
  end: number;
  tokens: number;
}

export function chunkText(text: string, options: ChunkingOptions): TextChunk[] {
  const { maxTokens, countTokens } = options;
  if (!(maxTokens >= 1)) throw new Error(`bug: a token window of ${maxTokens}`);
  if (countTokens(text) <= maxTokens) return [{ text, start: 0, end: text.length }];
  const pieces: Piece[] = [];
  split(text, 0, text.length, 0, options, pieces);
  const overlapTokens = Math.floor(maxTokens * (options.overlap ?? DEFAULT_OVERLAP));
  const chunks: TextChunk[] = [];
  /** The last piece of the previous chunk: each chunk must take at least one piece past it. */
  let previousLast = -1;
  for (let first = 0; first < pieces.length; ) {
    let last = first;
    let tokens = (pieces[first] as Piece).tokens;
    while (last + 1 < pieces.length && tokens + (pieces[last + 1] as Piece).tokens <= maxTokens) {
      last += 1;
      tokens += (pieces[last] as Piece).tokens;
    }
    const start = (pieces[first] as Piece).start;
    // Counted apart, pieces may sum to less than counted together (a tokenizer can merge across a
    // cut): check the joined text, and give pieces back until it fits.
    while (last > first && countTokens(text.slice(start, (pieces[last] as Piece).end)) > maxTokens) last -= 1;
    if (last <= previousLast) {
      // The overlap left no room for new text: start this chunk after the previous one instead.
      first = previousLast + 1;
      continue;
    }
    const end = (pieces[last] as Piece).end;
    chunks.push({ text: text.slice(start, end), start, end });
    if (last === pieces.length - 1) break;
    previousLast = last;
    // The next chunk starts with the last pieces of this one that fit in the overlap, leaving room
    // for the piece after them, and always later than this one did.
    const following = (pieces[last + 1] as Piece).tokens;
    let next = last + 1;
    let repeated = 0;
    while (
      next - 1 > first &&
      repeated + (pieces[next - 1] as Piece).tokens <= overlapTokens &&
      repeated + (pieces[next - 1] as Piece).tokens + following <= maxTokens
    ) {
      next -= 1;
      repeated += (pieces[next] as Piece).tokens;
    }
    first = next;
  }
  return chunks;
}

/** Cuts [start, end) into pieces of at most maxTokens, at the most natural boundaries that give them. */
function split(
  text: string,
  start: number,
  end: number,
  level: number,
  options: ChunkingOptions,
  out: Piece[],
): void {
  const tokens = options.countTokens(text.slice(start, end));
  if (tokens <= options.maxTokens) {
    out.push({ start, end, tokens });
    return;
  }
  const pattern = BOUNDARIES[level];
  if (!pattern) {
    splitCharacters(text, start, end, options, out);
    return;
  }
  const cuts = boundaries(text, start, end, pattern);
  if (cuts.length === 0) {
    split(text, start, end, level + 1, options, out);
    return;
  }
  let from = start;
  for (const cut of [...cuts, end]) {
    split(text, from, cut, level + 1, options, out);
    from = cut;
  }
}

/** Cut positions strictly inside (start, end) where `pattern` ends a separator. */
function boundaries(text: string, start: number, end: number, pattern: RegExp): number[] {
  const cuts: number[] = [];
  const slice = text.slice(start, end);
  for (const match of slice.matchAll(pattern)) {
    const cut = start + (match.index ?? 0) + match[0].length;
    if (cut > start && cut < end) cuts.push(cut);
  }
  return cuts;
}

/** The last resort, for a "word" longer than the window (a long URL, base64): the longest prefixes that fit. */
function splitCharacters(text: string, start: number, end: number, options: ChunkingOptions, out: Piece[]) {
  let from = start;
  while (from < end) {
    // Binary search for the longest prefix that fits; at least one code point, so this always advances.
    let low = nextCodePoint(text, from);
    let high = end;
    while (low < high) {
      let mid = codePointBoundary(text, Math.ceil((low + high) / 2), from);
      if (mid <= low) mid = nextCodePoint(text, low);
      if (mid > high) break;
      if (options.countTokens(text.slice(from, mid)) <= options.maxTokens) low = mid;
      else high = mid - 1;
    }
    const cut = low;
    out.push({ start: from, end: cut, tokens: options.countTokens(text.slice(from, cut)) });
    from = cut;
  }
}

function nextCodePoint(text: string, at: number): number {
  return at + (isHighSurrogate(text.charCodeAt(at)) && isLowSurrogate(text.charCodeAt(at + 1)) ? 2 : 1);
}

/** `at`, moved back by one if it would split a surrogate pair (but never to or before `floor`). */
function codePointBoundary(text: string, at: number, floor: number): number {
  if (at > floor + 1 && isLowSurrogate(text.charCodeAt(at)) && isHighSurrogate(text.charCodeAt(at - 1)))
    return at - 1;
  return at;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** Puts a text back together from its chunks (any order), skipping what overlapping chunks repeat. */
export function joinChunks(chunks: ReadonlyArray<{ text: string; start: number }>): string {
  let text = "";
  for (const chunk of [...chunks].sort((a, b) => a.start - b.start)) {
    if (chunk.start > text.length) throw new Error(`bug: a gap before the chunk at ${chunk.start}`);
    text += chunk.text.slice(text.length - chunk.start);
  }
  return text;
}
