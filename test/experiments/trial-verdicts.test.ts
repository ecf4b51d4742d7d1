import { describe, expect, it } from 'vitest';
import { forestPlotSpec, forestRowsFromTrial } from '../../experiments/charts.js';
import { renderReport, renderSvg } from '../../experiments/report.js';
import type { ExperimentRecord } from '../../experiments/store.js';
import { analyzeTrial, favoursVerdict, type TrialAnalysis } from '../../experiments/trial-analysis.js';

const experiment: ExperimentRecord = {
  id: 'trial-v',
  kind: 'trial',
  name: 'verdicts',
  spec: {},
  seed: 1,
  status: 'finished',
  createdAt: '2025-01-01T00:00:00.000Z',
  updatedAt: '2025-01-01T00:00:00.000Z',
  codeVersion: 'abc',
};

/**
 * 20 patients: the new arm lowers mean glucose by ~70 mg/dL in everyone (CI and p agree), raises TIR,
 * and causes a severe hypo in 4 patients where the reference had none (McNemar b=0, c=4: exact
 * p = 0.125, while the bootstrap CI of the risk difference, [0.05, 0.4], excludes 0).
 */
function trial(): TrialAnalysis {
  const n = 20;
  return analyzeTrial({
    endpoints: [
      { id: 'mean_bg', label: 'Mean glucose', unit: 'mg/dL', kind: 'continuous', better: 'none' },
      { id: 'hypo', label: 'Severe hypoglycaemia', unit: '', kind: 'binary', better: 'lower', safety: true },
      { id: 'tir', label: 'Time in range 70–180 mg/dL (a long label that must not be truncated)', unit: '%', kind: 'continuous', better: 'higher', primary: true },
    ],
    arms: ['ref', 'new'],
    patients: n,
    values: (i, arm, e) => {
      if (e === 'mean_bg') return arm === 'ref' ? 220 + (i % 7) : 150 - (i % 5);
      if (e === 'tir') return arm === 'ref' ? 40 + (i % 9) : 75 + (i % 4);
      return arm === 'new' && i < 4 ? 1 : 0;
    },
    seed: 3,
    resamples: 2000,
  });
}

describe('the favours rule', () => {
  it('an endpoint without a better direction is n/a, not "neither", even with a clear difference', () => {
    const mean = trial().endpoints.find((e) => e.id === 'mean_bg')?.comparisons[0];
    expect(mean?.ci?.upper).toBeLessThan(0);
    expect(mean?.test.pValue).toBeLessThan(0.001);
    expect(mean?.favours).toBe('n/a');
    expect(mean?.agreement).toBe('agree');
    expect(mean?.note).toMatch(/^n\/a: the endpoint has no better direction/);
  });

  it('a CI excluding 0 with a non-significant test is flagged as a disagreement, with the p-value', () => {
    const hypo = trial().endpoints.find((e) => e.id === 'hypo')?.comparisons[0];
    expect(hypo?.test.name).toBe('mcnemar');
    expect(hypo?.test.pValue).toBeCloseTo(0.125, 10);
    expect(hypo?.ci?.lower).toBeGreaterThan(0);
    expect(hypo?.favours).toBe('reference');
    expect(hypo?.agreement).toBe('ci-only');
    expect(hypo?.note).toContain('p = 0.125');
    expect(hypo?.note).toContain('CI and test disagree');
  });

  it('the superiority verdict says which side of 0 the CI lies on, never "favours rule"', () => {
    const t = trial();
    const tir = t.endpoints.find((e) => e.id === 'tir')?.comparisons[0];
    const hypo = t.endpoints.find((e) => e.id === 'hypo')?.comparisons[0];
    expect(tir?.hypothesis?.note).toMatch(/^superior: the 95% CI excludes 0 on the better side, p < 0\.001/);
    expect(hypo?.hypothesis?.note).toMatch(/^inferior: the 95% CI excludes 0 on the worse side, p = 0\.125/);
  });

  it('covers the remaining cases of the rule', () => {
    const v = (lower: number, upper: number, p: number, better: 'higher' | 'lower' | 'none') =>
      favoursVerdict({ arm: 'a', reference: 'r', ci: { lower, upper }, pValue: p }, better, 0.95);
    expect(v(1, 2, 0.01, 'higher')).toMatchObject({ favours: 'arm', agreement: 'agree' });
    expect(v(1, 2, 0.01, 'lower')).toMatchObject({ favours: 'reference', agreement: 'agree' });
    expect(v(-1, 2, 0.5, 'higher')).toMatchObject({ favours: 'neither', agreement: 'agree' });
    expect(v(-1, 2, 0.01, 'higher')).toMatchObject({ favours: 'neither', agreement: 'test-only' });
    expect(v(-1, 2, 0.01, 'higher').note).toContain('the paired test is significant (p = 0.010) but the CI covers 0');
  });

  it('md, html and json all report the rule, also for an analysis stored with the old verdicts', async () => {
    const t = trial();
    // As stored before the rule: favours 'neither' for mean glucose, no agreement/note.
    const old = JSON.parse(JSON.stringify(t)) as TrialAnalysis;
    for (const e of old.endpoints)
      for (const c of e.comparisons) {
        (c as { favours: string }).favours = 'neither';
        delete (c as { agreement?: string }).agreement;
        delete (c as { note?: string }).note;
      }
    const input = { experiment, jobs: [], trial: old };
    const md = await renderReport(input, 'md', { charts: 'omit' });
    const html = await renderReport(input, 'html');
    const json = JSON.parse(await renderReport(input, 'json')) as { trial: TrialAnalysis };
    for (const text of [md, html]) {
      expect(text).toContain('n/a: the endpoint has no better direction');
      expect(text).toContain('CI and test disagree');
    }
    const byId = new Map(json.trial.endpoints.map((e) => [e.id, e.comparisons[0]]));
    expect(byId.get('mean_bg')?.favours).toBe('n/a');
    expect(byId.get('hypo')?.agreement).toBe('ci-only');
    expect(byId.get('tir')?.favours).toBe('arm');
  });
});

describe('report output', () => {
  it('md with charts omitted has no inline images and says how to get them', async () => {
    const md = await renderReport({ experiment, jobs: [], trial: trial() }, 'md', { charts: 'omit', chartsHint: 'Use --out report.md.' });
    expect(md).not.toContain('data:image');
    expect(md).toContain('Paired differences (forest plot)');
    expect(md).toContain('Use --out report.md.');
    const inline = await renderReport({ experiment, jobs: [], trial: trial() }, 'md');
    expect(inline).toContain('data:image/svg+xml;base64');
  });

  it('forest plot: primary first, one panel per unit with the unit in the x title, full labels, zero rule', async () => {
    const rows = forestRowsFromTrial(trial());
    expect(rows[0]?.endpoint).toMatch(/^Time in range/);
    const spec = forestPlotSpec(rows) as unknown as { vconcat: { layer: { encoding: { x: { title?: string } } }[] }[] };
    const titles = spec.vconcat.map((p) => p.layer[1]?.encoding.x.title);
    expect(titles).toEqual(['Difference, new − ref (percentage points)', 'Difference, new − ref (risk difference)', 'Difference, new − ref (mg/dL)']);
    const warnings: string[] = [];
    const original = console.warn;
    console.warn = (...args: unknown[]) => void warnings.push(args.map(String).join(' '));
    let svg: string;
    try {
      svg = await renderSvg(forestPlotSpec(rows));
    } finally {
      console.warn = original;
    }
    expect(warnings.filter((w) => /Infinite extent/.test(w))).toEqual([]);
    expect(svg).toContain('Time in range 70–180 mg/dL (a long label that must not be truncated) (%) [primary]');
    expect(svg).not.toContain('…');
    expect(svg).toContain('Difference, new − ref (mg/dL)');
    expect(svg.split('aria-roledescription="point"').length - 1).toBe(3);
  });
});
