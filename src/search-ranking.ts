/**
 * How a search turns store hits into ranked results, with no I/O: the semantic and keyword hits
 * come in, ranked results go out. `VectorMemory.search` fetches the hits (and reads deeper when
 * this asks for more); everything about order lives here.
 */
import { convexFusion, dot, hybridCosineWeight, maximalMarginalRelevance } from "./ranking.js";
import { chunkKey, type Hit, type KeywordHit, type Metadata } from "./store/vector-store.js";

export type SearchMode = "semantic" | "keyword" | "hybrid";
/** "document": each document once, by its best chunk; "chunk": every matching chunk. */
export type GroupBy = "document" | "chunk";
export type MatchKind = "semantic" | "keyword";

export interface SearchResult {
  /** The document's id (a chunk's document, for a document stored as several chunks). */
  id: string;
  /** The matching chunk's text: the whole document when it was stored as one chunk. */
  text: string;
  /** Which chunk of the document matched (0 for the first or only one). */
  chunk: number;
  /** Where the chunk's text sits in the document's text: [start, end). */
  start: number;
  end: number;
  /** Cosine similarity to the query, in every mode; 1 = same direction. */
  score: number;
  /** Cosine distance as Chroma reports it: 1 - score. */
  distance: number;
  metadata: Metadata;
  /** When the document was first written / last changed (ISO 8601 UTC); null: stored before times were kept. */
  createdAt: string | null;
  updatedAt: string | null;
  /** Which searches found this document. */
  matchedBy: MatchKind[];
  /** BM25 score, when the keyword search found it. */
  keywordScore?: number;
  /** The hybrid score the results are ordered by (see convexFusion), in hybrid mode. */
  fusedScore?: number;
  /** With recency on: the mode's ranking score times the document's age weight; results are ordered by it. */
  weightedScore?: number;
}

export interface Candidate extends SearchResult {
  vector?: Float32Array | undefined;
}

export interface RankRequest {
  mode: SearchMode;
  query: string;
  /** The query's embedding: keyword hits are scored by it too, so `score` means cosine in every mode. */
  queryVector: Float32Array;
  /** Semantic hits, best first (empty in keyword mode). */
  semantic: Hit[];
  /** Keyword hits, best first (empty in semantic mode). */
  keyword: KeywordHit[];
  /** Hits whose text may equal the query exactly, found apart from the mode's own search. */
  exact?: Hit[];
  minScore?: number | undefined;
}

/**
 * The chunks in the mode's order: semantic by cosine, keyword by BM25, hybrid by the convex
 * fusion of both, weighted by how sure the semantic side is (hybridCosineWeight). A chunk whose
 * text is exactly the query comes first in every mode: asking for a stored text finds it even
 * where BM25 favours a longer text or cosines tie. Then `minScore` (a cosine) drops what is too
 * far from the query.
 */
export function rankChunks(request: RankRequest): Candidate[] {
  const semantic = request.semantic.map((hit) => fromHit(hit, "semantic"));
  const keyword = request.keyword.map((hit) => ({
    ...fromHit({ ...hit, distance: 1 - dot(request.queryVector, hit.vector) }, "keyword"),
    keywordScore: hit.keywordScore,
  }));
  let ranked: Candidate[];
  if (request.mode === "hybrid") {
    // Chunks, not documents, are fused: one document's chunks are separate entries.
    // The weight follows the semantic side's confidence: its best cosine, the query's own text aside.
    const bestCosine = Math.max(0, ...semantic.filter((c) => c.text !== request.query).map((c) => c.score));
    const weight = hybridCosineWeight(bestCosine);
    ranked = convexFusion(semantic, keyword, keyOf, weight).map(({ item, fused, inBoth }) => ({
      ...item,
      fusedScore: fused,
      ...(inBoth ? { matchedBy: ["semantic", "keyword"] as MatchKind[] } : {}),
    }));
  } else {
    ranked = request.mode === "keyword" ? keyword : semantic;
  }
  const exact = (request.exact ?? [])
    .filter((hit) => hit.text === request.query)
    .map((hit) => fromHit(hit, request.mode === "keyword" ? "keyword" : "semantic"));
  ranked = exactFirst(ranked, exact, request.query);
  const { minScore } = request;
  return minScore === undefined ? ranked : ranked.filter((c) => c.score >= minScore);
}

/** Ranked chunks to ranked documents: each document once, at its best chunk's place. */
export function bestChunkPerDocument<T extends { id: string }>(ranked: T[]): T[] {
  const seen = new Set<string>();
  return ranked.filter((c) => !seen.has(c.id) && seen.add(c.id));
}

/**
 * The final page: the first `limit`, or with `diversity` > 0 a maximal-marginal-relevance pick whose
 * relevance term is the cosine score in every mode (weighted by age when recency is on), so
 * diversity trades off against meaning.
 */
export function finalPage(ranked: Candidate[], limit: number, diversity: number): SearchResult[] {
  let results = ranked;
  if (diversity > 0) {
    const withVectors = ranked.filter(
      (c): c is Candidate & { vector: Float32Array } => c.vector !== undefined,
    );
    results = maximalMarginalRelevance(
      withVectors.map((c) => ({ ...c, relevance: c.weightedScore ?? c.score })),
      limit,
      diversity,
    ).map(({ relevance: _relevance, ...c }) => c);
  }
  return results.slice(0, limit).map(({ vector: _vector, ...result }) => result);
}

const DAY_MS = 86_400_000;

/**
 * Recency: each chunk's ranking score (hybrid: the fused score; semantic: the cosine; keyword: BM25
 * over the best BM25 in the list) times 0.5^(age / half-life), age from the document's
 * `updated_at`, and the list re-ordered by that. A document of unknown time (stored before times
 * were kept, so older than any timed one) gets the smallest weight among the dated ones (1 when
 * none is dated). This replaces the exact-text-first rule: with recency on, a newer close match may
 * pass an older exact one, which is what asking for recency means. `score` stays the cosine.
 */
export function weightByRecency(
  ranked: Candidate[],
  mode: SearchMode,
  halfLifeDays: number,
  now: number,
): Candidate[] {
  const weights = ranked.map((c) => {
    if (c.updatedAt === null) return undefined;
    const age = Math.max(0, now - Date.parse(c.updatedAt)) / DAY_MS;
    return 0.5 ** (age / halfLifeDays);
  });
  const known = weights.filter((w): w is number => w !== undefined);
  const unknown = known.length > 0 ? Math.min(...known) : 1;
  const bestBm25 = Math.max(0, ...ranked.map((c) => c.keywordScore ?? 0));
  const base = (c: Candidate) => {
    if (mode === "hybrid") return c.fusedScore ?? c.score;
    if (mode === "semantic") return c.score;
    // A keyword-mode exact hit found by meaning has no BM25: it is as good as the best.
    return c.keywordScore === undefined || bestBm25 === 0 ? 1 : c.keywordScore / bestBm25;
  };
  return ranked
    .map((c, i) => ({ ...c, weightedScore: base(c) * (weights[i] ?? unknown) }))
    .sort((a, b) => b.weightedScore - a.weightedScore);
}

/** Chunks whose text is the query, first (in their order), then the rest without them. */
function exactFirst(ranked: Candidate[], extra: Candidate[], query: string): Candidate[] {
  const exact = ranked.filter((c) => c.text === query);
  const seen = new Set(exact.map(keyOf));
  for (const c of extra) {
    if (!seen.has(keyOf(c))) {
      seen.add(keyOf(c));
      exact.push(c);
    }
  }
  if (exact.length === 0) return ranked;
  return [...exact, ...ranked.filter((c) => !seen.has(keyOf(c)))];
}

function fromHit(hit: Hit, matchedBy: MatchKind): Candidate {
  return {
    id: hit.id,
    text: hit.text,
    chunk: hit.chunk,
    start: hit.start,
    end: hit.start + hit.text.length,
    metadata: hit.metadata,
    createdAt: hit.createdAt,
    updatedAt: hit.updatedAt,
    distance: hit.distance,
    score: 1 - hit.distance,
    matchedBy: [matchedBy],
    vector: hit.vector,
  };
}

function keyOf(c: { id: string; chunk: number }): string {
  return chunkKey(c.id, c.chunk);
}
