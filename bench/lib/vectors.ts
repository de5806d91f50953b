/**
 * Seeded synthetic embeddings for the store benchmark: the same seed gives the same vectors in every
 * process, so each measured system can regenerate the data instead of sharing memory or files.
 *
 * Uniform random vectors make every ANN index look worse than it is on real embeddings (they have
 * no neighbourhoods). Real sentence embeddings are clustered by topic and, within a topic, vary
 * along few directions; so each point here is a cluster centre plus a deviation in a low-rank
 * cluster-specific subspace plus a little isotropic noise, L2-normalised. Cluster sizes are uneven
 * (log-normal weights), as topics are.
 */

/** mulberry32: small, fast, and good enough for benchmark data. */
export class Rng {
  private state: number;
  private spare: number | undefined;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Standard normal (Box-Muller; the second value of each pair is kept for the next call). */
  gaussian(): number {
    if (this.spare !== undefined) {
      const value = this.spare;
      this.spare = undefined;
      return value;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const radius = Math.sqrt(-2 * Math.log(u));
    this.spare = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  }

  int(below: number): number {
    return Math.floor(this.next() * below);
  }
}

export interface MixtureOptions {
  dimensions: number;
  clusters: number;
  seed: number;
  /** Dimensions of each cluster's deviation subspace (default 16). */
  rank?: number;
  /** Norm of the low-rank deviation relative to the unit centre (default 0.8). */
  spread?: number;
  /** Norm of the isotropic noise (default 0.35). */
  noise?: number;
}

/** The parameters a mixture was made with, printed next to the results. */
export interface MixtureDescription {
  dimensions: number;
  clusters: number;
  rank: number;
  spread: number;
  noise: number;
  seed: number;
}

export class ClusteredMixture {
  readonly description: MixtureDescription;
  private readonly centres: Float32Array;
  /** Per cluster, `rank` basis vectors of `dimensions` entries with N(0, 1/dimensions) entries. */
  private readonly bases: Float32Array;
  private readonly cumulative: Float64Array;

  constructor(options: MixtureOptions) {
    const rank = options.rank ?? 16;
    const spread = options.spread ?? 0.8;
    const noise = options.noise ?? 0.35;
    const { dimensions: d, clusters } = options;
    this.description = { dimensions: d, clusters, rank, spread, noise, seed: options.seed };
    const rng = new Rng(options.seed ^ 0x9e3779b9);
    this.centres = new Float32Array(clusters * d);
    for (let c = 0; c < clusters; c++) {
      for (let j = 0; j < d; j++) this.centres[c * d + j] = rng.gaussian();
      normalise(this.centres, c * d, d);
    }
    this.bases = new Float32Array(clusters * rank * d);
    const scale = 1 / Math.sqrt(d);
    for (let i = 0; i < this.bases.length; i++) this.bases[i] = rng.gaussian() * scale;
    this.cumulative = new Float64Array(clusters);
    let total = 0;
    for (let c = 0; c < clusters; c++) {
      total += Math.exp(0.75 * rng.gaussian());
      this.cumulative[c] = total;
    }
    for (let c = 0; c < clusters; c++) this.cumulative[c] = (this.cumulative[c] ?? 0) / total;
  }

  get dimensions(): number {
    return this.description.dimensions;
  }

  pickCluster(rng: Rng): number {
    const u = rng.next();
    let lo = 0;
    let hi = this.description.clusters - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.cumulative[mid] ?? 1) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Adds `weight` times a fresh deviation of cluster `c` to out[offset..offset+d). */
  addDeviation(rng: Rng, c: number, weight: number, out: Float32Array, offset: number): void {
    const { dimensions: d, rank, spread, noise } = this.description;
    const bases = this.bases;
    // Basis entries have variance 1/d, so B z with z ~ N(0, I_rank / rank) has expected norm 1.
    const zScale = (weight * spread) / Math.sqrt(rank);
    for (let r = 0; r < rank; r++) {
      const z = rng.gaussian() * zScale;
      const base = (c * rank + r) * d;
      for (let j = 0; j < d; j++)
        out[offset + j] = (out[offset + j] as number) + z * (bases[base + j] as number);
    }
    const isoScale = (weight * noise) / Math.sqrt(d);
    for (let j = 0; j < d; j++) out[offset + j] = (out[offset + j] as number) + rng.gaussian() * isoScale;
  }

  /** Writes one normalised point of cluster `c` at out[offset..offset+d). */
  sample(rng: Rng, c: number, out: Float32Array, offset: number): void {
    const d = this.dimensions;
    out.set(this.centres.subarray(c * d, (c + 1) * d), offset);
    this.addDeviation(rng, c, 1, out, offset);
    normalise(out, offset, d);
  }
}

export interface Dataset {
  mixture: ClusteredMixture;
  count: number;
  dimensions: number;
  /** Row-major, `count * dimensions`, every row L2-normalised. */
  data: Float32Array;
  clusterOf: Int32Array;
}

export function clustersFor(count: number): number {
  return Math.min(1000, Math.max(100, Math.round(count / 100)));
}

/** `count` points of the mixture; the same arguments always give the same data. */
export function generateDataset(
  count: number,
  dimensions: number,
  seed: number,
  clusters = clustersFor(count),
): Dataset {
  const mixture = new ClusteredMixture({ dimensions, clusters, seed });
  const rng = new Rng(seed);
  const data = new Float32Array(count * dimensions);
  const clusterOf = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const c = mixture.pickCluster(rng);
    clusterOf[i] = c;
    mixture.sample(rng, c, data, i * dimensions);
  }
  return { mixture, count, dimensions, data, clusterOf };
}

/** More points from the same mixture (for rows added after the initial load), from their own stream. */
export function extraRows(dataset: Dataset, count: number, stream: number): Float32Array {
  const rng = new Rng((dataset.mixture.description.seed * 31 + stream) >>> 0);
  const d = dataset.dimensions;
  const out = new Float32Array(count * d);
  for (let i = 0; i < count; i++) dataset.mixture.sample(rng, dataset.mixture.pickCluster(rng), out, i * d);
  return out;
}

/**
 * Queries near the data but not in it: a data point plus half a fresh deviation of its cluster,
 * renormalised. So a query has a close neighbour (the point it came from) and its cluster around it,
 * as a question has the memory it asks about and others on the same topic.
 */
export function generateQueries(dataset: Dataset, count: number, seed: number): Float32Array {
  const rng = new Rng(seed ^ 0x51ed270b);
  const d = dataset.dimensions;
  const out = new Float32Array(count * d);
  for (let q = 0; q < count; q++) {
    const i = rng.int(dataset.count);
    out.set(dataset.data.subarray(i * d, (i + 1) * d), q * d);
    dataset.mixture.addDeviation(rng, dataset.clusterOf[i] ?? 0, 0.5, out, q * d);
    normalise(out, q * d, d);
  }
  return out;
}

export function normalise(v: Float32Array, offset: number, d: number): void {
  let sum = 0;
  for (let j = 0; j < d; j++) sum += (v[offset + j] as number) ** 2;
  const inv = 1 / Math.sqrt(sum);
  for (let j = 0; j < d; j++) v[offset + j] = (v[offset + j] as number) * inv;
}

export function row(data: Float32Array, i: number, d: number): Float32Array {
  return data.subarray(i * d, (i + 1) * d);
}

const WORDS = {
  subjects: [
    "the deploy",
    "our billing service",
    "the nightly backup",
    "customer onboarding",
    "the search index",
    "the mobile app",
    "payroll",
    "the staging cluster",
    "the design review",
    "the data pipeline",
    "the quarterly report",
    "the auth gateway",
    "the support queue",
    "invoice export",
    "the release train",
    "the cache layer",
  ],
  verbs: [
    "failed after",
    "was moved to",
    "needs a fix for",
    "depends on",
    "got slower since",
    "was approved with",
    "is blocked by",
    "should be rewritten around",
    "now reports",
    "was rolled back because of",
  ],
  objects: [
    "the new schema",
    "a timeout in the queue",
    "the March migration",
    "expired certificates",
    "a memory leak",
    "the vendor contract",
    "missing translations",
    "the holiday freeze",
    "duplicate invoices",
    "a flaky integration test",
    "the cost review",
    "rate limits",
    "the on-call rota",
    "disk pressure",
  ],
  tails: [
    "ask Dana before Friday",
    "see ticket",
    "discussed in standup",
    "low priority",
    "customer visible",
    "follow up next sprint",
    "documented in the wiki",
    "needs a postmortem",
    "",
  ],
};

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(items.length)] as T;
}

/** Short memory-like notes (8-20 words), seeded; a ticket number keeps them distinct. */
export function syntheticTexts(count: number, seed: number): string[] {
  const rng = new Rng(seed ^ 0x2545f491);
  const texts: string[] = [];
  for (let i = 0; i < count; i++) {
    const tail = pick(rng, WORDS.tails);
    const ticket = tail === "see ticket" ? ` OPS-${1000 + rng.int(9000)}` : "";
    texts.push(
      `${pick(rng, WORDS.subjects)} ${pick(rng, WORDS.verbs)} ${pick(rng, WORDS.objects)}${tail ? `; ${tail}${ticket}` : ""} (note ${i})`,
    );
  }
  return texts;
}
