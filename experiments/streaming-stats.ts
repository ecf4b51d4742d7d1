import { TwinlabError } from '../engine/errors.js';
import { deriveSeed, Rng } from '../engine/random.js';
import { quantileSorted } from '../engine/distributions.js';

/**
 * Statistics that take results one at a time, in any order, in memory independent of how many
 * arrive — for trials of very large cohorts whose per-patient results should not all be held by the
 * coordinator (issue #15).
 *
 * - `Welford`: running mean and variance (Welford 1962; the pairwise merge of Chan, Golub & LeVeque
 *   1979). Exact up to floating-point rounding, which depends on the order of arrival: means agree with
 *   a two-pass computation to ≈ 1e-12 relative, not bit for bit.
 * - `PoissonBootstrap`: the percentile bootstrap of a mean with Poisson(1) frequencies instead of
 *   multinomial resampling (Hanley & MacGibbon 2006; Chamandy et al. 2012, "Estimating uncertainty
 *   for massive data streams"). Resampling n units with replacement gives unit i a Multinomial(n, 1/n)
 *   count, which tends to Poisson(1) as n grows; drawing each unit's counts independently lets every
 *   result update the B replicates (Σ wᵢ xᵢ, Σ wᵢ) as it arrives. The B counts of a unit come from a
 *   stream seeded by (seed, unit key) — the job or patient index, never the arrival order — so the
 *   interval is the same whatever order the results come in. Replicate b's mean is Σ w_bi x_i / Σ w_bi;
 *   the CI is the (α/2, 1 − α/2) type-7 quantile of the B replicate means. Memory: 2B numbers.
 * - `StreamingPairedEndpoint`: one endpoint of a paired comparison, fed one patient at a time with
 *   that patient's value under the arm and the reference (the arms of a patient run in one batch, so
 *   they arrive together); it accumulates the arms' and the differences' Welford moments, Cohen's
 *   d_z = mean(d)/sd(d), and the Poisson bootstrap CI of the mean difference.
 */
export class Welford {
  n = 0;
  mean = 0;
  /** Σ (x − mean)². */
  m2 = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;

  push(x: number): void {
    this.n++;
    const delta = x - this.mean;
    this.mean += delta / this.n;
    this.m2 += delta * (x - this.mean);
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
  }

  /** Sample variance (n − 1); NaN below two values. */
  get variance(): number {
    return this.n < 2 ? Number.NaN : this.m2 / (this.n - 1);
  }

  get sd(): number {
    return Math.sqrt(this.variance);
  }

  /** Combines another accumulator into this one (Chan et al. 1979): as if its values had been pushed here. */
  merge(other: Welford): void {
    if (other.n === 0) return;
    const n = this.n + other.n;
    const delta = other.mean - this.mean;
    this.m2 += other.m2 + (delta * delta * this.n * other.n) / n;
    this.mean += (delta * other.n) / n;
    this.n = n;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
  }
}

const EXP_MINUS_ONE = Math.exp(-1);

/** One Poisson(1) draw by Knuth's multiplication method (expected 2 uniforms per draw). */
export function poissonOne(rng: Rng): number {
  let k = 0;
  let p = rng.next();
  while (p > EXP_MINUS_ONE) {
    k++;
    p *= rng.next();
  }
  return k;
}

export interface StreamingCI {
  lower: number;
  upper: number;
  level: number;
  resamples: number;
}

export class PoissonBootstrap {
  private readonly sumW: Float64Array;
  private readonly sumWX: Float64Array;
  private readonly weights: Int32Array;

  constructor(
    readonly seed: number | string,
    readonly resamples = 1_000,
  ) {
    if (!Number.isInteger(resamples) || resamples < 2) throw new TwinlabError('INVALID_ARGUMENT', `resamples must be an integer ≥ 2, got ${resamples}`);
    this.sumW = new Float64Array(resamples);
    this.sumWX = new Float64Array(resamples);
    this.weights = new Int32Array(resamples);
  }

  /** The B Poisson(1) counts of unit `key` (the same for the same seed and key, whenever asked). */
  weightsOf(key: number): Int32Array {
    const rng = Rng.fromSeed(deriveSeed(this.seed, 'poisson-bootstrap', key));
    for (let b = 0; b < this.resamples; b++) this.weights[b] = poissonOne(rng);
    return this.weights;
  }

  push(key: number, x: number): void {
    const w = this.weightsOf(key);
    for (let b = 0; b < this.resamples; b++) {
      const wb = w[b] as number;
      if (wb === 0) continue;
      this.sumW[b] = (this.sumW[b] as number) + wb;
      this.sumWX[b] = (this.sumWX[b] as number) + wb * x;
    }
  }

  /** Replicate means (replicates that drew no unit are skipped). */
  means(): number[] {
    const out: number[] = [];
    for (let b = 0; b < this.resamples; b++) if ((this.sumW[b] as number) > 0) out.push((this.sumWX[b] as number) / (this.sumW[b] as number));
    return out;
  }

  ci(level = 0.95): StreamingCI {
    const means = this.means().sort((a, b) => a - b);
    return { lower: quantileSorted(means, (1 - level) / 2), upper: quantileSorted(means, 1 - (1 - level) / 2), level, resamples: this.resamples };
  }
}

export interface StreamingPairedSummary {
  n: number;
  /** Patients dropped because a value was not finite. */
  missing: number;
  arm: { mean: number; sd: number };
  reference: { mean: number; sd: number };
  meanDifference: number;
  sdDifference: number;
  cohensDz: number;
  ci: StreamingCI;
}

export class StreamingPairedEndpoint {
  readonly arm = new Welford();
  readonly reference = new Welford();
  readonly difference = new Welford();
  readonly bootstrap: PoissonBootstrap;
  missing = 0;

  constructor(seed: number | string, resamples = 1_000) {
    this.bootstrap = new PoissonBootstrap(seed, resamples);
  }

  /** One patient (its enrolment position is the bootstrap key): its value under the arm and under the reference. */
  push(patient: number, armValue: number, referenceValue: number): void {
    if (!Number.isFinite(armValue) || !Number.isFinite(referenceValue)) {
      this.missing++;
      return;
    }
    this.arm.push(armValue);
    this.reference.push(referenceValue);
    const d = armValue - referenceValue;
    this.difference.push(d);
    this.bootstrap.push(patient, d);
  }

  summary(level = 0.95): StreamingPairedSummary {
    const d = this.difference;
    return {
      n: d.n,
      missing: this.missing,
      arm: { mean: this.arm.mean, sd: this.arm.sd },
      reference: { mean: this.reference.mean, sd: this.reference.sd },
      meanDifference: d.mean,
      sdDifference: d.sd,
      cohensDz: d.mean / d.sd,
      ci: this.bootstrap.ci(level),
    };
  }
}

// ---- order-independent accumulators (streaming trial analysis) -------------------------------------

/**
 * The exact sum of doubles, kept as a short list of non-overlapping partials (Shewchuk 1997, "Adaptive
 * precision floating-point arithmetic and fast robust geometric predicates"; the algorithm of Python's
 * `math.fsum`). `value()` is the correctly rounded sum, so it does not depend on the order of `add` —
 * which is what makes a streaming trial analysis identical whatever order its results arrive in.
 * Non-finite inputs make the value non-finite (their plain sum).
 */
export class ExactSum {
  private partials: number[] = [];
  private special = 0;
  private hasSpecial = false;

  add(value: number): void {
    if (!Number.isFinite(value)) {
      this.special += value;
      this.hasSpecial = true;
      return;
    }
    let x = value;
    const p = this.partials;
    let i = 0;
    for (let j = 0; j < p.length; j++) {
      let y = p[j] as number;
      if (Math.abs(x) < Math.abs(y)) {
        const t = x;
        x = y;
        y = t;
      }
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo !== 0) p[i++] = lo;
      x = hi;
    }
    p.length = i;
    p.push(x);
  }

  /** The exact sum as non-overlapping partials, smallest magnitude first (a copy). */
  parts(): number[] {
    return this.hasSpecial ? [this.special] : [...this.partials];
  }

  /** The correctly rounded sum (CPython's `math_fsum` final rounding, round-half-even). */
  value(): number {
    if (this.hasSpecial) return this.special;
    const p = this.partials;
    let n = p.length;
    if (n === 0) return 0;
    let hi = p[--n] as number;
    let lo = 0;
    while (n > 0) {
      const x = hi;
      const y = p[--n] as number;
      hi = x + y;
      const yr = hi - x;
      lo = y - yr;
      if (lo !== 0) break;
    }
    if (n > 0 && ((lo < 0 && (p[n - 1] as number) < 0) || (lo > 0 && (p[n - 1] as number) > 0))) {
      const y = lo * 2;
      const x = hi + y;
      const yr = x - hi;
      if (y === yr) hi = x;
    }
    return hi;
  }
}

const SPLITTER = 134_217_729; // 2^27 + 1 (Veltkamp split of a double into two 26-bit halves)

/** a·b as an unevaluated sum p + e exactly (Dekker 1971, TwoProduct without FMA; no overflow assumed). */
export function twoProduct(a: number, b: number): [number, number] {
  const p = a * b;
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  const e = ah * bh - p + ah * bl + al * bh + al * bl;
  return [p, e];
}

/**
 * Count, mean and sample variance from exact sums Σx and Σx² (each square added exactly as two
 * doubles), min and max: the same numbers whatever order the values come in. The variance numerator
 * n·Σx² − (Σx)² is itself summed exactly from the partials, so a large common offset costs no digits
 * (unlike the naive formula); mean = Σx / n with Σx correctly rounded.
 */
export class ExactMoments {
  n = 0;
  readonly sum = new ExactSum();
  readonly sumSq = new ExactSum();
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;

  push(x: number): void {
    this.n++;
    this.sum.add(x);
    const [p, e] = twoProduct(x, x);
    this.sumSq.add(p);
    this.sumSq.add(e);
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
  }

  get mean(): number {
    return this.n === 0 ? Number.NaN : this.sum.value() / this.n;
  }

  /** Sample variance (n − 1); NaN below two values. */
  get variance(): number {
    if (this.n < 2) return Number.NaN;
    const numerator = new ExactSum();
    const s1 = this.sum.parts();
    for (const q of this.sumSq.parts()) {
      const [p, e] = twoProduct(q, this.n);
      numerator.add(p);
      numerator.add(e);
    }
    for (const a of s1) {
      for (const b of s1) {
        const [p, e] = twoProduct(a, b);
        numerator.add(-p);
        numerator.add(-e);
      }
    }
    return Math.max(0, numerator.value()) / this.n / (this.n - 1);
  }

  get sd(): number {
    return Math.sqrt(this.variance);
  }
}

/**
 * A relative-error quantile sketch (after DDSketch: Masson, Rim & Lee 2019, "DDSketch: a fast and fully-mergeable
 * quantile sketch with relative-error guarantees", PVLDB 12(12)): |x| falls in bucket k = ⌈ln|x| / ln γ⌉,
 * γ = (1 + α)/(1 − α), counted separately for positive and negative values (exact zeros apart). Bucket
 * counts do not depend on arrival order; memory grows with the log of the value range, not with n
 * (≤ ln(max/min)/ln γ buckets per sign). A quantile is reported as its bucket's value 2γ^k/(γ + 1), within
 * relative error α of a value of that rank — exact when the bucket holds one distinct value (each bucket
 * also keeps its smallest and largest value, so integer-valued endpoints are reported exactly); min and
 * max are exact.
 *
 * For paired differences it also gives the Wilcoxon signed-rank statistic with every bucket treated as
 * one group of ties (mid-ranks over buckets of |d|): exact when distinct |d| values are more than a
 * factor γ apart (as on endpoints measured in whole steps, e.g. time in range on 288 readings), else
 * values within a relative 2α count as tied.
 */
export class LogSketch {
  readonly gamma: number;
  private readonly lnGamma: number;
  /** Bucket k → [count, smallest, largest value in it]. */
  private readonly positive = new Map<number, [number, number, number]>();
  private readonly negative = new Map<number, [number, number, number]>();
  zeros = 0;
  n = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;

  constructor(readonly relativeAccuracy = SKETCH_RELATIVE_ACCURACY) {
    if (!(relativeAccuracy > 0 && relativeAccuracy < 1)) throw new TwinlabError('INVALID_ARGUMENT', `relativeAccuracy must be in (0, 1), got ${relativeAccuracy}`);
    this.gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy);
    this.lnGamma = Math.log(this.gamma);
  }

  push(x: number): void {
    this.n++;
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    if (x === 0) {
      this.zeros++;
      return;
    }
    const k = Math.ceil(Math.log(Math.abs(x)) / this.lnGamma);
    const map = x > 0 ? this.positive : this.negative;
    const bucket = map.get(k);
    if (bucket === undefined) map.set(k, [1, x, x]);
    else {
      bucket[0]++;
      if (x < bucket[1]) bucket[1] = x;
      if (x > bucket[2]) bucket[2] = x;
    }
  }

  /** Buckets in use (the sketch's memory). */
  get buckets(): number {
    return this.positive.size + this.negative.size;
  }

  /** A bucket's value: exact when all its values are equal, else 2γ^k/(γ + 1) kept within its [smallest, largest]. */
  private representative(k: number, bucket: [number, number, number], sign: 1 | -1): number {
    if (bucket[1] === bucket[2]) return bucket[1];
    const v = (sign * 2 * this.gamma ** k) / (this.gamma + 1);
    return Math.min(bucket[2], Math.max(bucket[1], v));
  }

  /** Values in ascending order as (value, count) runs: negatives, zeros, positives. */
  private runs(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (const k of [...this.negative.keys()].sort((a, b) => b - a)) {
      const bucket = this.negative.get(k) as [number, number, number];
      out.push([this.representative(k, bucket, -1), bucket[0]]);
    }
    if (this.zeros > 0) out.push([0, this.zeros]);
    for (const k of [...this.positive.keys()].sort((a, b) => a - b)) {
      const bucket = this.positive.get(k) as [number, number, number];
      out.push([this.representative(k, bucket, 1), bucket[0]]);
    }
    return out;
  }

  /** Type-7 quantiles (R's default) of the sketched values, at the probabilities asked; NaN when empty. */
  quantiles(ps: readonly number[]): number[] {
    if (this.n === 0) return ps.map(() => Number.NaN);
    const runs = this.runs();
    const at = (rank: number): number => {
      if (rank <= 0) return this.min;
      if (rank >= this.n - 1) return this.max;
      let seen = 0;
      for (const [value, count] of runs) {
        seen += count;
        if (rank < seen) return Math.min(this.max, Math.max(this.min, value));
      }
      return this.max;
    };
    return ps.map((p) => {
      const h = (this.n - 1) * p;
      const lo = Math.floor(h);
      const a = at(lo);
      return lo === h ? a : a + (h - lo) * (at(lo + 1) - a);
    });
  }

  /**
   * Wilcoxon signed-rank of the sketched differences (zeros dropped, as `wilcoxonSignedRank`'s default):
   * mid-ranks over buckets of |d|, W⁺ and W⁻, and the normal approximation with the tie-corrected
   * variance Σr²/4 and continuity correction ½ (stats.ts, Hollander, Wolfe & Chicken 2014 §3.1). With at
   * most `exactMaxN` non-zero differences the bucket values are handed to `exact` instead (the exact test).
   */
  signedRank(): { wPlus: number; wMinus: number; n: number; zeros: number; z: number; ranks: Array<{ value: number; positive: number; negative: number }> } {
    const keys = [...new Set([...this.positive.keys(), ...this.negative.keys()])].sort((a, b) => a - b);
    let offset = 0;
    let wPlus = 0;
    let wMinus = 0;
    let sumSq = 0;
    const ranks: Array<{ value: number; positive: number; negative: number }> = [];
    for (const k of keys) {
      const pb = this.positive.get(k);
      const nb = this.negative.get(k);
      const pos = pb?.[0] ?? 0;
      const neg = nb?.[0] ?? 0;
      const t = pos + neg;
      const r = offset + (t + 1) / 2;
      wPlus += pos * r;
      wMinus += neg * r;
      sumSq += t * r * r;
      offset += t;
      // |d| of the bucket: exact when every |d| in it (both signs) is the same value
      const lo = Math.min(pb ? pb[1] : Number.POSITIVE_INFINITY, nb ? -nb[2] : Number.POSITIVE_INFINITY);
      const hi = Math.max(pb ? pb[2] : Number.NEGATIVE_INFINITY, nb ? -nb[1] : Number.NEGATIVE_INFINITY);
      ranks.push({ value: this.representative(k, [t, lo, hi], 1), positive: pos, negative: neg });
    }
    const n = offset;
    const mean = (n * (n + 1)) / 4;
    const sd = Math.sqrt(sumSq / 4);
    const dev = wPlus - mean;
    const z = n === 0 || Math.abs(dev) <= 0.5 ? 0 : (dev - 0.5 * Math.sign(dev)) / sd;
    return { wPlus, wMinus, n, zeros: this.zeros, z, ranks };
  }
}

/** Relative accuracy α of the trial analysis's quantile sketches (0.05 %). */
export const SKETCH_RELATIVE_ACCURACY = 5e-4;
