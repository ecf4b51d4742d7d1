import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../engine/random.js';
import { type CvgaPoint, cvgaPosition, cvgaZone, forestRowsFromTrial, type LearningSeries, percentileBands, seedBands } from '../../experiments/charts.js';
import { formatP, type ReportInput, renderReport, renderSvg } from '../../experiments/report.js';
import type { ExperimentRecord, JobRecord } from '../../experiments/store.js';
import { analyzeTrial } from '../../experiments/trial-analysis.js';

const experiment: ExperimentRecord = {
  id: 'trial-1',
  kind: 'trial',
  name: 'PID vs basal-bolus <adults>',
  spec: {},
  seed: 7,
  status: 'finished',
  createdAt: '2025-01-01T00:00:00.000Z',
  updatedAt: '2025-01-01T00:10:00.000Z',
  codeVersion: 'abc',
};
const jobs: JobRecord[] = [
  { id: 'j0', experimentId: 'trial-1', index: 0, kind: 'trial', config: {}, seed: 1, status: 'finished', attempts: 1 },
  { id: 'j1', experimentId: 'trial-1', index: 1, kind: 'trial', config: {}, seed: 2, status: 'failed', attempts: 2, error: 'integration failed at t=3' },
];

function trialInput(): ReportInput {
  const n = 12;
  const rng = Rng.fromSeed(4);
  const table = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    for (const arm of ['basal-bolus', 'pid']) {
      table.set(`${i}/${arm}/tir`, 60 + (arm === 'pid' ? 8 : 0) + rng.normal(0, 4));
      table.set(`${i}/${arm}/hypo`, rng.bernoulli(0.3) ? 1 : 0);
    }
  }
  const trial = analyzeTrial({
    endpoints: [
      { id: 'tir', label: 'Time in range', unit: '%', kind: 'continuous', better: 'higher', primary: true },
      { id: 'hypo', label: 'Severe hypoglycaemia', unit: '', kind: 'binary', better: 'lower', safety: true },
    ],
    arms: ['basal-bolus', 'pid'],
    patients: n,
    values: (i, arm, e) => table.get(`${i}/${arm}/${e}`) as number,
    seed: 7,
    resamples: 500,
  });
  const samples: { arm: string; hour: number; value: number }[] = [];
  for (const arm of ['basal-bolus', 'pid'])
    for (let k = 0; k < 24 * 12 * 3; k++) samples.push({ arm, hour: k / 12, value: 120 + 40 * Math.sin(k / 30) + rng.normal(0, 10) });
  const cvga: CvgaPoint[] = Array.from({ length: n }, (_, i) => ({ arm: i % 2 ? 'pid' : 'basal-bolus', patient: i, minBG: 60 + 4 * i, maxBG: 150 + 20 * i }));
  return { experiment, jobs, trial, bands: percentileBands(samples, 1), cvga };
}

const count = (text: string, needle: string | RegExp): number => text.split(needle).length - 1;

describe('chart helpers', () => {
  it('classifies CVGA zones and places values on the piecewise axes (Magni et al. 2008)', () => {
    expect(cvgaZone(100, 150)).toBe('A');
    expect(cvgaZone(80, 170)).toBe('Lower B');
    expect(cvgaZone(95, 250)).toBe('Upper B');
    expect(cvgaZone(75, 250)).toBe('B');
    expect(cvgaZone(60, 160)).toBe('Lower C');
    expect(cvgaZone(100, 350)).toBe('Upper C');
    expect(cvgaZone(60, 250)).toBe('Lower D');
    expect(cvgaZone(80, 350)).toBe('Upper D');
    expect(cvgaZone(55, 420)).toBe('E');
    const X = [110, 90, 70, 50];
    expect(cvgaPosition(110, X)).toBe(0);
    expect(cvgaPosition(95, X)).toBe(0.75);
    expect(cvgaPosition(60, X)).toBe(2.5);
    expect(cvgaPosition(20, X)).toBe(3); // clipped onto the border
    expect(cvgaPosition(240, [110, 180, 300, 400])).toBe(1.5);
  });

  it('computes percentile bands by time of day and seed bands across runs', () => {
    const samples = Array.from({ length: 11 }, (_, k) => ({ arm: 'a', hour: 25.5, value: k * 10 })); // hour 25.5 ≡ 1.5
    const [bands] = percentileBands(samples, 1);
    expect(bands?.bins).toEqual([{ t: 1.5, p10: 10, p25: 25, p50: 50, p75: 75, p90: 90 }]);
    const band = seedBands(
      [
        { id: 's0', group: 'g', steps: [0, 10, 20], values: [0, 10, 20] },
        { id: 's1', group: 'g', steps: [0, 20], values: [2, 22] },
      ],
      3,
    );
    expect(band.map((b) => b.step)).toEqual([0, 10, 20]);
    expect(band.map((b) => b.mean)).toEqual([1, 11, 21]);
    expect(band[0]?.sd).toBeCloseTo(Math.SQRT2, 12);
    expect(band[0]?.n).toBe(2);
  });

  it('renders a learning curve with one thin line per seed and a band', async () => {
    const series: LearningSeries = {
      metric: 'episode.return',
      runs: [0, 1, 2].map((s) => ({
        id: `seed ${s}`,
        group: 'lr=1e-3',
        steps: Float64Array.from({ length: 50 }, (_, i) => i * 100),
        values: Float64Array.from({ length: 50 }, (_, i) => i + s),
      })),
    };
    const svg = await renderSvg((await import('../../experiments/charts.js')).learningCurveSpec(series));
    expect(svg.startsWith('<svg')).toBe(true);
    expect(count(svg, 'aria-roledescription="area mark"')).toBe(1);
    expect(count(svg, 'aria-roledescription="line mark"')).toBe(4); // three seeds + the mean
  });
});

describe('renderReport', () => {
  const input = trialInput();

  it('html embeds one inline SVG per chart with the expected marks, primary endpoints first', async () => {
    const html = await renderReport(input, 'html');
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('PID vs basal-bolus &lt;adults&gt;'); // escaped
    expect(count(html, '<svg')).toBe(3); // forest, glucose bands, CVGA
    // the primary endpoint leads the endpoint tables (issue #13: the primary came last)
    expect(html.indexOf('<h3 class="">Time in range')).toBeGreaterThan(0);
    expect(html.indexOf('<h3 class="">Time in range')).toBeLessThan(html.indexOf('<h3 class="safety">Severe hypoglycaemia'));
    expect(html).toContain('integration failed at t=3');
    const forest = html.slice(html.indexOf('id="chart-forest"'), html.indexOf('id="chart-glucose-bands"'));
    expect(count(forest, 'aria-roledescription="point"')).toBe(forestRowsFromTrial(input.trial!).length);
    expect(forest).toContain('pid − basal-bolus');
    const bands = html.slice(html.indexOf('id="chart-glucose-bands"'), html.indexOf('id="chart-cvga"'));
    expect(count(bands, 'aria-roledescription="area mark"')).toBe(4); // two bands × two arms
    expect(count(bands, 'aria-roledescription="line mark"')).toBe(2);
    const cvga = html.slice(html.indexOf('id="chart-cvga"'));
    expect(count(cvga, 'aria-roledescription="point"')).toBe(12);
    expect(count(cvga, 'aria-roledescription="rect mark"')).toBe(9);
    expect(cvga).toContain('Upper D');
  });

  it('md inlines SVG data URIs by default or writes SVG files next to it', async () => {
    const md = await renderReport(input, 'md');
    expect(md).toMatch(/^# PID vs basal-bolus <adults>/);
    expect(count(md, '](data:image/svg+xml;base64,')).toBe(3);
    const uri = /\]\(data:image\/svg\+xml;base64,([^)]+)\)/.exec(md)?.[1] as string;
    expect(Buffer.from(uri, 'base64').toString('utf8').startsWith('<svg')).toBe(true);
    expect(md.indexOf('### Time in range')).toBeGreaterThan(0);
    expect(md.indexOf('### Time in range')).toBeLessThan(md.indexOf('### Severe hypoglycaemia'));
    const tir = input.trial!.endpoints.find((e) => e.id === 'tir')!.comparisons[0]!;
    expect(md).toContain(`| pid − basal-bolus | 12 |`);
    expect(md).toContain(formatP(tir.test.pValue));
    const dir = mkdtempSync(path.join(tmpdir(), 'twinlab-report-'));
    try {
      const withFiles = await renderReport(input, 'md', { chartDir: path.join(dir, 'charts'), mdDir: dir, chartPrefix: 'r' });
      expect(readdirSync(path.join(dir, 'charts')).sort()).toEqual(['r-cvga.svg', 'r-forest.svg', 'r-glucose-bands.svg']);
      expect(withFiles).toContain('](charts/r-forest.svg)');
      expect(readFileSync(path.join(dir, 'charts', 'r-cvga.svg'), 'utf8')).toContain('Lower D');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('json is the raw analysis', async () => {
    const parsed = JSON.parse(await renderReport(input, 'json'));
    expect(parsed.trial).toEqual(JSON.parse(JSON.stringify(input.trial)));
    expect(parsed.experiment.id).toBe('trial-1');
    expect(parsed.jobs).toHaveLength(2);
    await expect(renderReport(input, 'pdf' as never)).rejects.toThrow(/report format "pdf"/);
  });
});

describe('buildReport', () => {
  it('an unknown experiment is a NOT_FOUND TwinlabError (HTTP 404, exit 2), not a plain Error', async () => {
    const { buildReport } = await import('../../experiments/report-builder.js');
    const { Store } = await import('../../experiments/store.js');
    const { TwinlabError } = await import('../../engine/errors.js');
    const dir = mkdtempSync(path.join(tmpdir(), 'twinlab-report-'));
    const store = Store.open(dir);
    try {
      const error = await buildReport(store, 'BADID', 'json').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TwinlabError);
      expect(error).toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('BADID') });
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
