/**
 * Embedding throughput (texts/s) of our pipeline next to the raw runtime on the same texts, at
 * several batch sizes, for short texts (STS sentences) and 200-word texts (STS sentences joined).
 *
 *   npx tsx bench/embed-throughput.ts          (or: npm run bench -- throughput)
 *
 * Models:
 * - use-lite: ours is `createUseLiteEmbedder().embedDocuments(batch)`; raw is the TF.js GraphModel's
 *   `executeAsync` on sparse id batches built before timing, with the output read back into JS.
 * - minilm-shaped: a random-weight model with all-MiniLM-L6-v2's architecture, fp32, generated once
 *   by tests/fixtures/make-tiny-bert.py into VECTOR_MEMORY_BENCH_DIR (default: the temp dir). Ours
 *   is `TransformersEmbedder.embedDocuments(batch)`; raw is an onnxruntime-node InferenceSession fed
 *   the same input_ids/attention_mask/token_type_ids (padded to the batch's longest, truncated to the
 *   model maximum) that transformers.js's tokenizer made before timing, returning last_hidden_state
 *   (no pooling, no normalisation: those count as pipeline overhead).
 * "raw+tok" is the raw runtime with the same tokenization done inside the timed call (tokenizer, then
 * tensors, then the runtime): the fair comparison for ours, whose tokenization is part of the job.
 *
 * Each row: a warm-up of ours and raw (THROUGHPUT_WARMUP_SECONDS each), then THROUGHPUT_ROUNDS rounds
 * (THROUGHPUT_LONG_ROUNDS for long texts). A round passes over the row's texts (as many times as ours
 * needs to spend THROUGHPUT_MIN_SECONDS) and runs ours, raw and raw+tok on each batch in turns. Texts/s are medians over rounds; ours/raw is
 * the median of the batch-by-batch ratios, with their quartiles: pairing each batch keeps load from
 * other processes on a shared machine from favouring either side, and the quartiles show how much
 * such load there was.
 *
 * Settings (environment), with their defaults:
 *   THROUGHPUT_MODELS=use-lite,minilm-shaped  THROUGHPUT_LENGTHS=short,long  THROUGHPUT_BATCHES=1,8,32
 *   THROUGHPUT_WORDS=200 (words per long text)  THROUGHPUT_ROUNDS=5  THROUGHPUT_LONG_ROUNDS=3
 *   THROUGHPUT_SHORT_TEXTS=64, THROUGHPUT_LONG_TEXTS=8 (texts per pass; at least one batch)
 *   THROUGHPUT_MIN_SECONDS=0.5 (ours's time per round, at least)  THROUGHPUT_WARMUP_SECONDS=1 (per side)
 *   THROUGHPUT_ORT_SPINNING=0|1 (ONNX Runtime threads spin while idle, for ours and raw alike; unset:
 *     ORT's default, spinning. 0 gives far steadier numbers on a machine other processes share)
 *   VECTOR_MEMORY_BENCH_DIR (generated models; default $TMPDIR/vector-memory-bench),
 *   VECTOR_MEMORY_BENCH_MINILM_DIR (use this MiniLM-shaped model directory instead),
 *   VECTOR_MEMORY_BENCH_PYTHON (default /usr/bin/python3), STS_DEV_CSV
 */
import { cpus, loadavg } from "node:os";
import path from "node:path";
import { TransformersEmbedder } from "../src/embeddings/transformers.js";
import { createUseLiteEmbedder } from "../src/embeddings/use-lite.js";
import { benchCacheDir, ensureMinilmShaped } from "./lib/minilm-shaped.js";
import { type Encoded, openRawOnnx } from "./lib/raw-onnx.js";
import { openRawUseLite, type SparseBatch } from "./lib/raw-use-lite.js";
import { readStsPairs, uniqueSentences } from "./lib/sts-data.js";
import { longTexts } from "./lib/texts.js";
import { interleaved, median, quantile, sum, warmUp } from "./lib/timing.js";

type Length = "short" | "long";

const MODELS = ["use-lite", "minilm-shaped"];

/** One model as the benchmark drives it; `Prepared` is a batch tokenized outside the timed region. */
interface Subject<Prepared> {
  name: string;
  ours(texts: string[]): Promise<unknown>;
  tokenize(texts: string[]): Prepared;
  raw(prepared: Prepared): Promise<unknown>;
  /** Token positions the runtime processes for the batch (rows x padded length, or ids fed). */
  positions(prepared: Prepared): number;
  dispose(): Promise<void>;
}

interface Row {
  model: string;
  length: string;
  batch: number;
  tokensPerText: number;
  /** Median over rounds. */
  ours: number;
  raw: number;
  rawTok: number;
  /** Median and quartiles of the batch-by-batch ratios. */
  ratio: number;
  ratioQuartiles: [number, number];
  ratioTok: number;
}

const settings = {
  models: list("THROUGHPUT_MODELS", "use-lite,minilm-shaped"),
  lengths: list("THROUGHPUT_LENGTHS", "short,long") as Length[],
  batches: list("THROUGHPUT_BATCHES", "1,8,32").map(positiveInteger),
  words: positiveInteger(process.env.THROUGHPUT_WORDS ?? "200"),
  rounds: positiveInteger(process.env.THROUGHPUT_ROUNDS ?? "5"),
  longRounds: positiveInteger(process.env.THROUGHPUT_LONG_ROUNDS ?? "3"),
  minSeconds: Number(process.env.THROUGHPUT_MIN_SECONDS ?? "0.5"),
  warmupSeconds: Number(process.env.THROUGHPUT_WARMUP_SECONDS ?? "1"),
  spinning: onOff("THROUGHPUT_ORT_SPINNING"),
  texts: {
    short: positiveInteger(process.env.THROUGHPUT_SHORT_TEXTS ?? "64"),
    long: positiveInteger(process.env.THROUGHPUT_LONG_TEXTS ?? "8"),
  },
};

function list(name: string, fallback: string): string[] {
  return (process.env[name] ?? fallback)
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

/** "1" or "0" as true or false; unset as undefined (the runtime's default). */
function onOff(name: string): boolean | undefined {
  const value = process.env[name];
  if (value === undefined || value === "") return undefined;
  if (value !== "0" && value !== "1") throw new Error(`${name} must be 0 or 1, not ${value}`);
  return value === "1";
}

function positiveInteger(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`not a positive integer: ${text}`);
  return value;
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size) chunks.push(items.slice(start, start + size));
  return chunks;
}

async function measure<Prepared>(
  subject: Subject<Prepared>,
  length: Length,
  pool: readonly string[],
  batch: number,
): Promise<Row> {
  const count = Math.ceil(Math.max(settings.texts[length], batch) / batch) * batch;
  const batches = chunk(pool.slice(0, count), batch);
  const prepared = batches.map((texts) => subject.tokenize(texts));
  const firstPrepared = prepared[0];
  if (batches.length === 0 || firstPrepared === undefined) throw new Error(`no ${length} texts`);

  // Warm-up; ours's time per batch then sizes a round to last at least minSeconds.
  await warmUp(
    (call) => subject.raw(prepared[call % prepared.length] ?? firstPrepared),
    settings.warmupSeconds,
  );
  const perBatch = await warmUp(
    (call) => subject.ours(batches[call % batches.length] ?? []),
    settings.warmupSeconds,
  );
  const passes = Math.max(1, Math.ceil(settings.minSeconds / (perBatch * batches.length)));

  const steps = Array.from({ length: passes * batches.length }, (_, step) => step % batches.length);
  const times = await interleaved(
    {
      ours: (index: number) => subject.ours(batches[index] ?? []),
      raw: (index: number) => subject.raw(prepared[index] ?? firstPrepared),
      rawTok: (index: number) => subject.raw(subject.tokenize(batches[index] ?? [])),
    },
    steps,
    length === "long" ? settings.longRounds : settings.rounds,
  );
  const texts = passes * count;
  const rates = (perRound: number[][]) => perRound.map((steps) => texts / sum(steps));
  // Paired batch by batch: how much faster (>1) or slower (<1) ours ran than the other side.
  const pairedRatios = (other: (round: number, step: number) => number) =>
    times.ours.flatMap((steps, round) => steps.map((ours, step) => other(round, step) / ours));
  const ratios = pairedRatios((round, step) => times.raw[round]?.[step] ?? Number.NaN);
  const positions = prepared.reduce((total, input) => total + subject.positions(input), 0);
  return {
    model: subject.name,
    length: length === "short" ? "short" : `${settings.words} words`,
    batch,
    tokensPerText: positions / count,
    ours: median(rates(times.ours)),
    raw: median(rates(times.raw)),
    rawTok: median(rates(times.rawTok)),
    ratio: median(ratios),
    ratioQuartiles: [quantile(ratios, 0.25), quantile(ratios, 0.75)],
    ratioTok: median(pairedRatios((round, step) => times.rawTok[round]?.[step] ?? Number.NaN)),
  };
}

async function useLiteSubject(): Promise<Subject<SparseBatch>> {
  const embedder = createUseLiteEmbedder();
  await embedder.embedQuery("load the model");
  const raw = await openRawUseLite();
  return {
    name: embedder.id,
    ours: (texts) => embedder.embedDocuments(texts),
    tokenize: (texts) => raw.tokenize(texts),
    raw: (batch) => raw.run(batch),
    positions: (batch) => batch.values.length,
    dispose: async () => {
      raw.dispose();
      await embedder.dispose();
    },
  };
}

async function minilmSubject(): Promise<Subject<Encoded> | string> {
  const dir = process.env.VECTOR_MEMORY_BENCH_MINILM_DIR;
  const model = ensureMinilmShaped(dir);
  if ("skipped" in model) return model.skipped;
  if (model.generated) console.log(`generated the MiniLM-shaped model in ${model.dir}`);
  const embedder = await TransformersEmbedder.create({
    model: model.dir,
    dtype: "fp32",
    local: true,
    cacheDir: path.join(benchCacheDir, "transformers-cache"),
    offline: true,
    ...(settings.spinning === undefined ? {} : { spinning: settings.spinning }),
  });
  // After create: the embedder has set transformers.js's env to local-only.
  const { AutoTokenizer } = await import("@huggingface/transformers");
  const tokenizer = await AutoTokenizer.from_pretrained(model.dir);
  const raw = await openRawOnnx(path.join(model.dir, "onnx", "model.onnx"), settings.spinning);
  return {
    name: `minilm-shaped@fp32`,
    ours: (texts) => embedder.embedDocuments(texts),
    tokenize: (texts) => tokenizer(texts, { padding: true, truncation: true }) as unknown as Encoded,
    raw: (encoded) => raw.session.run(raw.feeds(encoded)),
    positions: (encoded) => (encoded.input_ids.dims[0] ?? 0) * (encoded.input_ids.dims[1] ?? 0),
    dispose: async () => {
      await raw.session.release();
      await embedder.dispose();
    },
  };
}

function formatTable(rows: readonly Row[]): string {
  const lines = [
    "| model | texts | batch | tokens/text | ours texts/s | raw texts/s | ours/raw (quartiles) | raw+tok texts/s | ours/(raw+tok) |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const row of rows) {
    const [low, high] = row.ratioQuartiles;
    const cells = [
      row.model,
      row.length,
      String(row.batch),
      row.tokensPerText.toFixed(0),
      row.ours.toFixed(1),
      row.raw.toFixed(1),
      `${row.ratio.toFixed(2)} (${low.toFixed(2)}–${high.toFixed(2)})`,
      row.rawTok.toFixed(1),
      row.ratioTok.toFixed(2),
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const pairs = readStsPairs();
  if (!pairs) {
    process.exitCode = 1;
    return;
  }
  const unknownModels = settings.models.filter((name) => !MODELS.includes(name));
  const unknownLengths = settings.lengths.filter((length) => length !== "short" && length !== "long");
  if (unknownModels.length > 0 || unknownLengths.length > 0) {
    throw new Error(
      `unknown ${[...unknownModels, ...unknownLengths].join(", ")}: THROUGHPUT_MODELS takes ${MODELS.join(", ")}, THROUGHPUT_LENGTHS short, long`,
    );
  }
  const sentences = uniqueSentences(pairs);
  const pools: Record<Length, string[]> = {
    short: sentences,
    long: longTexts(sentences, Math.max(settings.texts.long, ...settings.batches), settings.words),
  };
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  console.log(
    `Embedding throughput: ${new Date().toISOString().slice(0, 10)}, ${cpus().length} x ${cpu}, Node ${process.version}`,
  );
  console.log(
    `ORT spinning ${settings.spinning === undefined ? "default" : settings.spinning ? "on" : "off"}, rounds ${settings.rounds} (long texts ${settings.longRounds}), each >= ${settings.minSeconds} s of ours, batches ${settings.batches.join(",")}, load average ${loadavg()[0]?.toFixed(2)}`,
  );

  const started = performance.now();
  const rows: Row[] = [];
  const skipped: string[] = [];
  for (const name of settings.models) {
    const subject = name === "use-lite" ? await useLiteSubject() : await minilmSubject();
    if (typeof subject === "string") {
      skipped.push(`${name}: ${subject}`);
      console.error(`skipping ${name}: ${subject}`);
      continue;
    }
    try {
      for (const length of settings.lengths) {
        for (const batch of settings.batches) {
          const rowStarted = performance.now();
          const row = await measure(subject as Subject<unknown>, length, pools[length], batch);
          rows.push(row);
          const took = (performance.now() - rowStarted) / 1000;
          console.error(
            `${row.model} ${row.length} batch ${batch}: ours ${row.ours.toFixed(1)}/s, raw ${row.raw.toFixed(1)}/s, ratio ${row.ratio.toFixed(2)} (${took.toFixed(0)} s, load ${loadavg()[0]?.toFixed(1)})`,
          );
        }
      }
    } finally {
      await subject.dispose();
    }
  }

  console.log(formatTable(rows));
  console.log(
    `total ${((performance.now() - started) / 1000).toFixed(0)} s, load average at the end ${loadavg()[0]?.toFixed(2)}`,
  );
  const below = rows
    .filter((row) => row.ratio < 0.9)
    .map((row) => `${row.model} ${row.length} b${row.batch}`);
  const verdict =
    rows.length === 0
      ? "nothing measured"
      : below.length === 0
        ? "goal met: ours keeps >= 90% of the raw runtime's throughput in every row measured (median of paired ratios)"
        : `below 90% of raw (median of paired ratios): ${below.join(", ")}`;
  console.log(verdict);
  for (const reason of skipped) console.log(`skipped ${reason}`);
}

await main();
