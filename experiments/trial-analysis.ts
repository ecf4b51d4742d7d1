import { describeValue, TwinlabError } from '../engine/errors.js';
import { Rng } from '../engine/random.js';
import { bootstrapMeanCI, cohensDz, mcnemar, pairedRiskDifference, type Summary, summarize, wilcoxonSignedRank } from './stats.js';

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
    const comparisons = arms
      .filter((arm) => arm !== reference)
      .map((arm) =>
        comparePaired(arm, reference, ref, perArm.get(arm) as Float64Array, { binary, replicates, better, root, endpointId: endpoint.id, resamples, level }),
      );
    return {
      id: endpoint.id,
      label: endpoint.label ?? endpoint.id,
      unit: endpoint.unit ?? '',
      kind: endpoint.kind,
      better,
      safety: endpoint.safety === true,
      primary: primaryIds.has(endpoint.id),
      arms: armSummaries,
      comparisons,
    };
  });

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
  o: { binary: boolean; replicates: number; better: 'higher' | 'lower' | 'none'; root: Rng; endpointId: string; resamples: number; level: number },
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
    return { arm, reference, nPairs: 0, meanDifference: null, medianDifference: null, ci: null, test, effectSizes, ...verdict };
  }
  const ci = bootstrapMeanCI(d, o.root.fork(stream), { resamples: o.resamples, level: o.level });
  const verdict = favoursVerdict({ arm, reference, ci, pValue: test.pValue }, o.better, o.level);
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
  };
}

/**
 * The analysis with every comparison's verdict (re)derived by `favoursVerdict`, so analyses stored
 * before the rule existed (or with an older rule) are reported by the current one.
 */
export function withVerdicts(trial: TrialAnalysis): TrialAnalysis {
  return {
    ...trial,
    endpoints: trial.endpoints.map((e) => ({
      ...e,
      comparisons: e.comparisons.map((c) => ({
        ...c,
        ...favoursVerdict({ arm: c.arm, reference: c.reference, ci: c.ci, pValue: c.test.pValue }, e.better ?? 'none', c.ci?.level ?? trial.level),
      })),
    })),
  };
}
