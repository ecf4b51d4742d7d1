import { describe, expect, it } from 'vitest';
import { TwinlabError } from '../../engine/errors.js';
import { renderReport } from '../../experiments/report.js';
import { validateSpec } from '../../experiments/spec.js';
import {
  holmAdjust,
  pairedBinaryBound,
  pairedEquivalence,
  pairedNonInferiority,
  studentTCdf,
  studentTQuantile,
  wilsonInterval,
  wilcoxonSignedRank,
} from '../../experiments/stats.js';
import type { ExperimentRecord } from '../../experiments/store.js';
import { analyzeTrial, type TrialAnalysis, type TrialEndpointMeta, withVerdicts } from '../../experiments/trial-analysis.js';

/**
 * Student's (1908) paired example, the Cushny & Peebles sleep data (R `datasets::sleep`): extra hours
 * of sleep of 10 patients under drug 1 and drug 2. R's `t.test(extra ~ group, data = sleep, paired = TRUE)`
 * prints t = −4.0621, df = 9, p-value = 0.002833, 95 % CI −2.4598858 to −0.7001142, mean difference
 * −1.58 (drug 1 − drug 2). A non-inferiority question on it: is drug 1 non-inferior to drug 2 within
 * Δ hours? The one-sided 97.5 % lower bound of drug 1 − drug 2 is the lower limit of that 95 % CI,
 * −2.4598858: non-inferior for Δ = 2.5, not shown for Δ = 2 — the textbook reading of a CI against a margin
 * (EMA CPMP/EWP/482/99 2000; Julious 2004, Stat Med 23:1921).
 */
const drug1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0];
const drug2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4];
const d12 = drug1.map((x, i) => x - (drug2[i] as number));

describe('Student t, one-sided bounds and TOST', () => {
  it('reproduces the published paired t-test of the sleep data (R t.test)', () => {
    expect(2 * studentTCdf(-4.0621, 9)).toBeCloseTo(0.002833, 5);
    const ni = pairedNonInferiority(d12, 2.5);
    expect(ni.mean).toBeCloseTo(-1.58, 12);
    expect(ni.mean / ni.se).toBeCloseTo(-4.0621, 4);
    expect(ni.df).toBe(9);
    expect(ni.bound).toBeCloseTo(-2.4598858, 6);
    // The upper bound of a lower-better reading is the CI's other limit.
    expect(pairedNonInferiority(d12, 2.5, { better: 'lower' }).bound).toBeCloseTo(-0.7001142, 6);
  });

  it('t quantiles match the tables (Fisher & Yates): t(0.975; 9) = 2.262, t(0.975; 1) = 12.706, t(0.95; 30) = 1.697', () => {
    expect(studentTQuantile(0.975, 9)).toBeCloseTo(2.262157, 5);
    expect(studentTQuantile(0.975, 1)).toBeCloseTo(12.7062, 3);
    expect(studentTQuantile(0.95, 30)).toBeCloseTo(1.697261, 5);
    expect(studentTQuantile(0.025, 9)).toBeCloseTo(-2.262157, 5);
  });

  it('non-inferiority: shown for Δ = 2.5 h, not for Δ = 2 h; p = α exactly when the margin equals the bound', () => {
    const shown = pairedNonInferiority(d12, 2.5);
    expect(shown.nonInferior).toBe(true);
    expect(shown.pValue).toBeLessThan(0.025);
    const notShown = pairedNonInferiority(d12, 2);
    expect(notShown.nonInferior).toBe(false);
    expect(notShown.pValue).toBeGreaterThan(0.025);
    // Test–interval duality: at Δ = −L the one-sided p is exactly α.
    expect(pairedNonInferiority(d12, 2.4598858, { alpha: 0.025 }).pValue).toBeCloseTo(0.025, 6);
    // Lower-better mirror: −d with "lower better" is the same question.
    const mirrored = pairedNonInferiority(d12.map((x) => -x), 2.5, { better: 'lower' });
    expect(mirrored.bound).toBeCloseTo(2.4598858, 6);
    expect(mirrored.pValue).toBeCloseTo(shown.pValue, 12);
    expect(mirrored.nonInferior).toBe(true);
  });

  it('TOST: equivalent iff the (1 − 2α) CI is inside (−Δ, Δ), iff max of the one-sided p < α', () => {
    // α = 0.05 → the 90 % CI of drug 1 − drug 2: −1.58 ∓ t(0.95; 9)·se = [−2.293, −0.867].
    const eq = pairedEquivalence(d12, 2.5, { alpha: 0.05 });
    expect(eq.lower).toBeCloseTo(-1.58 - 1.833113 * 0.3889587, 5);
    expect(eq.equivalent).toBe(true);
    expect(eq.pValue).toBeLessThan(0.05);
    expect(eq.pValue).toBe(Math.max(eq.pLower, eq.pUpper));
    const not = pairedEquivalence(d12, 2, { alpha: 0.05 });
    expect(not.equivalent).toBe(false);
    expect(not.pValue).toBeGreaterThan(0.05);
    expect(pairedEquivalence(d12, -eq.lower, { alpha: 0.05 }).pValue).toBeCloseTo(0.05, 6);
  });

  it('refuses a margin ≤ 0 and fewer than 2 differences', () => {
    expect(() => pairedNonInferiority(d12, 0)).toThrow(/margin must be a number > 0/);
    expect(() => pairedEquivalence([1], 1)).toThrow(/at least 2 differences/);
  });
});

describe('paired binary endpoints: the Agresti–Min bound', () => {
  it('adds ½ to each cell: θ* = (c* − b*)/n*, se² = ((b* + c*) − (c* − b*)²/n*)/n*² (Agresti & Min 2005)', () => {
    const r = pairedBinaryBound(5, 4, 1000, 0.02);
    expect(r.estimate).toBeCloseTo(-1 / 1002, 12);
    expect(r.se).toBeCloseTo(Math.sqrt(10 - 1 / 1002) / 1002, 12);
    expect(r.lower).toBeCloseTo(-1 / 1002 - 1.959964 * (Math.sqrt(10 - 1 / 1002) / 1002), 6);
    expect(r.shown).toBe(true);
    // The one-sided p is α exactly at the bound.
    expect(pairedBinaryBound(5, 4, 1000, -r.lower).pValue).toBeCloseTo(0.025, 6);
  });

  it('no discordant pair in a small trial is not evidence of non-inferiority (the plain paired t would say it is)', () => {
    const r = pairedBinaryBound(0, 0, 50, 0.02);
    expect(r.lower).toBeCloseTo(-1.959964 / 52, 6);
    expect(r.shown).toBe(false);
    expect(pairedNonInferiority(new Array(50).fill(0), 0.02).nonInferior).toBe(true); // degenerate: bound 0
    const t = analyzeTrial({
      endpoints: [{ id: 'cleared', kind: 'binary', better: 'higher', primary: true, hypothesis: 'non-inferiority', margin: 0.02 }],
      arms: ['ref', 'new'],
      patients: 50,
      values: (i) => (i % 2 === 0 ? 1 : 0),
      seed: 1,
      resamples: 200,
    });
    const h = t.endpoints[0]?.comparisons[0]?.hypothesis;
    expect(h?.bound?.method).toBe('agresti-min');
    expect(h?.verdict).toBe('not shown non-inferior');
    expect(h?.note).toContain('Agresti–Min, b = 0, c = 0');
  });
});

describe('Holm and Wilson', () => {
  it("Holm's step-down adjustment of the Wikipedia example (p = 0.01, 0.04, 0.03, 0.005 at α = 0.05; R p.adjust)", () => {
    // en.wikipedia.org "Holm–Bonferroni method", Example: H1 and H4 rejected, H2 and H3 not.
    const adjusted = holmAdjust([0.01, 0.04, 0.03, 0.005]);
    expect(adjusted.map((p) => Number(p.toFixed(10)))).toEqual([0.03, 0.06, 0.06, 0.02]);
    expect(adjusted.map((p) => p < 0.05)).toEqual([true, false, false, true]);
    expect(holmAdjust([])).toEqual([]);
    expect(holmAdjust([0.6, 0.9])).toEqual([1, 1]); // monotone: never below an earlier adjusted p
  });

  it('Wilson score intervals of Newcombe (1998, Stat Med 17:857, Table II): 81/263, 15/148, 0/20', () => {
    const a = wilsonInterval(81, 263);
    expect([a.lower, a.upper].map((x) => Number(x.toFixed(4)))).toEqual([0.2553, 0.3662]);
    const b = wilsonInterval(15, 148);
    expect([b.lower, b.upper].map((x) => Number(x.toFixed(4)))).toEqual([0.0624, 0.1605]);
    const c = wilsonInterval(0, 20);
    expect([c.lower, Number(c.upper.toFixed(4))]).toEqual([0, 0.1611]);
  });
});

function sleepTrial(endpoint: Partial<TrialEndpointMeta>): TrialAnalysis {
  return analyzeTrial({
    endpoints: [{ id: 'extra', label: 'Extra sleep', unit: 'h', kind: 'continuous', better: 'higher', primary: true, ...endpoint }],
    arms: ['drug2', 'drug1'],
    patients: 10,
    values: (i, arm) => (arm === 'drug1' ? drug1[i] : drug2[i]),
    seed: 1,
    resamples: 2000,
  });
}

describe('trial analysis: declared hypotheses', () => {
  it('non-inferiority of drug 1 against drug 2 on the sleep data: the verdict follows the published bound', () => {
    const shown = sleepTrial({ hypothesis: 'non-inferiority', margin: 2.5 }).endpoints[0];
    const h = shown?.comparisons[0]?.hypothesis;
    expect(shown?.hypothesis).toBe('non-inferiority');
    expect(h?.bound?.lower).toBeCloseTo(-2.4598858, 6);
    expect(h?.bound?.level).toBeCloseTo(0.975, 12);
    expect(h?.verdict).toBe('non-inferior');
    expect(h?.met).toBe(true);
    expect(h?.pAdjusted).toBeNull(); // primary: not adjusted
    expect(h?.note).toMatch(/^non-inferior: one-sided 97.5% lower bound -2.46 > −Δ = -2.5 \(paired t\), p = 0.02/);
    // The favours rule (superiority) still says drug 2 is better: non-inferior and worse are compatible.
    expect(shown?.comparisons[0]?.favours).toBe('reference');
    const notShown = sleepTrial({ hypothesis: 'non-inferiority', margin: 2 }).endpoints[0]?.comparisons[0]?.hypothesis;
    expect(notShown?.verdict).toBe('not shown non-inferior');
    expect(notShown?.met).toBe(false);
  });

  it('a lower-better endpoint uses the upper bound against +Δ', () => {
    // Hours awake instead of extra sleep: the same question, mirrored.
    const t = analyzeTrial({
      endpoints: [{ id: 'awake', kind: 'continuous', better: 'lower', primary: true, hypothesis: 'non-inferiority', margin: 2.5 }],
      arms: ['drug2', 'drug1'],
      patients: 10,
      values: (i, arm) => -(arm === 'drug1' ? (drug1[i] as number) : (drug2[i] as number)),
      seed: 1,
      resamples: 500,
    });
    const h = t.endpoints[0]?.comparisons[0]?.hypothesis;
    expect(h?.bound?.upper).toBeCloseTo(2.4598858, 6);
    expect(h?.bound?.lower).toBeNull();
    expect(h?.verdict).toBe('non-inferior');
  });

  it('equivalence (TOST) with α = 0.05: the 90 % CI against ±Δ', () => {
    const h = sleepTrial({ hypothesis: 'equivalence', margin: 2.5, alpha: 0.05 }).endpoints[0]?.comparisons[0]?.hypothesis;
    expect(h?.bound?.level).toBeCloseTo(0.9, 12);
    expect(h?.verdict).toBe('equivalent');
    expect(sleepTrial({ hypothesis: 'equivalence', margin: 1, alpha: 0.05 }).endpoints[0]?.comparisons[0]?.hypothesis?.verdict).toBe('not shown equivalent');
  });

  it('refuses a non-inferiority hypothesis without a margin or without a direction', () => {
    expect(() => sleepTrial({ hypothesis: 'non-inferiority' })).toThrow(TwinlabError);
    expect(() => sleepTrial({ hypothesis: 'non-inferiority', margin: 1, better: 'none' })).toThrow(/needs a better direction/);
  });

  /**
   * Three secondary endpoints with exact Wilcoxon p-values: all 10 differences positive (p = 2/1024),
   * ranks 1–3 negative (W⁻ = 6, p = 28/1024 = 0.0273), and noise. Holm: 3 × 0.00195, then
   * max(·, 2 × 0.0273) = 0.0547 ≥ 0.05: the second is significant raw but not after adjustment.
   */
  it('Holm across secondary endpoints, per arm; primary untouched; raw and adjusted p both kept', () => {
    const diffs: Record<string, number[]> = {
      primary: [3, 1, 4, 1, 5, 9, 2, 6, 5, 3],
      allUp: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      mostlyUp: [-1, -2, -3, 4, 5, 6, 7, 8, 9, 10],
      noise: [1, -2, 3, -4, 5, -6, 7, -8, 9, -10],
      noDirection: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    };
    const t = analyzeTrial({
      endpoints: [
        { id: 'primary', kind: 'continuous', better: 'higher', primary: true },
        { id: 'allUp', kind: 'continuous', better: 'higher' },
        { id: 'mostlyUp', kind: 'continuous', better: 'higher' },
        { id: 'noise', kind: 'continuous', better: 'higher' },
        { id: 'noDirection', kind: 'continuous', better: 'none' },
      ],
      arms: ['ref', 'new'],
      patients: 10,
      values: (i, arm, e) => (arm === 'ref' ? 0 : (diffs[e]?.[i] as number)),
      seed: 2,
      resamples: 2000,
    });
    const h = (id: string) => t.endpoints.find((e) => e.id === id)?.comparisons[0]?.hypothesis;
    const raw = ['allUp', 'mostlyUp', 'noise'].map((id) => wilcoxonSignedRank(diffs[id] as number[]).pValue);
    expect(raw[0]).toBeCloseTo(2 / 1024, 12);
    expect(raw[1]).toBeCloseTo(28 / 1024, 12);
    const adjusted = holmAdjust(raw);
    expect(['allUp', 'mostlyUp', 'noise'].map((id) => h(id)?.pAdjusted)).toEqual(adjusted);
    expect(h('primary')?.pAdjusted).toBeNull();
    expect(h('noDirection')?.verdict).toBe('n/a');
    expect(h('noDirection')?.pAdjusted).toBeNull(); // descriptive: outside the family
    expect(h('mostlyUp')).toMatchObject({ verdict: 'superior', met: true, metAdjusted: false });
    expect(h('mostlyUp')?.pValue).toBeCloseTo(28 / 1024, 12);
    expect(h('allUp')).toMatchObject({ verdict: 'superior', met: true, metAdjusted: true });
  });
});

describe('spec and reports', () => {
  const spec = (hypotheses: unknown) => ({
    kind: 'trial',
    name: 'h',
    cohort: { twin: 'chemo', population: 'virtual', size: 2 },
    arms: [
      { name: 'a', policy: 'oncology/chemo-front-loaded' },
      { name: 'b', policy: 'oncology/chemo-pulsed' },
    ],
    endpoints: { primary: ['cleared'], secondary: ['cumulative_dose', 'recist'], hypotheses },
  });
  const errorOf = (raw: unknown): string => {
    try {
      validateSpec(raw);
    } catch (error) {
      return (error as Error).message;
    }
    return '';
  };

  it('accepts per-endpoint hypotheses and names the field of each mistake', () => {
    expect(() => validateSpec(spec({ cleared: { hypothesis: 'non-inferiority', margin: 0.05 }, cumulative_dose: { hypothesis: 'equivalence', margin: 2 } }))).not.toThrow();
    expect(errorOf(spec({ tir: { hypothesis: 'superiority' } }))).toMatch(/endpoints\.hypotheses\.tir: not a declared endpoint \(expected one of cleared, cumulative_dose, recist\)/);
    expect(errorOf(spec({ cleared: { hypothesis: 'non-inferiority' } }))).toMatch(/endpoints\.hypotheses\.cleared\.margin: non-inferiority needs a margin > 0/);
    expect(errorOf(spec({ cleared: { hypothesis: 'superiority', margin: 1 } }))).toMatch(/endpoints\.hypotheses\.cleared\.margin: a superiority hypothesis takes no margin/);
    expect(errorOf(spec({ cleared: { hypothesis: 'non-inferior', margin: 1 } }))).toMatch(/endpoints\.hypotheses\.cleared\.hypothesis/);
    expect(errorOf(spec({ cleared: { hypothesis: 'equivalence', margin: -1 } }))).toMatch(/endpoints\.hypotheses\.cleared\.margin/);
  });

  const experiment: ExperimentRecord = {
    id: 'trial-h',
    kind: 'trial',
    name: 'hypotheses',
    spec: {},
    seed: 1,
    status: 'finished',
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
    codeVersion: 'abc',
  };

  it('md and html state each endpoint’s hypothesis and margin, the verdict and raw and Holm-adjusted p', async () => {
    const trial = sleepTrial({ hypothesis: 'non-inferiority', margin: 2.5 });
    const md = await renderReport({ experiment, jobs: [], trial }, 'md', { charts: 'omit' });
    expect(md).toContain('### Extra sleep (h) — primary, non-inferiority, margin 2.50 h');
    expect(md).toContain('| Hypothesis | Verdict | p (hypothesis) | p (Holm) |');
    expect(md).toMatch(/\| non-inferiority, margin 2.50 h \| non-inferior: one-sided 97.5% lower bound -2.46 > −Δ = -2.5 \(paired t\), p = 0.02\d \| 0.02\d \| primary: not adjusted \|/);
    const html = await renderReport({ experiment, jobs: [], trial }, 'html');
    expect(html).toContain('non-inferiority, margin 2.50 h');
  });

  it('an analysis stored before hypotheses existed reads as superiority, with Holm over its secondary endpoints', () => {
    const t = analyzeTrial({
      endpoints: [
        { id: 'p', kind: 'continuous', better: 'higher', primary: true },
        { id: 's1', kind: 'continuous', better: 'higher' },
        { id: 's2', kind: 'continuous', better: 'lower' },
      ],
      arms: ['ref', 'new'],
      patients: 8,
      values: (i, arm, e) => (arm === 'ref' ? 0 : e === 's2' ? i - 3.5 : i + 1),
      seed: 4,
      resamples: 500,
    });
    const old = JSON.parse(JSON.stringify(t)) as TrialAnalysis;
    for (const e of old.endpoints) {
      delete e.hypothesis;
      delete e.margin;
      for (const c of e.comparisons) delete c.hypothesis;
    }
    const now = withVerdicts(old);
    expect(now.endpoints.map((e) => e.hypothesis)).toEqual(['superiority', 'superiority', 'superiority']);
    const s = now.endpoints.map((e) => e.comparisons[0]?.hypothesis);
    expect(s[0]?.pAdjusted).toBeNull();
    expect(s.slice(1).map((h) => h?.pAdjusted)).toEqual(holmAdjust(s.slice(1).map((h) => h?.pValue as number)));
    expect(s[1]?.verdict).toBe('superior');
  });
});
