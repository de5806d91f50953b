/**
 * The retrieval tasks of bench/quality.ts, read from ../shared/data (or the paths in the env vars
 * named below), as plain documents and queries, so any retriever can be scored on them the same way.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Metadata } from "../../src/store/vector-store.js";

export interface TaskDocument {
  id: string;
  text: string;
  metadata: Metadata;
}

export interface TaskQuery {
  collection: string;
  text: string;
  /** The ids that answer it: recall@k is the share of them in the top k. */
  relevant: string[];
  /** A document removed from this query's results before scoring (the query's own sentence). */
  exclude?: string;
  /** Extra facts about the query that a variant of the task may use (LoCoMo: the speaker it names). */
  speaker?: string;
}

export interface RetrievalTask {
  name: string;
  collections: Array<{ name: string; documents: TaskDocument[] }>;
  queries: TaskQuery[];
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const STS_FILE =
  process.env.STS_DEV_CSV ?? path.resolve(repoRoot, "../shared/data/stsbenchmark/sts-dev.csv");
export const LOCOMO_FILE =
  process.env.LOCOMO_JSON ?? path.resolve(repoRoot, "../shared/data/locomo/locomo-dev.json");

/** STS pairs scored at least this are a query (first sentence) and its answer (second sentence). */
const RELEVANT_SCORE = 4.0;

/**
 * STS-B: every distinct sentence is a document; each pair scored >= 4.0 gives a query (its first
 * sentence) whose one relevant document is its second sentence. The query's own sentence is in the
 * corpus too, so it is excluded from that query's results (rank 1 would trivially be itself).
 */
export function stsTask(
  file = STS_FILE,
  options: {
    reverse?: boolean /** Scores [min, max) that make a query: default [4, 5]. */;
    band?: [number, number];
  } = {},
): RetrievalTask {
  const [low, high] = options.band ?? [RELEVANT_SCORE, Number.POSITIVE_INFINITY];
  // Tab-separated; some lines carry extra fields after the sentences, so split on tabs, no quoting.
  const pairs = readFileSync(file, "utf8")
    .split(/\r?\n/)
    .flatMap((line) => {
      const [, , , , score, first, second] = line.split("\t");
      const value = Number.parseFloat(score ?? "");
      return first !== undefined && second !== undefined && Number.isFinite(value)
        ? [{ score: value, first, second }]
        : [];
    });
  const sentences = [...new Set(pairs.flatMap((p) => [p.first, p.second]))];
  const idOf = new Map(sentences.map((s, i) => [s, `s${i}`]));
  const id = (text: string) => idOf.get(text) as string;
  const ask = (p: { first: string; second: string }) =>
    options.reverse ? { query: p.second, answer: p.first } : { query: p.first, answer: p.second };
  return {
    name: `STS-B dev${options.reverse ? ", reversed" : ""}${options.band ? `, pairs scored ${low}-${high}` : ""}`,
    collections: [
      { name: "sts", documents: sentences.map((text) => ({ id: id(text), text, metadata: {} })) },
    ],
    queries: pairs
      .filter((p) => p.score >= low && p.score < high && p.first !== p.second)
      .map(ask)
      .map(({ query, answer }) => ({
        collection: "sts",
        text: query,
        relevant: [id(answer)],
        exclude: id(query),
      })),
  };
}

interface LocomoTurn {
  speaker: string;
  dia_id: string;
  text: string;
  blip_caption?: string;
}

interface LocomoConversation {
  sample_id: string;
  conversation: Record<string, unknown> & { speaker_a: string; speaker_b: string };
  qa: Array<{ question: string; evidence: string[]; category: number }>;
  /** Per session, per speaker: statements drawn from the conversation, each with the turn it came from. */
  observation: Record<string, Record<string, Array<[string, string | string[]]>>>;
}

export interface LocomoOptions {
  /** Ask the conversation's observations ("Caroline attended an LGBTQ support group") instead of its questions. */
  observations?: boolean;
  /** Prefix every memory with its session's date ("[8 May, 2023] ..."), as an agent might store it. */
  dateInText?: boolean;
}

/**
 * LoCoMo (Maharana et al., ACL 2024): each conversation is a collection, each turn one memory
 * (id = dia_id; a shared photo's caption is part of the turn, as the paper's retriever read it),
 * with its speaker and session date as metadata. Each question of categories 1-4 is a query whose
 * relevant documents are its evidence turns; category 5 (adversarial, no answer) is left out.
 */
export function locomoTask(file = LOCOMO_FILE, options: LocomoOptions = {}): RetrievalTask {
  const conversations = JSON.parse(readFileSync(file, "utf8")) as LocomoConversation[];
  const collections: RetrievalTask["collections"] = [];
  const queries: TaskQuery[] = [];
  for (const item of conversations) {
    const collection = item.sample_id.toLowerCase().replace(/[^a-z0-9_-]/g, "-");
    const c = item.conversation;
    const documents: TaskDocument[] = [];
    for (let n = 1; Array.isArray(c[`session_${n}`]); n++) {
      const dateTime = String(c[`session_${n}_date_time`] ?? "");
      const date = dateTime.replace(/^.*\bon\s+/, "");
      for (const turn of c[`session_${n}`] as LocomoTurn[]) {
        const caption = turn.blip_caption ? ` [shares ${turn.blip_caption}]` : "";
        const text = `${options.dateInText ? `[${date}] ` : ""}${turn.text}${caption}`;
        documents.push({
          id: turn.dia_id,
          text,
          metadata: { speaker: turn.speaker, session: n, date: dateTime },
        });
      }
    }
    const ids = new Set(documents.map((d) => d.id));
    const speakers = [c.speaker_a, c.speaker_b];
    if (options.observations) {
      for (const bySpeaker of Object.values(item.observation)) {
        for (const [text, evidence] of Object.values(bySpeaker).flat()) {
          const relevant = [evidence]
            .flat()
            .flatMap((e) => String(e).split(/[;,\s]+/))
            .filter((e) => ids.has(e));
          if (relevant.length > 0) queries.push({ collection, text, relevant });
        }
      }
      collections.push({ name: collection, documents });
      continue;
    }
    for (const qa of item.qa) {
      if (qa.category < 1 || qa.category > 4) continue;
      // A few evidence lists hold several ids in one string ("D8:6; D9:17"): split them.
      const relevant = [...new Set(qa.evidence.flatMap((e) => e.split(/[;,\s]+/)).filter((e) => ids.has(e)))];
      if (relevant.length === 0) continue;
      const named = speakers.filter((s) => new RegExp(`\\b${s}\\b`, "i").test(qa.question));
      queries.push({
        collection,
        text: qa.question,
        relevant,
        ...(named.length === 1 ? { speaker: named[0] as string } : {}),
      });
    }
    collections.push({ name: collection, documents });
  }
  const name = `LoCoMo dev${options.observations ? ", observations" : ""}${options.dateInText ? ", date in text" : ""}`;
  return { name, collections, queries };
}

export function taskFilesPresent(): string | undefined {
  for (const [file, variable] of [
    [STS_FILE, "STS_DEV_CSV"],
    [LOCOMO_FILE, "LOCOMO_JSON"],
  ] as const) {
    if (!existsSync(file)) return `${file} not found; set ${variable} to its path.`;
  }
  return undefined;
}
