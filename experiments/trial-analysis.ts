import { describeValue, TwinlabError } from '../engine/errors.js';
import { Rng } from '../engine/random.js';
import {
  bootstrapMeanCI,
  cohensDz,
  holmAdjust,
  mcnemar,
  pairedBinaryBound,
  pairedEquivalence,
  pairedNonInferiority,
  pairedRiskDifference,
  type Summary,
  summarize,
  wilcoxonSignedRank,
} from './stats.js';

/**
 * The analysis of a paired virtual trial (docs/DESIGN.md "Virtual trials"): per-arm endpoint summaries and,
 * for every arm against the reference arm, the per-patient paired differences d_i = y_i(arm) − y_i(ref)
 * with a percentile-bootstrap CI of their mean (resampling patients), a paired test (Wilcoxon
 * signed-rank; McNemar for binary endpoints) and effect sizes. Safety endpoints come first.
 *
 * Replicates: when each (patient, arm) ran R > 1 replicate episodes, the R values are averaged per
 * patient first, so the patient stays the unit of resampling and testing (replicates only reduce
 * within-patient noise; they are not independent patients). A binary endpoint then becomes a
 * per-patient proportion, McNemar no longer applies, and the Wilcoxon test on the differences of
 * proportions is used instead (its effect size is still the risk difference = mean difference).
 *
 * Missing values (NaN, ±∞, or not a number) are excluded: from an arm's summary for that arm, and the
 * patient from that endpoint's comparison (counted in `missing` / `nPairs`).
 */

export interface TrialEndpointMeta {
  id: string;
  label?: string;
  unit?: string;
  kind: 'continuous' | 'binary';
  better?: 'higher' | 'lower' | 'none';
  safety?: boolean;
  primary?: boolean;
  /** Pre-declared hypothesis (default superiority); `margin` Δ > 0 in the endpoint's units for the other two. */
  hypothesis?: HypothesisType;
  margin?: number;
  /** One-sided level of each test of a non-inferiority/equivalence hypothesis (default (1 − level)/2). */
  alpha?: number;
}

export type HypothesisType = 'superiority' | 'non-inferiority' | 'equivalence';

/**
 * The pre-declared hypothesis of one comparison and whether the trial shows it (see `hypothesisVerdict`):
 * - superiority: shown when the favours rule favours the arm (the `level` CI excludes 0 on the better side);
 *   p = the paired test's two-sided p;
 * - non-inferiority: the one-sided (1 − α) paired-t bound of the mean difference on the worse side lies
 *   beyond −Δ (higher better: L > −Δ; lower better: U < Δ); p = the one-sided t-test p of H₀ "inferior by Δ or more";
 * - equivalence: TOST, the (1 − 2α) paired-t CI inside (−Δ, Δ); p = max of the two one-sided p.
 * The percentile-bootstrap bound at the same level is reported next to the t bound; a disagreement is noted.
 * Secondary endpoints: `pAdjusted` is Holm's adjusted p over the secondary endpoints of this arm (primary: null).
 */
export interface HypothesisResult {
  type: HypothesisType;
  margin: number | null;
  /** One-sided α of each test (superiority: (1 − level)/2, the side the favours rule looks at). */
  alpha: number;
  /**
   * Non-inferiority: one-sided (1 − α) bound; equivalence: (1 − 2α) CI. Paired t on the differences, or for
   * a binary endpoint with one episode per patient the Agresti–Min (2005) bound of the paired risk
   * difference (`t` is then the z statistic and `df` null). Null for superiority.
   */
  bound: { lower: number | null; upper: number | null; level: number; method: 'paired-t' | 'agresti-min'; t: number; df: number | null } | null;
  /** The same bound from the percentile bootstrap of the comparison's stream (null for superiority). */
  bootstrapBound: { lower: number | null; upper: number | null } | null;
  /** p of this hypothesis's own test (superiority: the paired test's two-sided p). */
  pValue: number | null;
  /** Holm-adjusted p across the secondary endpoints of this arm; null for primary endpoints and untested ones. */
  pAdjusted: number | null;
  verdict: 'superior' | 'inferior' | 'not shown superior' | 'non-inferior' | 'not shown non-inferior' | 'equivalent' | 'not shown equivalent' | 'n/a';
  /** Whether the hypothesis is shown (unadjusted). */
  met: boolean;
  /** Secondary endpoints: shown and Holm-adjusted p below the test's threshold; primary: same as `met`. */
  metAdjusted: boolean;
  note: string;
}

export interface AnalyzeTrialInput {
  /** Endpoint metadata (an `EndpointDefinition` fits). */
  endpoints: readonly TrialEndpointMeta[];
  arms: readonly string[];
  /** Reference arm for the paired differences; default the first arm. */
  reference?: string;
  /** Number of patients (values are asked for patient indices 0 … patients−1). */
  patients: number;
  /** Replicate episodes per (patient, arm); default 1. */
  replicates?: number;
  values: (patientIndex: number, arm: string, endpointId: string, replicate: number) => number | undefined | null;
  /** Root seed of the bootstrap streams (`bootstrap/<endpoint>/<arm>` substreams). */
  seed: number;
  /** Primary endpoint ids (in addition to `primary: true` on the metadata), in order. */
  primary?: readonly string[];
  resamples?: number;
  level?: number;
}

export interface ArmEndpointSummary extends Omit<Summary, 'sd'> {
  arm: string;
  sd: number | null;
  missing: number;
  /** Share of 1s, binary endpoints only. */
  proportion?: number;
}

export interface PairedComparison {
  arm: string;
  reference: string;
  nPairs: number;
  /** Mean paired difference (arm − reference); for binary endpoints the risk difference. */
  meanDifference: number | null;
  medianDifference: number | null;
  ci: { lower: number; upper: number; level: number; resamples: number; method: 'percentile-bootstrap'; stream: string } | null;
  test:
    | { name: 'wilcoxon-signed-rank'; statistic: number; wMinus: number; n: number; zeros: number; z: number; pValue: number; method: 'exact' | 'normal' }
    | { name: 'mcnemar'; b: number; c: number; statistic: number | null; pValue: number; method: 'exact' | 'chi-square' };
  effectSizes: { cohensDz?: number | null; rankBiserial?: number; riskDifference?: number };
  /** The favours rule applied to this comparison (see `favoursVerdict`). */
  favours: Favours;
  /** Whether the CI (excludes 0?) and the paired test (p < 1 − level?) agree; when not, `note` says so. */
  agreement: 'agree' | 'ci-only' | 'test-only';
  /** One line for a reader: the verdict, its p-value, and any CI/test disagreement. */
  note: string;
  /** The pre-declared hypothesis and its verdict (absent in analyses stored before hypotheses existed; `withVerdicts` fills it). */
  hypothesis?: HypothesisResult;
}

/**
 * The favours rule, used by every report format (md, html, json, viewer data):
 * - 'n/a' when the endpoint declares no better direction (`better: 'none'`, e.g. mean glucose, whose
 *   desirable value depends on the range rather than a direction) — no arm can be favoured;
 * - 'arm' / 'reference' when the `level` bootstrap CI of the mean paired difference (arm − reference)
 *   excludes 0 and lies on the side the endpoint calls better / worse;
 * - 'neither' when the CI covers 0.
 * The verdict follows the CI alone; the paired test's p-value is reported next to it, and when the
 * two disagree (CI excludes 0 but p ≥ 1 − level, or p < 1 − level but the CI covers 0: a mean-based
 * bootstrap and a rank test can legitimately differ on skewed or small samples) `agreement` and `note`
 * say so instead of silently preferring one.
 */
export type Favours = 'arm' | 'reference' | 'neither' | 'n/a';

export function favoursVerdict(
  c: { arm: string; reference: string; ci: { lower: number; upper: number } | null; pValue: number | null },
  better: 'higher' | 'lower' | 'none',
  level: number,
): { favours: Favours; agreement: PairedComparison['agreement']; note: string } {
  const alpha = 1 - level;
  const pct = `${Math.round(level * 100)}%`;
  const p = c.pValue !== null && Number.isFinite(c.pValue) ? c.pValue : null;
  const pText = p === null ? 'p n/a' : p < 0.001 ? 'p < 0.001' : `p = ${p.toFixed(3)}`;
  const ciExcludes = c.ci !== null && (c.ci.lower > 0 || c.ci.upper < 0);
  const testSignificant = p !== null && p < alpha;
  const agreement: PairedComparison['agreement'] = ciExcludes === testSignificant ? 'agree' : ciExcludes ? 'ci-only' : 'test-only';
  let favours: Favours;
  let head: string;
  if (better === 'none') {
    favours = 'n/a';
    head = `n/a: the endpoint has no better direction (${c.ci === null ? 'no CI' : ciExcludes ? `${pct} CI excludes 0, ${c.ci.lower > 0 ? 'arm higher' : 'arm lower'}` : `${pct} CI covers 0`})`;
  } else if (c.ci === null) {
    favours = 'neither';
    head = 'neither: no paired values';
  } else if (ciExcludes) {
    const armHigher = c.ci.lower > 0;
    favours = armHigher === (better === 'higher') ? 'arm' : 'reference';
    head = `${favours === 'arm' ? c.arm : c.reference} (${pct} CI excludes 0)`;
  } else {
    favours = 'neither';
    head = `neither (${pct} CI covers 0)`;
  }
  const disagreement =
    agreement === 'ci-only'
      ? `; CI and test disagree: the CI excludes 0 but the paired test is not significant (${pText} ≥ ${alpha.toFixed(2)})`
      : agreement === 'test-only'
        ? `; CI and test disagree: the paired test is significant (${pText}) but the CI covers 0`
        : '';
  return { favours, agreement, note: `${head}, ${pText}${disagreement}` };
}

export interface EndpointAnalysis {
  id: string;
  label: string;
  unit: string;
  kind: 'continuous' | 'binary';
  better: 'higher' | 'lower' | 'none';
  safety: boolean;
  primary: boolean;
  /** The pre-declared hypothesis (absent in analyses stored before hypotheses existed: superiority). */
  hypothesis?: HypothesisType;
  margin?: number | null;
  arms: ArmEndpointSummary[];
  comparisons: PairedComparison[];
}

export interface TrialAnalysis {
  version: 1;
  arms: string[];
  reference: string;
  patients: number;
  replicates: number;
  seed: number;
  level: number;
  resamples: number;
  /** Safety endpoints first, then primary, then the others (each group in input order). */
  endpoints: EndpointAnalysis[];
}

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

export function analyzeTrial(input: AnalyzeTrialInput): TrialAnalysis {
  const { arms, patients } = input;
  const replicates = input.replicates ?? 1;
  const resamples = input.resamples ?? 10_000;
  const level = input.level ?? 0.95;
  if (arms.length === 0) throw new TwinlabError('INVALID_ARGUMENT', 'analyzeTrial needs at least one arm, got none');
  if (new Set(arms).size !== arms.length) throw new TwinlabError('INVALID_ARGUMENT', `arm names must be unique, got ${describeValue(arms)}`);
  if (!Number.isInteger(patients) || patients < 0)
    throw new TwinlabError('INVALID_ARGUMENT', `patients must be an integer ≥ 0, got ${describeValue(patients)}`);
  if (!Number.isInteger(replicates) || replicates < 1)
    throw new TwinlabError('INVALID_ARGUMENT', `replicates must be an integer ≥ 1, got ${describeValue(replicates)}`);
  const reference = input.reference ?? (arms[0] as string);
  if (!arms.includes(reference)) throw new TwinlabError('INVALID_ARGUMENT', `reference arm "${reference}" is not one of the arms ${arms.join(', ')}`);
  const primaryIds = new Set(input.primary ?? []);
  for (const e of input.endpoints) if (e.primary) primaryIds.add(e.id);
  const root = Rng.fromSeed(input.seed);

  const analyses = input.endpoints.map((endpoint): EndpointAnalysis => {
    const binary = endpoint.kind === 'binary';
    const better = endpoint.better ?? 'none';
    // Per-patient values (replicates averaged), NaN when missing.
    const perArm = new Map<string, Float64Array>();
    for (const arm of arms) {
      const y = new Float64Array(patients);
      for (let i = 0; i < patients; i++) {
        let sum = 0;
        for (let r = 0; r < replicates; r++) {
          const v = input.values(i, arm, endpoint.id, r);
          sum += typeof v === 'number' && Number.isFinite(v) ? v : Number.NaN;
        }
        y[i] = sum / replicates;
      }
      perArm.set(arm, y);
    }
    const armSummaries = arms.map((arm): ArmEndpointSummary => {
      const y = perArm.get(arm) as Float64Array;
      const present = y.filter(Number.isFinite);
      const s = summarize(present);
      const out: ArmEndpointSummary = { arm, ...s, sd: finite(s.sd), missing: patients - present.length };
      if (binary) out.proportion = s.mean;
      return out;
    });
    const ref = perArm.get(reference) as Float64Array;
    const declared = declaredHypothesis(endpoint, level);
    const comparisons = arms
      .filter((arm) => arm !== reference)
      .map((arm) =>
        comparePaired(arm, reference, ref, perArm.get(arm) as Float64Array, {
          binary,
          replicates,
          better,
          root,
          endpointId: endpoint.id,
          resamples,
          level,
          declared,
        }),
      );
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
      arms: armSummaries,
      comparisons,
    };
  });
  applyHolm(analyses, level);

  const primaryOrder = [...primaryIds];
  const group = (e: EndpointAnalysis): number => (e.safety ? 0 : e.primary ? 1 : 2);
  const ordered = analyses
    .map((e, i) => ({ e, i }))
    .sort((a, b) => group(a.e) - group(b.e) || (group(a.e) === 1 ? primaryOrder.indexOf(a.e.id) - primaryOrder.indexOf(b.e.id) : 0) || a.i - b.i)
    .map(({ e }) => e);

  return { version: 1, arms: [...arms], reference, patients, replicates, seed: input.seed, level, resamples, endpoints: ordered };
}

function comparePaired(
  arm: string,
  reference: string,
  ref: Float64Array,
  y: Float64Array,
  o: {
    binary: boolean;
    replicates: number;
    better: 'higher' | 'lower' | 'none';
    root: Rng;
    endpointId: string;
    resamples: number;
    level: number;
    declared: DeclaredHypothesis;
  },
): PairedComparison {
  const refPaired: number[] = [];
  const armPaired: number[] = [];
  for (let i = 0; i < ref.length; i++) {
    if (Number.isFinite(ref[i] as number) && Number.isFinite(y[i] as number)) {
      refPaired.push(ref[i] as number);
      armPaired.push(y[i] as number);
    }
  }
  const n = refPaired.length;
  const d = armPaired.map((v, i) => v - (refPaired[i] as number));
  const stream = `bootstrap/${o.endpointId}/${arm}`;
  const wilcoxon = wilcoxonSignedRank(d);
  const useMcNemar = o.binary && o.replicates === 1;
  const effectSizes: PairedComparison['effectSizes'] = {};
  let test: PairedComparison['test'];
  if (useMcNemar) {
    const rd = pairedRiskDifference(refPaired, armPaired);
    const m = mcnemar(rd.b, rd.c);
    test = { name: 'mcnemar', b: m.b, c: m.c, statistic: finite(m.statistic), pValue: m.pValue, method: m.method };
    effectSizes.riskDifference = rd.riskDifference;
  } else {
    test = {
      name: 'wilcoxon-signed-rank',
      statistic: wilcoxon.statistic,
      wMinus: wilcoxon.wMinus,
      n: wilcoxon.n,
      zeros: wilcoxon.zeros,
      z: wilcoxon.z,
      pValue: wilcoxon.pValue,
      method: wilcoxon.method,
    };
    if (o.binary) effectSizes.riskDifference = n > 0 ? d.reduce((a, b) => a + b, 0) / n : Number.NaN;
    else {
      effectSizes.cohensDz = finite(cohensDz(d));
      effectSizes.rankBiserial = wilcoxon.rankBiserial;
    }
  }
  if (n === 0) {
    const verdict = favoursVerdict({ arm, reference, ci: null, pValue: null }, o.better, o.level);
    const hypothesis = testHypothesis(d, o.declared, { favours: verdict.favours, pValue: null, better: o.better, level: o.level, bootstrap: () => null, discordant: null });
    return { arm, reference, nPairs: 0, meanDifference: null, medianDifference: null, ci: null, test, effectSizes, ...verdict, hypothesis };
  }
  const ci = bootstrapMeanCI(d, o.root.fork(stream), { resamples: o.resamples, level: o.level });
  const verdict = favoursVerdict({ arm, reference, ci, pValue: test.pValue }, o.better, o.level);
  // The bootstrap bound of a non-inferiority/equivalence hypothesis: the same stream (so the same resamples), (1 − 2α) level.
  const bootstrap = (level: number) => bootstrapMeanCI(d, o.root.fork(stream), { resamples: o.resamples, level });
  const discordant = test.name === 'mcnemar' ? { b: test.b, c: test.c, n } : null;
  const hypothesis = testHypothesis(d, o.declared, { favours: verdict.favours, pValue: test.pValue, better: o.better, level: o.level, bootstrap, discordant });
  return {
    arm,
    reference,
    nPairs: n,
    meanDifference: ci.estimate,
    medianDifference: summarize(d).median,
    ci: { lower: ci.lower, upper: ci.upper, level: ci.level, resamples: ci.resamples, method: 'percentile-bootstrap', stream },
    test,
    effectSizes,
    ...verdict,
    hypothesis,
  };
}

/** (1 − level)/2, rounded so that 0.95 gives 0.025 and not 0.025000000000000022. */
export function oneSidedAlpha(level: number): number {
  return Number(((1 - level) / 2).toPrecision(12));
}

interface DeclaredHypothesis {
  type: HypothesisType;
  margin: number | null;
  alpha: number;
}

function declaredHypothesis(endpoint: TrialEndpointMeta, level: number): DeclaredHypothesis {
  const type = endpoint.hypothesis ?? 'superiority';
  const alpha = endpoint.alpha ?? oneSidedAlpha(level);
  if (type === 'superiority') return { type, margin: null, alpha: oneSidedAlpha(level) };
  const margin = endpoint.margin;
  if (margin === undefined || !(margin > 0)) {
    throw new TwinlabError('INVALID_ARGUMENT', `endpoint ${endpoint.id}: a ${type} hypothesis needs a margin > 0, got ${describeValue(margin)}`);
  }
  if (type === 'non-inferiority' && (endpoint.better ?? 'none') === 'none') {
    throw new TwinlabError('INVALID_ARGUMENT', `endpoint ${endpoint.id}: non-inferiority needs a better direction (higher or lower)`);
  }
  if (!(alpha > 0 && alpha < 0.5)) throw new TwinlabError('INVALID_ARGUMENT', `endpoint ${endpoint.id}: alpha must be in (0, 0.5), got ${describeValue(alpha)}`);
  return { type, margin, alpha };
}

const pctOf = (x: number): string => `${Number((x * 100).toFixed(1))}%`;
const num = (x: number): string => (Number.isFinite(x) ? Number(x.toPrecision(4)).toString() : String(x));
const pTextOf = (p: number | null): string => (p === null ? 'p n/a' : p < 0.001 ? 'p < 0.001' : `p = ${p.toFixed(3)}`);

/** The verdict of one comparison's declared hypothesis (see `HypothesisResult`); pAdjusted is filled by `applyHolm`. */
function testHypothesis(
  d: number[],
  declared: DeclaredHypothesis,
  c: {
    favours: Favours;
    pValue: number | null;
    better: 'higher' | 'lower' | 'none';
    level: number;
    bootstrap: (level: number) => { lower: number; upper: number } | null;
    /** Discordant counts of a 0/1 paired endpoint (one episode per patient): the Agresti–Min bound is used. */
    discordant: { b: number; c: number; n: number } | null;
  },
): HypothesisResult {
  const { type, margin, alpha } = declared;
  const base = { type, margin, alpha, pAdjusted: null };
  if (type === 'superiority') return superiorityResult(c.favours, c.pValue, c.level);
  const delta = margin as number;
  if (d.length < 2) {
    return {
      ...base,
      bound: null,
      bootstrapBound: null,
      pValue: null,
      verdict: type === 'equivalence' ? 'not shown equivalent' : 'not shown non-inferior',
      met: false,
      metAdjusted: false,
      note: `${type === 'equivalence' ? 'not shown equivalent' : 'not shown non-inferior'}: fewer than 2 paired values`,
    };
  }
  const bs = c.bootstrap(1 - 2 * alpha);
  if (c.discordant) return binaryHypothesis(type, delta, alpha, c.better, c.discordant, bs);
  if (type === 'non-inferiority') {
    const better = c.better as 'higher' | 'lower';
    const r = pairedNonInferiority(d, delta, { alpha, better });
    const higher = better === 'higher';
    const bsBound = bs === null ? null : higher ? bs.lower : bs.upper;
    const bsMet = bsBound !== null && (higher ? bsBound > -delta : bsBound < delta);
    const verdict = r.nonInferior ? 'non-inferior' : 'not shown non-inferior';
    const side = higher ? 'lower' : 'upper';
    const cmp = higher ? `${num(r.bound)} ${r.nonInferior ? '>' : '≤'} −Δ = ${num(-delta)}` : `${num(r.bound)} ${r.nonInferior ? '<' : '≥'} Δ = ${num(delta)}`;
    const disagree = bsBound !== null && bsMet !== r.nonInferior ? `; t and bootstrap bounds disagree (bootstrap ${side} bound ${num(bsBound)})` : '';
    return {
      ...base,
      bound: { lower: higher ? r.bound : null, upper: higher ? null : r.bound, level: 1 - alpha, method: 'paired-t', t: r.t, df: r.df },
      bootstrapBound: bs === null ? null : { lower: higher ? bs.lower : null, upper: higher ? null : bs.upper },
      pValue: r.pValue,
      verdict,
      met: r.nonInferior,
      metAdjusted: r.nonInferior,
      note: `${verdict}: one-sided ${pctOf(1 - alpha)} ${side} bound ${cmp} (paired t), ${pTextOf(r.pValue)}${disagree}`,
    };
  }
  const r = pairedEquivalence(d, delta, { alpha });
  const bsMet = bs !== null && bs.lower > -delta && bs.upper < delta;
  const verdict = r.equivalent ? 'equivalent' : 'not shown equivalent';
  const disagree = bs !== null && bsMet !== r.equivalent ? `; t and bootstrap intervals disagree (bootstrap [${num(bs.lower)}, ${num(bs.upper)}])` : '';
  return {
    ...base,
    bound: { lower: r.lower, upper: r.upper, level: 1 - 2 * alpha, method: 'paired-t', t: r.se > 0 ? Math.min(r.mean + delta, delta - r.mean) / r.se : Number.NaN, df: r.df },
    bootstrapBound: bs === null ? null : { lower: bs.lower, upper: bs.upper },
    pValue: r.pValue,
    verdict,
    met: r.equivalent,
    metAdjusted: r.equivalent,
    note: `${verdict}: ${pctOf(1 - 2 * alpha)} CI [${num(r.lower)}, ${num(r.upper)}] ${r.equivalent ? 'inside' : 'not inside'} (−Δ, Δ) = (${num(-delta)}, ${num(delta)}) (TOST, paired t), ${pTextOf(r.pValue)}${disagree}`,
  };
}

/** Non-inferiority / equivalence of a paired 0/1 endpoint by the Agresti–Min bound (stats.ts `pairedBinaryBound`). */
function binaryHypothesis(
  type: 'non-inferiority' | 'equivalence',
  delta: number,
  alpha: number,
  betterDirection: 'higher' | 'lower' | 'none',
  k: { b: number; c: number; n: number },
  bs: { lower: number; upper: number } | null,
): HypothesisResult {
  const better = type === 'equivalence' ? 'none' : (betterDirection as 'higher' | 'lower');
  const r = pairedBinaryBound(k.b, k.c, k.n, delta, { alpha, better });
  const higher = better === 'higher';
  const method = `Agresti–Min, b = ${k.b}, c = ${k.c}`;
  const base = { type, margin: delta, alpha, pValue: r.pValue, pAdjusted: null, met: r.shown, metAdjusted: r.shown };
  if (type === 'non-inferiority') {
    const bound = higher ? r.lower : r.upper;
    const bsBound = bs === null ? null : higher ? bs.lower : bs.upper;
    const bsMet = bsBound !== null && (higher ? bsBound > -delta : bsBound < delta);
    const verdict = r.shown ? 'non-inferior' : 'not shown non-inferior';
    const cmp = higher ? `${num(bound)} ${r.shown ? '>' : '≤'} −Δ = ${num(-delta)}` : `${num(bound)} ${r.shown ? '<' : '≥'} Δ = ${num(delta)}`;
    const disagree = bsBound !== null && bsMet !== r.shown ? `; this and the bootstrap bound disagree (bootstrap ${num(bsBound)})` : '';
    return {
      ...base,
      bound: { lower: higher ? r.lower : null, upper: higher ? null : r.upper, level: 1 - alpha, method: 'agresti-min', t: r.z, df: null },
      bootstrapBound: bs === null ? null : { lower: higher ? bs.lower : null, upper: higher ? null : bs.upper },
      verdict,
      note: `${verdict}: one-sided ${pctOf(1 - alpha)} ${higher ? 'lower' : 'upper'} bound of the risk difference ${cmp} (${method}), ${pTextOf(r.pValue)}${disagree}`,
    };
  }
  const bsMet = bs !== null && bs.lower > -delta && bs.upper < delta;
  const verdict = r.shown ? 'equivalent' : 'not shown equivalent';
  const disagree = bs !== null && bsMet !== r.shown ? `; this and the bootstrap interval disagree (bootstrap [${num(bs.lower)}, ${num(bs.upper)}])` : '';
  return {
    ...base,
    bound: { lower: r.lower, upper: r.upper, level: 1 - 2 * alpha, method: 'agresti-min', t: r.z, df: null },
    bootstrapBound: bs === null ? null : { lower: bs.lower, upper: bs.upper },
    verdict,
    note: `${verdict}: ${pctOf(1 - 2 * alpha)} CI of the risk difference [${num(r.lower)}, ${num(r.upper)}] ${r.shown ? 'inside' : 'not inside'} (${num(-delta)}, ${num(delta)}) (TOST, ${method}), ${pTextOf(r.pValue)}${disagree}`,
  };
}

const SUPERIORITY_REASON = {
  superior: 'excludes 0 on the better side',
  inferior: 'excludes 0 on the worse side',
  'not shown superior': 'covers 0',
} as const;

function superiorityResult(favours: Favours, pValue: number | null, level: number): HypothesisResult {
  const verdict = favours === 'n/a' ? 'n/a' : favours === 'arm' ? 'superior' : favours === 'reference' ? 'inferior' : 'not shown superior';
  return {
    type: 'superiority',
    margin: null,
    alpha: oneSidedAlpha(level),
    bound: null,
    bootstrapBound: null,
    pValue,
    pAdjusted: null,
    verdict,
    met: favours === 'arm',
    metAdjusted: favours === 'arm',
    note: verdict === 'n/a' ? 'n/a: no better direction' : `${verdict}: the ${pctOf(level)} CI ${SUPERIORITY_REASON[verdict]}, ${pTextOf(pValue)}`,
  };
}

/**
 * Holm's step-down adjustment (stats.ts `holmAdjust`) of each arm's secondary-endpoint p-values, the
 * family being every non-primary endpoint with a testable hypothesis (superiority endpoints without a
 * better direction are descriptive and left out). Primary endpoints are not adjusted. A secondary
 * hypothesis then counts as shown after adjustment when it is shown and its adjusted p is below the
 * test's threshold: 1 − level for the two-sided superiority test, α for the one-sided
 * non-inferiority/TOST tests (so with one hypothesis type this is exactly Holm's procedure).
 */
function applyHolm(endpoints: EndpointAnalysis[], level: number): void {
  const arms = new Set(endpoints.flatMap((e) => e.comparisons.map((c) => c.arm)));
  for (const arm of arms) {
    const family: HypothesisResult[] = [];
    for (const e of endpoints) {
      const h = e.comparisons.find((c) => c.arm === arm)?.hypothesis;
      if (!h) continue;
      h.pAdjusted = null;
      h.metAdjusted = h.met;
      if (!e.primary && h.verdict !== 'n/a' && h.pValue !== null && Number.isFinite(h.pValue)) family.push(h);
    }
    const adjusted = holmAdjust(family.map((h) => h.pValue as number));
    family.forEach((h, i) => {
      const p = adjusted[i] as number;
      h.pAdjusted = p;
      h.metAdjusted = h.met && p < (h.type === 'superiority' ? 1 - level : h.alpha);
    });
  }
}

/**
 * The analysis with every comparison's verdict (re)derived by `favoursVerdict`, so analyses stored
 * before the rule existed (or with an older rule) are reported by the current one.
 */
export function withVerdicts(trial: TrialAnalysis): TrialAnalysis {
  const endpoints = trial.endpoints.map((e) => ({
    ...e,
    hypothesis: e.hypothesis ?? 'superiority',
    margin: e.margin ?? null,
    comparisons: e.comparisons.map((c) => {
      const verdict = favoursVerdict({ arm: c.arm, reference: c.reference, ci: c.ci, pValue: c.test.pValue }, e.better ?? 'none', c.ci?.level ?? trial.level);
      // Superiority follows the favours rule, so it is re-derived with it; stored non-inferiority/equivalence results are kept.
      const hypothesis =
        c.hypothesis && c.hypothesis.type !== 'superiority' ? { ...c.hypothesis } : superiorityResult(verdict.favours, c.test.pValue, trial.level);
      return { ...c, ...verdict, hypothesis };
    }),
  }));
  applyHolm(endpoints, trial.level);
  return { ...trial, endpoints };
}
