import { describeValue, TwinlabError } from '../engine/errors.js';
import { deriveSeed, Rng } from '../engine/random.js';
import { mcnemar, pairedBinaryBound, studentTCdf, studentTQuantile, twoSidedNormalP, wilcoxonSignedRank } from './stats.js';
import { quantileSorted } from '../engine/distributions.js';
import { ExactMoments, ExactSum, LogSketch, poissonOne, SKETCH_RELATIVE_ACCURACY } from './streaming-stats.js';
import type { TrialBlockResult } from './trial-blocks.js';
import {
  type ArmEndpointSummary,
  type EndpointAnalysis,
  favoursVerdict,
  type HypothesisResult,
  oneSidedAlpha,
  type PairedComparison,
  type TrialAnalysis,
  type TrialEndpointMeta,
  withVerdicts,
} from './trial-analysis.js';

/**
 * The paired trial analysis of `analyzeTrial`, computed as results arrive, in memory that does not grow
 * with the cohort (streaming trials, spec `streaming`; experiments/README.md "Streaming trials"). Input:
 * whole blocks (`TrialBlockResult`: a block's patients with their replicate-averaged values per endpoint
 * and arm). Output: a `TrialAnalysis` of the same shape, plus `aggregation` saying how it was made.
 *
 * What each number is, and how it relates to the exact analysis:
 * - **means, SDs, Cohen's d_z, min, max, n, missing, proportions, McNemar's b and c**: exact sums
 *   (`ExactMoments`, `ExactSum`: correctly rounded Σx and Σx²), so identical whatever order blocks arrive
 *   in; equal to the exact analysis's up to its own naive summation's rounding (≈ 1e-15 relative).
 * - **the CI of the mean difference**: the Poisson bootstrap (Hanley & MacGibbon 2006; Chamandy et al. 2012)
 *   with B = `resamples` replicates: patient i (enrolment position) gets weight w_bi ~ Poisson(1) in
 *   replicate b, drawn from the stream `deriveSeed(seed, 'poisson-bootstrap', i)` (draw b is replicate
 *   b), shared by every endpoint and arm. Replicate b's mean is Σ w_bi d_i / Σ w_bi; the CI is the type-7
 *   (α/2, 1 − α/2) quantile of the B means, as in the percentile bootstrap. Within a block the sums
 *   run in patient order; across blocks they are added exactly, so the CI is the same in any arrival
 *   order. It is a different resampling scheme from the exact analysis's multinomial bootstrap (10,000
 *   resamples on the stream `bootstrap/<endpoint>/<arm>`): the bounds differ by Monte Carlo error
 *   (≈ 0.1 standard errors of the mean at B = 1,000) — not bit-identical.
 * - **medians, quartiles, the median difference and the Wilcoxon signed-rank test**: from log-bucket
 *   sketches (`LogSketch`, DDSketch with relative accuracy 5·10⁻⁴): quantiles within 0.05 % of a value of
 *   that rank; Wilcoxon ranks with values in one bucket tied (exact on endpoints counted in whole steps,
 *   such as time in range over 288 readings, whose distinct values are further apart than a bucket). With
 *   ≤ 25 non-zero differences the exact test runs on the bucket values; otherwise the normal approximation.
 * - **non-inferiority / equivalence**: the paired t bound from the exact mean and SD (as the exact
 *   analysis); the Agresti–Min bound from b, c and n; the bootstrap bound from the Poisson replicates.
 */
export interface StreamingTrialOptions {
  endpoints: readonly TrialEndpointMeta[];
  arms: readonly string[];
  reference?: string;
  patients: number;
  replicates?: number;
  seed: number;
  resamples?: number;
  level?: number;
  primary?: readonly string[];
  /** Recorded in `aggregation` (patients per block job). */
  blockSize?: number;
}

export interface StreamingAggregation {
  mode: 'streaming';
  bootstrap: 'poisson';
  resamples: number;
  sketchRelativeAccuracy: number;
  blockSize: number | null;
  /** Blocks and patients aggregated. */
  blocks: number;
  patientsSeen: number;
}

export type StreamingTrialAnalysis = TrialAnalysis & { aggregation: StreamingAggregation };

/** What a block needs to know to draw its patients' Poisson weights (jobs.ts `TrialBlockConfig.bootstrap`). */
export interface BlockBootstrapRequest {
  seed: number;
  resamples: number;
  reference: string;
}

/**
 * A block's Poisson-bootstrap sums, per endpoint and non-reference arm: `w[b]` = Σ_i w_bi over the block's
 * patients with both values finite (integers) and `wd[b]` = Σ_i w_bi·d_i summed in patient order — exactly
 * the partial sums `StreamingTrialAggregator.push` forms for a block. Computed where the block runs (the
 * worker draws the B weights of each patient), so the coordinator only adds B numbers per comparison.
 */
export interface BlockBootstrap extends BlockBootstrapRequest {
  sums: Record<string, Record<string, { w: number[]; wd: number[] }>>;
}

/** The weights of patient `position`: draws b = 0…B−1 of the stream `deriveSeed(seed, 'poisson-bootstrap', position)`. */
export function poissonWeights(seed: number, position: number, out: Int32Array): Int32Array {
  const rng = Rng.fromSeed(deriveSeed(seed, 'poisson-bootstrap', position));
  for (let b = 0; b < out.length; b++) out[b] = poissonOne(rng);
  return out;
}

/**
 * The bootstrap sums of one block (`BlockBootstrap`), for `endpoints` × the arms other than the reference.
 * The one implementation both the worker (trial-blocks.ts) and the coordinator (when a block arrives
 * without them: stored blocks on resume, blocks of older configs) run, so the two give the same bits.
 */
export function blockBootstrapSums(request: BlockBootstrapRequest, endpoints: readonly string[], arms: readonly string[], block: Pick<TrialBlockResult, 'from' | 'to' | 'values'>): BlockBootstrap {
  const B = request.resamples;
  const sums: BlockBootstrap['sums'] = {};
  const acc: Array<{ e: string; arm: string; w: Float64Array; wd: Float64Array }> = [];
  for (const e of endpoints) {
    sums[e] = {};
    for (const arm of arms) if (arm !== request.reference) acc.push({ e, arm, w: new Float64Array(B), wd: new Float64Array(B) });
  }
  const weights = new Int32Array(B);
  for (let i = 0; i < block.to - block.from; i++) {
    const w = poissonWeights(request.seed, block.from + i, weights);
    for (const a of acc) {
      const byArm = block.values[a.e];
      const ref = byArm?.[request.reference]?.[i];
      const y = byArm?.[a.arm]?.[i];
      if (typeof ref !== 'number' || typeof y !== 'number' || !Number.isFinite(ref) || !Number.isFinite(y)) continue;
      const d = y - ref;
      for (let b = 0; b < B; b++) {
        const wb = w[b] as number;
        if (wb === 0) continue;
        a.w[b] = (a.w[b] as number) + wb;
        a.wd[b] = (a.wd[b] as number) + wb * d;
      }
    }
  }
  for (const a of acc) (sums[a.e] as Record<string, { w: number[]; wd: number[] }>)[a.arm] = { w: Array.from(a.w), wd: Array.from(a.wd) };
  return { ...request, sums };
}

class ArmAccumulator {
  readonly moments = new ExactMoments();
  readonly sketch = new LogSketch();
  missing = 0;
}

class ComparisonAccumulator {
  readonly moments = new ExactMoments();
  readonly sketch = new LogSketch();
  /** McNemar's discordant counts: b = (reference 1, arm 0), c = (reference 0, arm 1). */
  b = 0;
  c = 0;
  binaryOnly = true;
  /** Σ_i w_bi (integers: exact in doubles) and Σ_i w_bi·d_i (exact across blocks). */
  readonly sumW: Float64Array;
  readonly sumWD: ExactSum[];
  constructor(resamples: number) {
    this.sumW = new Float64Array(resamples);
    this.sumWD = Array.from({ length: resamples }, () => new ExactSum());
  }
}

export class StreamingTrialAggregator {
  readonly resamples: number;
  readonly level: number;
  readonly reference: string;
  private readonly arms: readonly string[];
  private readonly replicates: number;
  private readonly armAcc = new Map<string, ArmAccumulator>();
  private readonly compAcc = new Map<string, ComparisonAccumulator>();
  private readonly weights: Int32Array;
  private blocks = 0;
  private patientsSeen = 0;

  constructor(private readonly options: StreamingTrialOptions) {
    this.arms = options.arms;
    this.replicates = options.replicates ?? 1;
    this.resamples = options.resamples ?? 1_000;
    this.level = options.level ?? 0.95;
    if (!Number.isInteger(this.resamples) || this.resamples < 2) throw new TwinlabError('INVALID_ARGUMENT', `resamples must be an integer ≥ 2, got ${describeValue(this.resamples)}`);
    this.reference = options.reference ?? (options.arms[0] as string);
    if (!options.arms.includes(this.reference)) throw new TwinlabError('INVALID_ARGUMENT', `reference arm "${this.reference}" is not one of the arms ${options.arms.join(', ')}`);
    this.weights = new Int32Array(this.resamples);
    for (const e of options.endpoints) {
      for (const arm of this.arms) {
        this.armAcc.set(`${e.id}\0${arm}`, new ArmAccumulator());
        if (arm !== this.reference) this.compAcc.set(`${e.id}\0${arm}`, new ComparisonAccumulator(this.resamples));
      }
    }
  }

  /** The B Poisson(1) weights of the patient at enrolment position `patient` (the same whenever asked). */
  weightsOf(patient: number): Int32Array {
    return poissonWeights(this.options.seed, patient, this.weights);
  }

  /** The block's own bootstrap sums when they were made for this analysis (seed, B, reference, every comparison), else undefined. */
  private usableBootstrap(block: TrialBlockResult): BlockBootstrap | undefined {
    const bs = block.bootstrap;
    if (!bs || bs.seed !== this.options.seed || bs.resamples !== this.resamples || bs.reference !== this.reference) return undefined;
    for (const e of this.options.endpoints) {
      for (const arm of this.arms) {
        if (arm === this.reference) continue;
        const s = bs.sums[e.id]?.[arm];
        if (!s || s.w.length !== this.resamples || s.wd.length !== this.resamples) return undefined;
      }
    }
    return bs;
  }

  /**
   * Adds one block's patients (a whole block at a time: its bootstrap sums run in patient order). The
   * Poisson-bootstrap sums come with the block when its worker drew them (`TrialBlockResult.bootstrap`,
   * `blockBootstrapSums`); otherwise (a stored block fed on resume, a block of an older config) they are
   * computed here by the same function — the same numbers either way.
   */
  push(block: TrialBlockResult): void {
    const n = block.to - block.from;
    const B = this.resamples;
    const bootstrap =
      this.usableBootstrap(block) ??
      blockBootstrapSums(
        { seed: this.options.seed, resamples: B, reference: this.reference },
        this.options.endpoints.map((e) => e.id),
        this.arms,
        block,
      );
    for (let i = 0; i < n; i++) {
      for (const e of this.options.endpoints) {
        const byArm = block.values[e.id];
        if (byArm === undefined) throw new TwinlabError('INVALID_ARGUMENT', `block ${block.from}–${block.to} has no values of endpoint ${e.id}`);
        const value = (arm: string): number => {
          const v = byArm[arm]?.[i];
          return typeof v === 'number' && Number.isFinite(v) ? v : Number.NaN;
        };
        const ref = value(this.reference);
        for (const arm of this.arms) {
          const y = value(arm);
          const acc = this.armAcc.get(`${e.id}\0${arm}`) as ArmAccumulator;
          if (Number.isFinite(y)) {
            acc.moments.push(y);
            acc.sketch.push(y);
          } else acc.missing++;
          if (arm === this.reference || !Number.isFinite(y) || !Number.isFinite(ref)) continue;
          const key = `${e.id}\0${arm}`;
          const comp = this.compAcc.get(key) as ComparisonAccumulator;
          const d = y - ref;
          comp.moments.push(d);
          comp.sketch.push(d);
          if ((ref === 0 || ref === 1) && (y === 0 || y === 1)) {
            if (ref === 1 && y === 0) comp.b++;
            if (ref === 0 && y === 1) comp.c++;
          } else comp.binaryOnly = false;
        }
      }
    }
    for (const e of this.options.endpoints) {
      for (const arm of this.arms) {
        if (arm === this.reference) continue;
        const comp = this.compAcc.get(`${e.id}\0${arm}`) as ComparisonAccumulator;
        const { w, wd } = (bootstrap.sums[e.id] as Record<string, { w: number[]; wd: number[] }>)[arm] as { w: number[]; wd: number[] };
        // Σ w are integers (exact in any order); each block's Σ w·d is added exactly.
        for (let b = 0; b < B; b++) {
          comp.sumW[b] = (comp.sumW[b] as number) + (w[b] as number);
          if ((wd[b] as number) !== 0) (comp.sumWD[b] as ExactSum).add(wd[b] as number);
        }
      }
    }
    this.blocks++;
    this.patientsSeen += n;
  }

  /** The bootstrap replicate means of one comparison, sorted (replicates that drew nobody skipped). */
  private replicateMeans(comp: ComparisonAccumulator): number[] {
    const out: number[] = [];
    for (let b = 0; b < this.resamples; b++) {
      const w = comp.sumW[b] as number;
      if (w > 0) out.push((comp.sumWD[b] as ExactSum).value() / w);
    }
    return out.sort((a, b) => a - b);
  }

  result(): StreamingTrialAnalysis {
    const { endpoints } = this.options;
    const level = this.level;
    const primaryIds = new Set(this.options.primary ?? []);
    for (const e of endpoints) if (e.primary) primaryIds.add(e.id);
    const analyses = endpoints.map((endpoint): EndpointAnalysis => {
      const binary = endpoint.kind === 'binary';
      const better = endpoint.better ?? 'none';
      const arms = this.arms.map((arm): ArmEndpointSummary => {
        const acc = this.armAcc.get(`${endpoint.id}\0${arm}`) as ArmAccumulator;
        const m = acc.moments;
        const [q1, median, q3] = acc.sketch.quantiles([0.25, 0.5, 0.75]) as [number, number, number];
        const sd = m.sd;
        const out: ArmEndpointSummary = {
          arm,
          n: m.n,
          mean: m.mean,
          sd: Number.isFinite(sd) ? sd : null,
          median,
          q1,
          q3,
          iqr: q3 - q1,
          min: m.n > 0 ? m.min : Number.NaN,
          max: m.n > 0 ? m.max : Number.NaN,
          missing: acc.missing,
        };
        if (binary) out.proportion = m.mean;
        return out;
      });
      const declared = declaredOf(endpoint, level);
      const comparisons = this.arms
        .filter((arm) => arm !== this.reference)
        .map((arm) => this.compare(arm, this.compAcc.get(`${endpoint.id}\0${arm}`) as ComparisonAccumulator, { binary, better, declared }));
      return {
        id: endpoint.id,
        label: endpoint.label ?? endpoint.id,
        unit: endpoint.unit ?? '',
        kind: endpoint.kind,
        better,
        safety: endpoint.safety === true,
        primary: primaryIds.has(endpoint.id),
        hypothesis: declared.type,
        margin: declared.margin,
        arms,
        comparisons,
      };
    });
    const primaryOrder = [...primaryIds];
    const group = (e: EndpointAnalysis): number => (e.safety ? 0 : e.primary ? 1 : 2);
    const ordered = analyses
      .map((e, i) => ({ e, i }))
      .sort((a, b) => group(a.e) - group(b.e) || (group(a.e) === 1 ? primaryOrder.indexOf(a.e.id) - primaryOrder.indexOf(b.e.id) : 0) || a.i - b.i)
      .map(({ e }) => e);
    const trial: TrialAnalysis = {
      version: 1,
      arms: [...this.arms],
      reference: this.reference,
      patients: this.options.patients,
      replicates: this.replicates,
      seed: this.options.seed,
      level,
      resamples: this.resamples,
      endpoints: ordered,
    };
    // Superiority verdicts (the favours rule) and Holm's adjustment: the exact analysis's own functions.
    return {
      ...withVerdicts(trial),
      aggregation: {
        mode: 'streaming',
        bootstrap: 'poisson',
        resamples: this.resamples,
        sketchRelativeAccuracy: SKETCH_RELATIVE_ACCURACY,
        blockSize: this.options.blockSize ?? null,
        blocks: this.blocks,
        patientsSeen: this.patientsSeen,
      },
    };
  }

  private compare(arm: string, comp: ComparisonAccumulator, o: { binary: boolean; better: 'higher' | 'lower' | 'none'; declared: Declared }): PairedComparison {
    const reference = this.reference;
    const n = comp.moments.n;
    const level = this.level;
    const rank = comp.sketch.signedRank();
    const wilcoxonTest = (): PairedComparison['test'] => {
      if (rank.n <= 25) {
        // Small samples: the exact test on the bucket values (ties as the buckets make them).
        const values: number[] = [];
        for (const r of rank.ranks) {
          for (let k = 0; k < r.positive; k++) values.push(r.value);
          for (let k = 0; k < r.negative; k++) values.push(-r.value);
        }
        const w = wilcoxonSignedRank(values);
        return { name: 'wilcoxon-signed-rank', statistic: w.statistic, wMinus: w.wMinus, n: w.n, zeros: rank.zeros, z: w.z, pValue: w.pValue, method: w.method };
      }
      const p = twoSidedNormalP(rank.z);
      return { name: 'wilcoxon-signed-rank', statistic: rank.wPlus, wMinus: rank.wMinus, n: rank.n, zeros: rank.zeros, z: rank.z, pValue: p, method: 'normal' };
    };
    const useMcNemar = o.binary && this.replicates === 1 && comp.binaryOnly;
    const effectSizes: PairedComparison['effectSizes'] = {};
    let test: PairedComparison['test'];
    if (useMcNemar) {
      const m = mcnemar(comp.b, comp.c);
      test = { name: 'mcnemar', b: m.b, c: m.c, statistic: Number.isFinite(m.statistic) ? m.statistic : null, pValue: m.pValue, method: m.method };
      effectSizes.riskDifference = n > 0 ? comp.moments.mean : Number.NaN;
    } else {
      test = wilcoxonTest();
      if (o.binary) effectSizes.riskDifference = n > 0 ? comp.moments.mean : Number.NaN;
      else {
        const dz = comp.moments.mean / comp.moments.sd;
        effectSizes.cohensDz = Number.isFinite(dz) ? dz : null;
        effectSizes.rankBiserial = rank.wPlus + rank.wMinus > 0 ? (rank.wPlus - rank.wMinus) / (rank.wPlus + rank.wMinus) : 0;
      }
    }
    const stream = `poisson-bootstrap/${this.options.seed}`;
    if (n === 0) {
      const verdict = favoursVerdict({ arm, reference, ci: null, pValue: null }, o.better, level);
      return { arm, reference, nPairs: 0, meanDifference: null, medianDifference: null, ci: null, test, effectSizes, ...verdict, hypothesis: this.hypothesis(comp, o.declared, o.better, null, useMcNemar) };
    }
    const means = this.replicateMeans(comp);
    const ci = { lower: quantileSorted(means, (1 - level) / 2), upper: quantileSorted(means, 1 - (1 - level) / 2), level, resamples: this.resamples, method: 'percentile-bootstrap' as const, stream };
    const verdict = favoursVerdict({ arm, reference, ci, pValue: test.pValue }, o.better, level);
    return {
      arm,
      reference,
      nPairs: n,
      meanDifference: comp.moments.mean,
      medianDifference: comp.sketch.quantiles([0.5])[0] as number,
      ci,
      test,
      effectSizes,
      ...verdict,
      hypothesis: this.hypothesis(comp, o.declared, o.better, means, useMcNemar),
    };
  }

  /** Non-inferiority / equivalence from the moments (paired t) or b, c (Agresti–Min); superiority is left to `withVerdicts`. */
  private hypothesis(comp: ComparisonAccumulator, declared: Declared, better: 'higher' | 'lower' | 'none', means: number[] | null, binary: boolean): HypothesisResult | undefined {
    const { type, margin, alpha } = declared;
    if (type === 'superiority') return undefined;
    const delta = margin as number;
    const n = comp.moments.n;
    const base = { type, margin: delta, alpha, pAdjusted: null };
    const notShown = type === 'equivalence' ? 'not shown equivalent' : 'not shown non-inferior';
    if (n < 2 || means === null) return { ...base, bound: null, bootstrapBound: null, pValue: null, verdict: notShown, met: false, metAdjusted: false, note: `${notShown}: fewer than 2 paired values` };
    const bs = { lower: quantileSorted(means, alpha), upper: quantileSorted(means, 1 - alpha) };
    const higher = better === 'higher';
    if (binary) {
      const r = pairedBinaryBound(comp.b, comp.c, n, delta, { alpha, better: type === 'equivalence' ? 'none' : (better as 'higher' | 'lower') });
      const bound = type === 'equivalence' ? null : higher ? r.lower : r.upper;
      const verdict = r.shown ? (type === 'equivalence' ? 'equivalent' : 'non-inferior') : notShown;
      return {
        ...base,
        bound:
          type === 'equivalence'
            ? { lower: r.lower, upper: r.upper, level: 1 - 2 * alpha, method: 'agresti-min', t: r.z, df: null }
            : { lower: higher ? r.lower : null, upper: higher ? null : r.upper, level: 1 - alpha, method: 'agresti-min', t: r.z, df: null },
        bootstrapBound: type === 'equivalence' ? bs : { lower: higher ? bs.lower : null, upper: higher ? null : bs.upper },
        pValue: r.pValue,
        verdict,
        met: r.shown,
        metAdjusted: r.shown,
        note: `${verdict}: ${type === 'equivalence' ? `CI of the risk difference [${num(r.lower)}, ${num(r.upper)}]` : `bound ${num(bound as number)}`} (Agresti–Min, b = ${comp.b}, c = ${comp.c}), ${pText(r.pValue)}`,
      };
    }
    const mean = comp.moments.mean;
    const se = comp.moments.sd / Math.sqrt(n);
    const df = n - 1;
    const q = studentTQuantile(1 - alpha, df);
    const upperTail = (numerator: number): number => (se === 0 ? (numerator > 0 ? 0 : 1) : 1 - studentTCdf(numerator / se, df));
    if (type === 'non-inferiority') {
      const sign = higher ? 1 : -1;
      const m = sign * mean;
      const bound = sign * (m - q * se);
      const pValue = upperTail(m + delta);
      const shown = sign * bound > -delta;
      const verdict = shown ? 'non-inferior' : 'not shown non-inferior';
      const t = sign * (se === 0 ? (m + delta > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY) : (m + delta) / se);
      return {
        ...base,
        bound: { lower: higher ? bound : null, upper: higher ? null : bound, level: 1 - alpha, method: 'paired-t', t, df },
        bootstrapBound: { lower: higher ? bs.lower : null, upper: higher ? null : bs.upper },
        pValue,
        verdict,
        met: shown,
        metAdjusted: shown,
        note: `${verdict}: one-sided ${pct(1 - alpha)} ${higher ? 'lower' : 'upper'} bound ${num(bound)} vs ${higher ? '−Δ' : 'Δ'} = ${num(higher ? -delta : delta)} (paired t), ${pText(pValue)}`,
      };
    }
    const lower = mean - q * se;
    const upper = mean + q * se;
    const pValue = Math.max(upperTail(mean + delta), upperTail(delta - mean));
    const shown = lower > -delta && upper < delta;
    const verdict = shown ? 'equivalent' : 'not shown equivalent';
    return {
      ...base,
      bound: { lower, upper, level: 1 - 2 * alpha, method: 'paired-t', t: se > 0 ? Math.min(mean + delta, delta - mean) / se : Number.NaN, df },
      bootstrapBound: bs,
      pValue,
      verdict,
      met: shown,
      metAdjusted: shown,
      note: `${verdict}: ${pct(1 - 2 * alpha)} CI [${num(lower)}, ${num(upper)}] ${shown ? 'inside' : 'not inside'} (−Δ, Δ) = (${num(-delta)}, ${num(delta)}) (TOST, paired t), ${pText(pValue)}`,
    };
  }
}

interface Declared {
  type: 'superiority' | 'non-inferiority' | 'equivalence';
  margin: number | null;
  alpha: number;
}

function declaredOf(endpoint: TrialEndpointMeta, level: number): Declared {
  const type = endpoint.hypothesis ?? 'superiority';
  if (type === 'superiority') return { type, margin: null, alpha: oneSidedAlpha(level) };
  if (endpoint.margin === undefined || !(endpoint.margin > 0)) {
    throw new TwinlabError('INVALID_ARGUMENT', `endpoint ${endpoint.id}: a ${type} hypothesis needs a margin > 0, got ${describeValue(endpoint.margin)}`);
  }
  return { type, margin: endpoint.margin, alpha: endpoint.alpha ?? oneSidedAlpha(level) };
}

const num = (x: number): string => (Number.isFinite(x) ? Number(x.toPrecision(4)).toString() : String(x));
const pct = (x: number): string => `${Number((x * 100).toFixed(1))}%`;
const pText = (p: number | null): string => (p === null ? 'p n/a' : p < 0.001 ? 'p < 0.001' : `p = ${p.toFixed(3)}`);
