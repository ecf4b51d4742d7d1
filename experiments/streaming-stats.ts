import { TwinlabError } from '../engine/errors.js';
import { deriveSeed, Rng } from '../engine/random.js';

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
    return { lower: quantile7(means, (1 - level) / 2), upper: quantile7(means, 1 - (1 - level) / 2), level, resamples: this.resamples };
  }
}

/** Type-7 quantile of sorted values (R's default; Hyndman & Fan 1996); NaN when empty. */
export function quantile7(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const a = sorted[lo] as number;
  const b = sorted[Math.min(lo + 1, sorted.length - 1)] as number;
  return a + (h - lo) * (b - a);
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
