import { describeValue, TwinlabError } from '../engine/errors.js';
import type { Rng } from '../engine/random.js';
import { erfc, normalCdf, quantileSorted } from '../engine/distributions.js';

export { erfc, normalCdf, quantileSorted };

/**
 * Statistics of virtual clinical trials: descriptive summaries, the percentile bootstrap, the
 * Wilcoxon signed-rank test, McNemar's test and paired effect sizes. Pure functions; every random
 * draw comes from the `Rng` the caller passes (a named substream), so results are reproducible.
 */

type Values = Float64Array | readonly number[];

function toArray(values: Values, name: string): Float64Array {
  const out = Float64Array.from(values as ArrayLike<number>);
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i] as number)) throw new TwinlabError('INVALID_ARGUMENT', `${name}[${i}] must be a finite number, got ${describeValue(out[i])}`);
  }
  return out;
}

export interface Summary {
  n: number;
  mean: number;
  /** Sample standard deviation (denominator n − 1); NaN for n < 2. */
  sd: number;
  median: number;
  q1: number;
  q3: number;
  iqr: number;
  min: number;
  max: number;
}

/**
 * Descriptive summary: mean, sample sd √(Σ(x−x̄)²/(n−1)), median, quartiles (type-7 quantiles, see
 * `quantileSorted`), IQR = Q3 − Q1, min, max, n. All NaN (n = 0) for an empty sample.
 */
export function summarize(values: Values): Summary {
  const x = toArray(values, 'values');
  const n = x.length;
  if (n === 0)
    return { n: 0, mean: Number.NaN, sd: Number.NaN, median: Number.NaN, q1: Number.NaN, q3: Number.NaN, iqr: Number.NaN, min: Number.NaN, max: Number.NaN };
  const sorted = x.slice().sort();
  const mean = meanOf(x);
  let ss = 0;
  for (let i = 0; i < n; i++) ss += ((x[i] as number) - mean) ** 2;
  const q1 = quantileSorted(sorted, 0.25);
  const q3 = quantileSorted(sorted, 0.75);
  return {
    n,
    mean,
    sd: n > 1 ? Math.sqrt(ss / (n - 1)) : Number.NaN,
    median: quantileSorted(sorted, 0.5),
    q1,
    q3,
    iqr: q3 - q1,
    min: sorted[0] as number,
    max: sorted[n - 1] as number,
  };
}

function meanOf(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] as number;
  return s / x.length;
}

export interface ConfidenceInterval {
  estimate: number;
  lower: number;
  upper: number;
  level: number;
  resamples: number;
}

/**
 * Percentile bootstrap confidence interval of the mean (Efron & Tibshirani 1993, *An Introduction to
 * the Bootstrap*, ch. 13). B resamples of size n are drawn with replacement (here: patients), the mean
 * x̄*_b of each is computed, and the interval is the (α/2, 1−α/2) type-7 quantiles of {x̄*_b},
 * α = 1 − level. The estimate is the sample mean. Index draws use ⌊u·n⌋ with u from `rng`.
 */
export function bootstrapMeanCI(values: Values, rng: Rng, options: { resamples?: number; level?: number } = {}): ConfidenceInterval {
  const x = toArray(values, 'values');
  const resamples = options.resamples ?? 10_000;
  const level = options.level ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 1)
    throw new TwinlabError('INVALID_ARGUMENT', `resamples must be an integer ≥ 1, got ${describeValue(resamples)}`);
  if (!(level > 0 && level < 1)) throw new TwinlabError('INVALID_ARGUMENT', `level must be in (0, 1), got ${describeValue(level)}`);
  const n = x.length;
  if (n === 0) throw new TwinlabError('INVALID_ARGUMENT', 'bootstrapMeanCI needs at least one value, got an empty sample');
  const means = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += x[Math.floor(rng.next() * n)] as number;
    means[b] = s / n;
  }
  means.sort();
  const alpha = 1 - level;
  return { estimate: meanOf(x), lower: quantileSorted(means, alpha / 2), upper: quantileSorted(means, 1 - alpha / 2), level, resamples };
}

/** Two-sided normal p-value 2·(1 − Φ(|z|)) = erfc(|z|/√2), accurate in the far tail. */
export function twoSidedNormalP(z: number): number {
  return Math.min(1, erfc(Math.abs(z) / Math.SQRT2));
}

/**
 * Ranks of `values` (1-based), ties receiving the mean of the ranks they span (mid-ranks).
 * Also returns the tie-group sizes t_j.
 */
export function midRanks(values: ArrayLike<number>): { ranks: Float64Array; ties: number[] } {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (values[a] as number) - (values[b] as number) || a - b);
  const ranks = new Float64Array(n);
  const ties: number[] = [];
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && values[order[j + 1] as number] === values[order[i] as number]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k] as number] = rank;
    if (j > i) ties.push(j - i + 1);
    i = j + 1;
  }
  return { ranks, ties };
}

export const WILCOXON_EXACT_MAX_N = 25;

export interface WilcoxonResult {
  /** W⁺: sum of the ranks of the positive differences. */
  statistic: number;
  /** W⁻: sum of the ranks of the negative differences. */
  wMinus: number;
  /** Number of non-zero differences (the effective sample size). */
  n: number;
  zeros: number;
  /** Normal-approximation z of W⁺ (tie- and continuity-corrected); reported in both methods. */
  z: number;
  pValue: number;
  method: 'exact' | 'normal';
  zeroMethod: 'wilcox' | 'pratt';
  /** Rank-biserial correlation r = (W⁺ − W⁻)/(W⁺ + W⁻) ∈ [−1, 1] (Kerby 2014). */
  rankBiserial: number;
}

/**
 * Wilcoxon signed-rank test of H₀: the paired differences are symmetric about 0 (Wilcoxon 1945).
 *
 * Ranks r_i of |d_i| (mid-ranks for ties); W⁺ = Σ_{d_i>0} r_i, W⁻ = Σ_{d_i<0} r_i.
 * Zeros: `'wilcox'` (default, Wilcoxon's convention) drops zero differences before ranking;
 * `'pratt'` (Pratt 1959) ranks them with the rest and then discards their ranks.
 * p-value, two-sided:
 * - exact for n ≤ 25 non-zero differences: under H₀ each sign is ± with probability ½ independently,
 *   so W⁺ is distributed as Σ r_i·B_i, B_i ~ Bernoulli(½). Its distribution is enumerated by dynamic
 *   programming over the doubled ranks (integers even with mid-ranks, so the exact conditional
 *   distribution also holds with ties); p = min(1, 2·min(P(W⁺ ≤ w), P(W⁺ ≥ w)));
 * - otherwise the normal approximation: E W⁺ = Σr_i/2, Var W⁺ = Σr_i²/4 (which equals
 *   n(n+1)(2n+1)/24 − Σ(t³−t)/48 without zeros, i.e. includes the tie correction), continuity
 *   correction ½ toward the mean: z = (W⁺ − E − ½·sgn(W⁺ − E))/√Var; p = 2(1 − Φ(|z|)).
 * All differences zero → n = 0, p = 1. References: Hollander, Wolfe & Chicken (2014) *Nonparametric
 * Statistical Methods* §3.1; the exact p matches R `wilcox.test(exact = TRUE)` / scipy.
 */
export function wilcoxonSignedRank(differences: Values, options: { zeroMethod?: 'wilcox' | 'pratt'; exactMaxN?: number } = {}): WilcoxonResult {
  const d = toArray(differences, 'differences');
  const zeroMethod = options.zeroMethod ?? 'wilcox';
  const exactMaxN = options.exactMaxN ?? WILCOXON_EXACT_MAX_N;
  let zeros = 0;
  for (let i = 0; i < d.length; i++) if (d[i] === 0) zeros++;
  const ranked = zeroMethod === 'wilcox' ? d.filter((v) => v !== 0) : d;
  const abs = ranked.map(Math.abs);
  const { ranks } = midRanks(abs);
  const nonZeroRanks: number[] = [];
  let wPlus = 0;
  let wMinus = 0;
  for (let i = 0; i < ranked.length; i++) {
    const v = ranked[i] as number;
    if (v === 0) continue;
    const r = ranks[i] as number;
    nonZeroRanks.push(r);
    if (v > 0) wPlus += r;
    else wMinus += r;
  }
  const n = nonZeroRanks.length;
  const base = { statistic: wPlus, wMinus, n, zeros, zeroMethod };
  if (n === 0) return { ...base, z: 0, pValue: 1, method: 'exact', rankBiserial: 0 };
  let sum = 0;
  let sumSq = 0;
  for (const r of nonZeroRanks) {
    sum += r;
    sumSq += r * r;
  }
  const mean = sum / 2;
  const sd = Math.sqrt(sumSq / 4);
  const dev = wPlus - mean;
  const z = Math.abs(dev) <= 0.5 ? 0 : (dev - 0.5 * Math.sign(dev)) / sd;
  const rankBiserial = (wPlus - wMinus) / (wPlus + wMinus);
  if (n <= exactMaxN) {
    return { ...base, z, pValue: exactSignedRankP(nonZeroRanks, wPlus), method: 'exact', rankBiserial };
  }
  return { ...base, z, pValue: twoSidedNormalP(z), method: 'normal', rankBiserial };
}

/** Exact two-sided p of W⁺ = w given the ranks (see `wilcoxonSignedRank`); DP over doubled ranks. */
function exactSignedRankP(ranks: readonly number[], w: number): number {
  const doubled = ranks.map((r) => Math.round(2 * r));
  const total = doubled.reduce((a, b) => a + b, 0);
  const counts = new Float64Array(total + 1); // counts[s] = #sign assignments with 2·W⁺ = s
  counts[0] = 1;
  let reach = 0;
  for (const r of doubled) {
    for (let s = reach; s >= 0; s--) if ((counts[s] as number) !== 0) counts[s + r] = (counts[s + r] as number) + (counts[s] as number);
    reach += r;
  }
  const target = Math.round(2 * w);
  let le = 0;
  let ge = 0;
  for (let s = 0; s <= total; s++) {
    if (s <= target) le += counts[s] as number;
    if (s >= target) ge += counts[s] as number;
  }
  const all = 2 ** ranks.length;
  return Math.min(1, (2 * Math.min(le, ge)) / all);
}

export interface McNemarResult {
  /** Discordant pairs: b = (reference yes, arm no), c = (reference no, arm yes) — or as the caller defines. */
  b: number;
  c: number;
  /** χ² with continuity correction (reported for both methods; NaN when b + c = 0). */
  statistic: number;
  pValue: number;
  method: 'exact' | 'chi-square';
}

export const MCNEMAR_EXACT_MAX_DISCORDANT = 25;

/**
 * McNemar's test for paired binary outcomes (McNemar 1947), using only the discordant counts b and c.
 * Under H₀ (marginal homogeneity) b ~ Binomial(b + c, ½).
 * - b + c < 25: exact binomial test, p = min(1, 2·P(X ≤ min(b, c))), X ~ Bin(b + c, ½)
 *   (the "exact McNemar" of Fagerland, Lydersen & Laake 2013, BMC Med Res Methodol 13:91);
 * - otherwise χ² with Edwards' (1948) continuity correction, χ² = (|b − c| − 1)²/(b + c) on 1 df,
 *   p = P(χ²₁ ≥ χ²) = erfc(√(χ²/2)).
 * b + c = 0 → p = 1.
 */
export function mcnemar(b: number, c: number, options: { exactMaxDiscordant?: number } = {}): McNemarResult {
  for (const [name, v] of [
    ['b', b],
    ['c', c],
  ] as const) {
    if (!Number.isInteger(v) || v < 0) throw new TwinlabError('INVALID_ARGUMENT', `mcnemar ${name} must be a count (integer ≥ 0), got ${describeValue(v)}`);
  }
  const m = b + c;
  const threshold = options.exactMaxDiscordant ?? MCNEMAR_EXACT_MAX_DISCORDANT;
  if (m === 0) return { b, c, statistic: Number.NaN, pValue: 1, method: 'exact' };
  const statistic = Math.max(0, Math.abs(b - c) - 1) ** 2 / m;
  if (m < threshold) {
    const k = Math.min(b, c);
    let tail = 0;
    let coef = 1; // C(m, 0)
    for (let i = 0; i <= k; i++) {
      tail += coef;
      coef = (coef * (m - i)) / (i + 1);
    }
    return { b, c, statistic, pValue: Math.min(1, (2 * tail) / 2 ** m), method: 'exact' };
  }
  return { b, c, statistic, pValue: Math.min(1, erfc(Math.sqrt(statistic / 2))), method: 'chi-square' };
}

/**
 * Paired Cohen's d_z = mean(d)/sd(d), sd with denominator n − 1 (Cohen 1988, §2.3; Lakens 2013,
 * Front. Psychol. 4:863, eq. 6). NaN when n < 2 or sd = 0.
 */
export function cohensDz(differences: Values): number {
  const s = summarize(differences);
  return s.n < 2 || s.sd === 0 ? Number.NaN : s.mean / s.sd;
}

/**
 * Rank-biserial correlation of the signed-rank test, r = (W⁺ − W⁻)/(W⁺ + W⁻) — the simple difference
 * formula of Kerby (2014), Compr. Psychol. 3:11.IT.3.1. 0 when all differences are zero.
 */
export function rankBiserial(differences: Values): number {
  return wilcoxonSignedRank(differences).rankBiserial;
}

/**
 * Risk difference of two paired binary samples, RD = p_arm − p_ref with p the proportion of 1s
 * (Agresti 2013, *Categorical Data Analysis* §11.1); also the discordant counts for McNemar:
 * b = #(ref = 1, arm = 0), c = #(ref = 0, arm = 1), so RD = (c − b)/n.
 */
export function pairedRiskDifference(
  reference: Values,
  arm: Values,
): { riskDifference: number; pReference: number; pArm: number; b: number; c: number; n: number } {
  const r = toArray(reference, 'reference');
  const a = toArray(arm, 'arm');
  if (r.length !== a.length) throw new TwinlabError('INVALID_ARGUMENT', `paired samples differ in length: reference ${r.length}, arm ${a.length}`);
  let b = 0;
  let c = 0;
  let sr = 0;
  let sa = 0;
  for (let i = 0; i < r.length; i++) {
    const x = r[i] as number;
    const y = a[i] as number;
    if ((x !== 0 && x !== 1) || (y !== 0 && y !== 1)) {
      throw new TwinlabError('INVALID_ARGUMENT', `binary endpoint values must be 0 or 1, got reference ${x}, arm ${y} at pair ${i}`);
    }
    sr += x;
    sa += y;
    if (x === 1 && y === 0) b++;
    if (x === 0 && y === 1) c++;
  }
  const n = r.length;
  return { riskDifference: n === 0 ? Number.NaN : (sa - sr) / n, pReference: sr / n, pArm: sa / n, b, c, n };
}

// ---------------------------------------------------------------- Student t, one-sided bounds, TOST, Holm, Wilson

/** ln Γ(x) for x > 0, Lanczos approximation (g = 7, 9 terms; Numerical Recipes 3rd ed. §6.1), |rel. error| < 1e−14. */
export function lnGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
    9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x); // reflection
  const z = x - 1;
  let a = c[0] as number;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += (c[i] as number) / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * Regularized incomplete beta I_x(a, b) by its continued fraction, evaluated with the modified Lentz
 * method (Numerical Recipes 3rd ed. §6.4; the symmetry I_x(a,b) = 1 − I_{1−x}(b,a) keeps x below the
 * fraction's convergence switch point (a+1)/(a+b+2)).
 */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  if (x > (a + 1) / (a + b + 2)) return 1 - incompleteBeta(1 - x, b, a);
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return (front * h) / a;
}

/** Student t CDF with ν degrees of freedom: P(T ≤ t) = 1 − ½·I_{ν/(ν+t²)}(ν/2, ½) for t ≥ 0, by symmetry below 0. */
export function studentTCdf(t: number, df: number): number {
  if (!(df > 0)) throw new TwinlabError('INVALID_ARGUMENT', `degrees of freedom must be > 0, got ${describeValue(df)}`);
  if (t === Number.POSITIVE_INFINITY) return 1;
  if (t === Number.NEGATIVE_INFINITY) return 0;
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** Student t quantile: the t with P(T ≤ t) = p, by bisection on `studentTCdf` (to ≈ 1e−12). */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new TwinlabError('INVALID_ARGUMENT', `probability must be in (0, 1), got ${describeValue(p)}`);
  if (p === 0.5) return 0;
  let lo = -1;
  let hi = 1;
  while (studentTCdf(lo, df) > p) lo *= 2;
  while (studentTCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-13 * Math.max(1, Math.abs(lo)); i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export interface PairedTSummary {
  n: number;
  mean: number;
  /** Standard error s/√n of the mean difference (s with denominator n − 1). */
  se: number;
  df: number;
}

function pairedT(differences: Values): PairedTSummary {
  const s = summarize(differences);
  return { n: s.n, mean: s.mean, se: s.n > 1 ? s.sd / Math.sqrt(s.n) : Number.NaN, df: s.n - 1 };
}

/** P(T_df ≥ t) with the degenerate se = 0 case (t = ±∞ or 0/0) decided by the sign of the numerator. */
function upperTail(numerator: number, se: number, df: number): number {
  if (se === 0) return numerator > 0 ? 0 : 1;
  return 1 - studentTCdf(numerator / se, df);
}

export interface NonInferiorityResult extends PairedTSummary {
  margin: number;
  alpha: number;
  better: 'higher' | 'lower';
  /** The one-sided (1 − α) confidence bound of the mean difference on the worse side: lower when higher is better, upper when lower is better. */
  bound: number;
  /** t statistic of H₀: (d̄ + Δ)/se for H₀ δ ≤ −Δ (higher better), (d̄ − Δ)/se for H₀ δ ≥ Δ (lower better). */
  t: number;
  /** One-sided p of that H₀. */
  pValue: number;
  nonInferior: boolean;
}

/**
 * Non-inferiority of an arm on paired differences d = arm − reference, by the one-sided paired t-test
 * (e.g. Julious 2004, Stat Med 23:1921; EMA CPMP/EWP/482/99, 2000). Margin Δ > 0 in the endpoint's units.
 * Higher better: H₀ δ ≤ −Δ vs H₁ δ > −Δ; bound L = d̄ − t_{1−α, n−1}·s/√n; non-inferior ⇔ L > −Δ
 * ⇔ p = P(T ≥ (d̄ + Δ)/(s/√n)) < α. Lower better: mirrored (U = d̄ + t·s/√n < Δ). The usual α = 0.025
 * makes L the lower limit of the two-sided 95 % CI.
 */
export function pairedNonInferiority(differences: Values, margin: number, options: { alpha?: number; better?: 'higher' | 'lower' } = {}): NonInferiorityResult {
  const alpha = options.alpha ?? 0.025;
  const better = options.better ?? 'higher';
  checkMarginAlpha(margin, alpha);
  const s = pairedT(differences);
  if (s.n < 2) throw new TwinlabError('INVALID_ARGUMENT', `a paired t bound needs at least 2 differences, got ${s.n}`);
  const q = studentTQuantile(1 - alpha, s.df);
  const sign = better === 'higher' ? 1 : -1;
  // Mirror a lower-better endpoint onto higher-better: d → −d.
  const m = sign * s.mean;
  const bound = sign * (m - q * s.se);
  // Reported in the endpoint's own orientation: (d̄ + Δ)/se when higher is better, (d̄ − Δ)/se when lower is.
  const t = sign * (s.se === 0 ? (m + margin > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY) : (m + margin) / s.se);
  const pValue = upperTail(m + margin, s.se, s.df);
  return { ...s, margin, alpha, better, bound, t, pValue, nonInferior: sign * bound > -margin };
}

export interface EquivalenceResult extends PairedTSummary {
  margin: number;
  alpha: number;
  /** The (1 − 2α) two-sided CI of the mean difference. */
  lower: number;
  upper: number;
  /** One-sided p of H₀ δ ≤ −Δ and of H₀ δ ≥ Δ; the TOST p is their maximum. */
  pLower: number;
  pUpper: number;
  pValue: number;
  equivalent: boolean;
}

/**
 * Equivalence by two one-sided tests (TOST; Schuirmann 1987, J Pharmacokinet Biopharm 15:657) on paired
 * differences: reject both H₀ δ ≤ −Δ and H₀ δ ≥ Δ at level α, i.e. p = max(p_lower, p_upper) < α, which
 * is the same as the (1 − 2α) CI d̄ ± t_{1−α, n−1}·s/√n lying inside (−Δ, Δ).
 */
export function pairedEquivalence(differences: Values, margin: number, options: { alpha?: number } = {}): EquivalenceResult {
  const alpha = options.alpha ?? 0.025;
  checkMarginAlpha(margin, alpha);
  const s = pairedT(differences);
  if (s.n < 2) throw new TwinlabError('INVALID_ARGUMENT', `a paired t bound needs at least 2 differences, got ${s.n}`);
  const q = studentTQuantile(1 - alpha, s.df);
  const lower = s.mean - q * s.se;
  const upper = s.mean + q * s.se;
  const pLower = upperTail(s.mean + margin, s.se, s.df);
  const pUpper = upperTail(margin - s.mean, s.se, s.df);
  return { ...s, margin, alpha, lower, upper, pLower, pUpper, pValue: Math.max(pLower, pUpper), equivalent: lower > -margin && upper < margin };
}

function checkMarginAlpha(margin: number, alpha: number): void {
  if (!(Number.isFinite(margin) && margin > 0)) throw new TwinlabError('INVALID_ARGUMENT', `margin must be a number > 0, got ${describeValue(margin)}`);
  if (!(alpha > 0 && alpha < 0.5)) throw new TwinlabError('INVALID_ARGUMENT', `alpha must be in (0, 0.5), got ${describeValue(alpha)}`);
}

/**
 * Holm's (1979) step-down adjusted p-values: with p_(1) ≤ … ≤ p_(m), p̃_(i) = max_{j ≤ i} min(1, (m − j + 1)·p_(j)),
 * returned in the input order. Rejecting p̃ < α controls the family-wise error rate at α (Holm, Scand J Stat 6:65).
 * Same as R's p.adjust(p, "holm"). Ties keep input order (which does not change the values).
 */
export function holmAdjust(pValues: readonly number[]): number[] {
  const m = pValues.length;
  pValues.forEach((p, i) => {
    if (!(p >= 0 && p <= 1)) throw new TwinlabError('INVALID_ARGUMENT', `pValues[${i}] must be in [0, 1], got ${describeValue(p)}`);
  });
  const order = pValues.map((p, i) => ({ p, i })).sort((a, b) => a.p - b.p || a.i - b.i);
  const adjusted = new Array<number>(m);
  let running = 0;
  order.forEach(({ p, i }, k) => {
    running = Math.max(running, Math.min(1, (m - k) * p));
    adjusted[i] = running;
  });
  return adjusted;
}

/**
 * Wilson (1927, JASA 22:209) score interval for a binomial proportion x/n at the given level:
 * (p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n), z the normal (1 + level)/2 quantile.
 * Unlike the Wald interval it stays inside [0, 1] and is sensible at x = 0 or x = n.
 */
export function wilsonInterval(successes: number, trials: number, level = 0.95): { estimate: number; lower: number; upper: number; level: number } {
  if (!Number.isInteger(trials) || trials < 1) throw new TwinlabError('INVALID_ARGUMENT', `trials must be an integer ≥ 1, got ${describeValue(trials)}`);
  if (!Number.isInteger(successes) || successes < 0 || successes > trials)
    throw new TwinlabError('INVALID_ARGUMENT', `successes must be an integer in 0…${trials}, got ${describeValue(successes)}`);
  const z = normalQuantile((1 + level) / 2);
  const p = successes / trials;
  const z2n = (z * z) / trials;
  const centre = (p + z2n / 2) / (1 + z2n);
  const half = (z * Math.sqrt((p * (1 - p)) / trials + (z * z) / (4 * trials * trials))) / (1 + z2n);
  return { estimate: p, lower: Math.max(0, centre - half), upper: Math.min(1, centre + half), level };
}

/** Standard normal quantile by bisection on `normalCdf` (to ≈ 1e−12; only used for interval widths). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new TwinlabError('INVALID_ARGUMENT', `probability must be in (0, 1), got ${describeValue(p)}`);
  let lo = -40;
  let hi = 40;
  for (let i = 0; i < 200 && hi - lo > 1e-13; i++) {
    const mid = (lo + hi) / 2;
    if (normalCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export interface PairedBinaryBoundResult {
  n: number;
  /** Discordant pairs: b = (reference 1, arm 0), c = (reference 0, arm 1). */
  b: number;
  c: number;
  /** Adjusted difference θ* = (c* − b*)/n* with ½ added to each cell (n* = n + 2). */
  estimate: number;
  se: number;
  margin: number;
  alpha: number;
  /** Non-inferiority: the one-sided bound on the worse side; equivalence: the (1 − 2α) interval. */
  lower: number;
  upper: number;
  z: number;
  pValue: number;
  shown: boolean;
}

/**
 * Non-inferiority (`better` given) or equivalence (`better: 'none'`) of a paired risk difference from
 * the discordant counts, by the Wald interval after adding ½ to each of the four cells of the paired
 * 2×2 table (Agresti & Min 2005, Stat Med 24:729): n* = n + 2, b* = b + ½, c* = c + ½,
 * θ* = (c* − b*)/n*, se² = ((b* + c*) − (c* − b*)²/n*)/n*², z quantiles. Unlike the plain Wald (or paired-t)
 * bound it does not collapse to a zero-width interval when no pair is discordant, which would declare
 * non-inferiority from a small trial in which nothing happened to differ.
 */
export function pairedBinaryBound(
  b: number,
  c: number,
  n: number,
  margin: number,
  options: { alpha?: number; better?: 'higher' | 'lower' | 'none' } = {},
): PairedBinaryBoundResult {
  const alpha = options.alpha ?? 0.025;
  const better = options.better ?? 'higher';
  checkMarginAlpha(margin, alpha);
  if (!(Number.isInteger(b) && Number.isInteger(c) && Number.isInteger(n) && b >= 0 && c >= 0 && b + c <= n)) {
    throw new TwinlabError('INVALID_ARGUMENT', `discordant counts must be integers with b + c ≤ n, got b ${describeValue(b)}, c ${describeValue(c)}, n ${describeValue(n)}`);
  }
  const nStar = n + 2;
  const bStar = b + 0.5;
  const cStar = c + 0.5;
  const estimate = (cStar - bStar) / nStar;
  const se = Math.sqrt(bStar + cStar - (cStar - bStar) ** 2 / nStar) / nStar;
  const q = normalQuantile(1 - alpha);
  const lower = estimate - q * se;
  const upper = estimate + q * se;
  const upperP = (x: number): number => 1 - normalCdf(x);
  if (better === 'none') {
    const pValue = Math.max(upperP((estimate + margin) / se), upperP((margin - estimate) / se));
    return { n, b, c, estimate, se, margin, alpha, lower, upper, z: Math.min(estimate + margin, margin - estimate) / se, pValue, shown: lower > -margin && upper < margin };
  }
  const sign = better === 'higher' ? 1 : -1;
  const z = (estimate + sign * margin) / se;
  const pValue = upperP(sign * z);
  return { n, b, c, estimate, se, margin, alpha, lower, upper, z, pValue, shown: better === 'higher' ? lower > -margin : upper < margin };
}
