import { stem } from "porter2";

/**
 * A BM25 index of rows' texts in memory, beside the vector cache's copy of the rows, so that a
 * keyword search of a cached collection makes no LanceDB call but the version check.
 *
 * It ranks as LanceDB's full-text index (lance/text-index.ts) does: the same tokens and the same
 * BM25 (k1 1.2, b 0.75, idf ln(1 + (N − n + 0.5) / (n + 0.5)), lance's `scorer.rs`), over the live
 * rows. LanceDB's index counts the rows it covered when built, deleted ones included, and scores
 * rows written since with those figures; this one counts the rows as they are now, so after many
 * writes the two can differ a little (tests/unit/keyword-index.test.ts and vector-cache.test.ts
 * compare them).
 */

const K1 = 1.2;
const B = 0.75;

/** Tokens of at least this many UTF-8 bytes are dropped (lance's default `max_token_length`). */
const MAX_TOKEN_BYTES = 40;

/**
 * LanceDB's English stop words (NLTK's list, less its contractions: the tokenizer splits at the
 * apostrophe), matched against the stemmed tokens as LanceDB does: "being" (stem "be") goes,
 * "because" (stem "becaus") stays. Found by probing LanceDB 0.37 with each word
 * (tests/unit/keyword-index.test.ts checks a sample).
 */
// biome-ignore format: a list
const STOP_WORDS = new Set([
  "i", "me", "my", "myself", "we", "our", "ours", "ourselves", "you", "your", "yours", "yourself",
  "yourselves", "he", "him", "his", "himself", "she", "her", "hers", "herself", "it", "its",
  "itself", "they", "them", "their", "theirs", "themselves", "what", "which", "who", "whom",
  "this", "that", "these", "those", "am", "is", "are", "was", "were", "be", "been", "being",
  "have", "has", "had", "having", "do", "does", "did", "doing", "a", "an", "the", "and", "but",
  "if", "or", "because", "as", "until", "while", "of", "at", "by", "for", "with", "about",
  "against", "between", "into", "through", "during", "before", "after", "above", "below", "to",
  "from", "up", "down", "in", "out", "on", "off", "over", "under", "again", "further", "then",
  "once", "here", "there", "when", "where", "why", "how", "all", "any", "both", "each", "few",
  "more", "most", "other", "some", "such", "no", "nor", "not", "only", "own", "same", "so", "than",
  "too", "very", "s", "t", "can", "will", "just", "don", "should", "now", "d", "ll", "m", "o",
  "re", "ve", "y", "ain", "aren", "couldn", "didn", "doesn", "hadn", "hasn", "haven", "isn", "ma",
  "mightn", "mustn", "needn", "shan", "shouldn", "wasn", "weren", "won", "wouldn",
]);

/** Runs of letters and digits (Rust's `char::is_alphanumeric`, which tantivy's simple tokenizer splits on). */
const WORD = /[\p{Alphabetic}\p{N}]+/gu;
const ASCII_WORD = /[A-Za-z0-9]+/g;
const NOT_ASCII = /[\u0080-\uffff]/;
const MARKS = /\p{M}/gu;
/** Letters ASCII folding turns into others than their base letter (the rest lose their accents). */
const FOLDED: Record<string, string> = {
  ß: "ss",
  æ: "ae",
  œ: "oe",
  ø: "o",
  đ: "d",
  ð: "d",
  þ: "th",
  ł: "l",
  ı: "i",
};
const encoder = new TextEncoder();

/** Each word's term, or null for a dropped one: a language's words repeat, and stemming is most of the work. */
const termOf = new Map<string, string | null>();
const TERMS_KEPT = 200_000;

/**
 * A text's terms, in order, as LanceDB's English full-text index makes them (lance
 * `InvertedIndexParams::build`): split on what is not a letter or digit, tokens of 40 bytes or
 * more dropped, lower-cased, stemmed (Snowball English, Porter2), stop words dropped, folded to
 * ASCII.
 */
export function terms(text: string): string[] {
  const out: string[] = [];
  for (const [word] of text.matchAll(NOT_ASCII.test(text) ? WORD : ASCII_WORD)) {
    let term = termOf.get(word);
    if (term === undefined) {
      term = wordTerm(word);
      if (termOf.size >= TERMS_KEPT) termOf.clear();
      termOf.set(word, term);
    }
    if (term !== null) out.push(term);
  }
  return out;
}

function wordTerm(word: string): string | null {
  const ascii = !NOT_ASCII.test(word);
  if ((ascii ? word.length : encoder.encode(word).length) >= MAX_TOKEN_BYTES) return null;
  const stemmed = stem(word.toLowerCase());
  if (STOP_WORDS.has(stemmed)) return null;
  return ascii ? stemmed : fold(stemmed);
}

function fold(word: string): string {
  let folded = "";
  for (const char of word.normalize("NFD").replace(MARKS, "")) folded += FOLDED[char] ?? char;
  return folded;
}

interface Postings {
  /** Documents holding the term (their numbers), and how often it occurs in each; dead ones too. */
  docs: number[];
  counts: number[];
  /** Live documents holding it (BM25's n). */
  live: number;
}

/** Higher score first; tied, the earlier written (lower number) first. */
function bestFirst(hits: Array<{ doc: number; score: number }>): Array<{ doc: number; score: number }> {
  return hits.sort((a, b) => b.score - a.score || a.doc - b.doc);
}

/** A scored document of the index: its key and BM25 score. */
export interface KeywordScore {
  key: string;
  score: number;
}

export class KeywordIndex {
  /** Per document number: its key, or undefined once removed. */
  private readonly keys: (string | undefined)[] = [];
  private readonly lengths: number[] = [];
  private readonly numberOf = new Map<string, number>();
  private readonly postings = new Map<string, Postings>();
  /** Per document number: its distinct terms (to remove it). */
  private readonly termsOf: (string[] | undefined)[] = [];
  private liveTokens = 0;
  /** Scores by document number during a search, all 0 between searches (searches are synchronous). */
  private scores = new Float64Array(0);
  /** Postings entries of removed documents, swept when they are half of all. */
  private dead = 0;
  private entries = 0;

  /** Live documents (those with at least one term). */
  get size(): number {
    return this.numberOf.size;
  }

  /** Estimated bytes held (JS arrays of small integers: 8 bytes a slot; keys and terms as strings; the search's scores). */
  get bytes(): number {
    return this.entries * 16 + this.keys.length * 64 + this.postings.size * 96 + this.scores.byteLength;
  }

  /** Sets the document's text (replacing any it had). */
  set(key: string, text: string): void {
    this.remove(key);
    const tokens = terms(text);
    // A text with no terms is not a document to LanceDB either: it counts in neither N nor the mean length.
    if (tokens.length === 0) return;
    const counts = new Map<string, number>();
    for (const token of tokens) counts.set(token, (counts.get(token) ?? 0) + 1);
    const doc = this.keys.length;
    this.keys.push(key);
    this.lengths.push(tokens.length);
    this.termsOf.push([...counts.keys()]);
    this.numberOf.set(key, doc);
    this.liveTokens += tokens.length;
    for (const [term, count] of counts) {
      let list = this.postings.get(term);
      if (!list) {
        list = { docs: [], counts: [], live: 0 };
        this.postings.set(term, list);
      }
      list.docs.push(doc);
      list.counts.push(count);
      list.live++;
      this.entries++;
    }
  }

  remove(key: string): void {
    const doc = this.numberOf.get(key);
    if (doc === undefined) return;
    this.numberOf.delete(key);
    this.keys[doc] = undefined;
    this.liveTokens -= this.lengths[doc] as number;
    for (const term of this.termsOf[doc] ?? []) {
      const list = this.postings.get(term) as Postings;
      list.live--;
      this.dead++;
    }
    this.termsOf[doc] = undefined;
    if (this.dead * 2 > this.entries) this.sweep();
  }

  /**
   * The `limit` best documents for the query by BM25, best first (ties: the earlier written
   * first), among those `admits` lets through; only documents sharing a term with the query score.
   */
  search(query: string, limit: number, admits?: (key: string) => boolean): KeywordScore[] {
    const n = this.numberOf.size;
    if (n === 0 || limit <= 0) return [];
    const avgLength = this.liveTokens / n;
    const lists: Array<{ idf: number; list: Postings }> = [];
    let entries = 0;
    // A term the query repeats counts again, as in LanceDB.
    for (const term of terms(query)) {
      const list = this.postings.get(term);
      if (!list || list.live === 0) continue;
      lists.push({ idf: Math.log(1 + (n - list.live + 0.5) / (list.live + 0.5)), list });
      entries += list.docs.length;
    }
    if (entries === 0) return [];
    const size = this.keys.length;
    if (this.scores.length < size) this.scores = new Float64Array(Math.max(size, this.scores.length * 2));
    const { scores, lengths } = this;
    // Few postings: the documents they touch are listed as they are met; many (common words): no
    // list is kept, and the whole score array is read once at the end (bench/RESULTS.md, "The
    // keyword index's search"). Removed documents score too, and are skipped there.
    const touched: number[] | undefined = entries * 8 < size ? [] : undefined;
    let best: Array<{ doc: number; score: number }> = [];
    try {
      // BM25: idf · (k1 + 1) · count / (count + k1 · (1 − b + b · length / mean length)).
      const fixed = K1 * (1 - B);
      const perToken = (K1 * B) / avgLength;
      for (const { idf, list } of lists) {
        const { docs, counts } = list;
        const weight = idf * (K1 + 1);
        for (let i = 0; i < docs.length; i++) {
          const doc = docs[i] as number;
          const count = counts[i] as number;
          if (touched && scores[doc] === 0) touched.push(doc);
          scores[doc] =
            (scores[doc] as number) +
            (weight * count) / (count + fixed + perToken * (lengths[doc] as number));
        }
      }
      // Candidates in document order, cut to the best `limit` whenever they reach four times that: a
      // later document that only ties the cut's score loses to the earlier ones (ties: the earlier
      // written first), so once cut, only a higher score gets in.
      let floor = 0;
      const order = touched?.sort((a, b) => a - b);
      const count = order ? order.length : size;
      for (let at = 0; at < count; at++) {
        const doc = order ? (order[at] as number) : at;
        const score = scores[doc] as number;
        if (score <= floor) continue;
        const key = this.keys[doc];
        if (key === undefined || (admits && !admits(key))) continue;
        best.push({ doc, score });
        if (best.length >= limit * 4) {
          best = bestFirst(best).slice(0, limit);
          floor = (best[limit - 1] as { score: number }).score;
        }
      }
    } finally {
      // Back to all 0 for the next search, whatever happened in this one.
      if (touched) for (const doc of touched) scores[doc] = 0;
      else scores.fill(0, 0, size);
    }
    return bestFirst(best)
      .slice(0, limit)
      .map(({ doc, score }) => ({ key: this.keys[doc] as string, score }));
  }

  /** Drops removed documents: their postings, and their numbers (the live keep their order). */
  private sweep(): void {
    const renumbered = new Int32Array(this.keys.length).fill(-1);
    let next = 0;
    for (let doc = 0; doc < this.keys.length; doc++) {
      const key = this.keys[doc];
      if (key === undefined) continue;
      renumbered[doc] = next;
      this.keys[next] = key;
      this.lengths[next] = this.lengths[doc] as number;
      this.termsOf[next] = this.termsOf[doc];
      this.numberOf.set(key, next);
      next++;
    }
    this.keys.length = next;
    this.lengths.length = next;
    this.termsOf.length = next;
    this.entries = 0;
    for (const [term, list] of this.postings) {
      if (list.live === 0) {
        this.postings.delete(term);
        continue;
      }
      const docs: number[] = [];
      const counts: number[] = [];
      for (let i = 0; i < list.docs.length; i++) {
        const doc = renumbered[list.docs[i] as number] as number;
        if (doc < 0) continue;
        docs.push(doc);
        counts.push(list.counts[i] as number);
      }
      list.docs = docs;
      list.counts = counts;
      this.entries += docs.length;
    }
    this.dead = 0;
  }
}
