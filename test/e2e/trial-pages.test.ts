import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InlineExecutor } from '../../experiments/executor.js';
import { type RunningServer, startServer } from '../../server/index.js';
import { buildViewer } from '../../viewer/build.js';
import { apiClient } from './api-client.js';

/**
 * Issue #13 items 1, 2, 4 and 7 in headless Debian Chromium, on small protocol trials of five twins
 * (sepsis, vancomycin, HIV, chemotherapy, glucose): the trial page's forest plot (labels horizontal,
 * whole and not overlapping; x axis titled with the endpoint's unit, percentage points for a
 * difference of percentages; primary endpoint first; a panel per unit), the HTML report's reviewer
 * sections (methods, participant flow, baseline characteristics by arm, multiplicity, reproducibility),
 * the HIV and chemotherapy tracks (units, clock time, no 0.000000 ticks), side-by-side arms named by
 * arm and patient on a shared y scale — and no console error or vega warning on any of these pages,
 * at 1400 and 800 px. Screenshots in test-artifacts/e2e-pages-*.png.
 */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test-artifacts');
const TOKEN = 'e2e-token-0123456789abcdef';

let server: RunningServer;
let browser: Browser;
let page: Page;
let dataDir: string;
const messages: string[] = [];
const ids: Record<string, string> = {};

const TRIALS = {
  sepsis: {
    kind: 'trial',
    name: 'e2e pages sepsis',
    seed: 5,
    cohort: { twin: 'sepsis', population: 'icu', size: 4 },
    arms: [
      { name: 'physician', policy: 'sepsis/physician' },
      { name: 'optimal', policy: 'sepsis/optimal' },
    ],
    endpoints: { primary: ['discharge'], secondary: ['mortality'] },
    reference: 'physician',
  },
  vancomycin: {
    kind: 'trial',
    name: 'e2e pages vancomycin',
    seed: 8,
    cohort: { twin: 'vancomycin', population: 'adult', size: 3 },
    arms: [
      { name: 'nomogram', policy: 'pkpd/vancomycin-nomogram' },
      { name: 'auc-guided', policy: 'pkpd/vancomycin-auc-guided' },
    ],
    endpoints: { primary: ['target_attained_final', 'aki'], secondary: ['total_dose'] },
    reference: 'nomogram',
  },
  hiv: {
    kind: 'trial',
    name: 'e2e pages hiv',
    seed: 7,
    cohort: { twin: 'hiv', population: 'randomized', size: 2 },
    arms: [
      { name: 'always-on', policy: 'hiv/always-on' },
      { name: 'cycling', policy: 'hiv/cycling' },
    ],
    endpoints: { primary: ['log10_viral_load_final', 'cd4_final', 'drug_days'] },
    reference: 'always-on',
  },
  chemo: {
    kind: 'trial',
    name: 'e2e pages chemo',
    seed: 6,
    cohort: { twin: 'chemo', population: 'virtual', size: 2 },
    arms: [
      { name: 'mtd', policy: 'oncology/chemo-mtd' },
      { name: 'pulsed', policy: 'oncology/chemo-pulsed' },
    ],
    endpoints: { primary: ['time_to_clearance', 'death', 'normal_nadir'], secondary: ['cumulative_dose'] },
    reference: 'mtd',
  },
  glucose: {
    kind: 'trial',
    name: 'e2e pages glucose',
    seed: 2024,
    cohort: { twin: 'glucose', population: 'adult', size: 4, generated: true },
    arms: [
      { name: 'basal-only', policy: 'glucose/basal' },
      { name: 'pid', policy: 'glucose/pid' },
    ],
    duration: { days: 1 },
    endpoints: { primary: ['tir', 'tbr70'], secondary: ['tbr54', 'mean_bg'] },
    reference: 'basal-only',
  },
} as const;

const { api, runTrial } = apiClient(() => server.url, TOKEN);


interface AxisLabel {
  text: string;
  transform: string;
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/** The forest plot's y-axis labels (endpoint · comparison) with their boxes, in drawing order. */
function forestLabels(root: string): Promise<AxisLabel[][]> {
  return page.$$eval(`${root} svg g.mark-group.role-axis`, (axes) =>
    axes
      .filter((a) => (a.getAttribute('aria-label') ?? '').startsWith('Y-axis'))
      .map((a) =>
        Array.from(a.querySelectorAll('g.role-axis-label text')).map((t) => {
          const box = t.getBoundingClientRect();
          return { text: t.textContent ?? '', transform: t.getAttribute('transform') ?? '', top: box.top, bottom: box.bottom, left: box.left, right: box.right };
        }),
      ),
  );
}

/** Titles of the forest plot's x axes, one per panel. */
function xTitles(root: string): Promise<string[]> {
  return page.$$eval(`${root} svg g.mark-group.role-axis`, (axes) =>
    axes.filter((a) => (a.getAttribute('aria-label') ?? '').startsWith('X-axis')).map((a) => a.querySelector('g.role-axis-title text')?.textContent ?? ''),
  );
}

function expectReadable(panels: AxisLabel[][]): void {
  expect(panels.length).toBeGreaterThan(0);
  for (const labels of panels) {
    expect(labels.length).toBeGreaterThan(0);
    for (const l of labels) {
      expect(l.transform).not.toMatch(/rotate\((?!0\))/); // horizontal
      expect(l.text).not.toContain('…'); // not truncated
    }
    const sorted = [...labels].sort((a, b) => a.top - b.top);
    for (let i = 1; i < sorted.length; i++) expect((sorted[i] as AxisLabel).top).toBeGreaterThanOrEqual((sorted[i - 1] as AxisLabel).bottom - 1); // no overlap
  }
}

async function openTrial(twin: keyof typeof TRIALS): Promise<void> {
  await page.goto(`${server.url}/?view=trial&id=${encodeURIComponent(ids[twin] as string)}`);
  await page.waitForSelector('#forest svg.marks', { timeout: 60_000 });
}

/** Opens job-0's episode side by side with job-1 (the same patient in the second arm: jobs are patient-major). */
async function openSideBySide(twin: keyof typeof TRIALS): Promise<{ titles: string[]; subtitles: string[]; ticks: string[][] }> {
  const id = ids[twin] as string;
  await page.goto(`${server.url}/?view=episode&id=${encodeURIComponent(id)}&run=${encodeURIComponent(`${id}/job-0`)}&episode=episode-0&cursor=2`);
  await page.waitForSelector('#compare');
  await page.selectOption('#compare', { index: 1 });
  await page.waitForFunction(() => document.querySelectorAll('[data-pane] .chart svg.marks').length === 2, undefined, { timeout: 30_000 });
  return page.$$eval('[data-pane]', (panes) => ({
    titles: panes.map((p) => p.querySelector('h2')?.textContent ?? ''),
    subtitles: panes.map((p) => p.querySelector('.pane-subtitle')?.textContent ?? ''),
    // every y axis's tick labels, per pane in drawing order
    ticks: panes.map((p) =>
      Array.from(p.querySelectorAll('.chart svg g.mark-group.role-axis'))
        .filter((a) => (a.getAttribute('aria-label') ?? '').startsWith('Y-axis'))
        .map((a) => Array.from(a.querySelectorAll('g.role-axis-label text')).map((t) => t.textContent ?? '').join(' ')),
    ) as unknown as string[],
  })) as unknown as Promise<{ titles: string[]; subtitles: string[]; ticks: string[][] }>;
}

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `e2e-pages-${name}.png`), fullPage: true });

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (scripts/ensure-chromium.sh does it)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  await buildViewer();
  dataDir = mkdtempSync(join(tmpdir(), 'twinlab-e2e-pages-'));
  server = await startServer({ dataDir, port: 0, token: TOKEN, executor: new InlineExecutor(), pollMs: 20 });
  for (const [twin, spec] of Object.entries(TRIALS)) ids[twin] = await runTrial(spec);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') messages.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (error) => messages.push(`pageerror: ${error.message}`));
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('trial pages, reports and side-by-side arms (headless Chromium)', () => {
  it('item 1: the viewer forest plot — horizontal whole labels, primary first, a panel per unit titled with it', async () => {
    await openTrial('glucose');
    const panels = await forestLabels('#forest');
    expectReadable(panels);
    // tir is declared first among the primary endpoints: it leads although tbr70 is a safety endpoint
    // (one comparison: it is named in the x titles, not on every row)
    expect(panels[0]?.[0]?.text).toBe('Time in range 70–180 mg/dL (%) [primary]');
    expect(panels[0]?.[1]?.text).toBe('Time below 70 mg/dL (%) [primary, safety]');
    expect(await xTitles('#forest')).toEqual(['Difference, pid − basal-only (percentage points)', 'Difference, pid − basal-only (mg/dL)']);
    // the tables lead with the primary endpoint too
    expect(await page.textContent('#differences tr:nth-child(2) td')).toBe('Time in range 70–180 mg/dL (%) [primary]');
    await page.locator('#forest').screenshot({ path: join(ARTIFACTS, 'e2e-pages-forest-glucose.png') });

    // a binary endpoint and a continuous one in other units: one panel each
    await openTrial('vancomycin');
    expectReadable(await forestLabels('#forest'));
    const titles = await xTitles('#forest');
    expect(titles).toContain('Difference, auc-guided − nomogram (risk difference)');
    expect(titles).toContain('Difference, auc-guided − nomogram (g)');
    await page.locator('#forest').screenshot({ path: join(ARTIFACTS, 'e2e-pages-forest-vancomycin.png') });
    expect(messages).toEqual([]);
  }, 120_000);

  it('item 7: the HTML report carries methods, participant flow, baseline by arm, multiplicity, reproducibility; its forest is readable', async () => {
    const id = ids.glucose as string;
    await page.goto(`${server.url}/api/experiments/${encodeURIComponent(id)}/report?format=html`);
    await page.waitForSelector('#chart-forest svg');
    const headings = await page.$$eval('h2', (hs) => hs.map((h) => h.textContent));
    expect(headings.slice(0, 7)).toEqual(['Jobs', 'Methods', 'Participant flow', 'Baseline characteristics by arm', 'Multiplicity', 'Reproducibility', 'Endpoints']);
    const flow = await page.$$eval('#flow-table tbody tr', (rows) => rows.map((r) => Array.from(r.querySelectorAll('td')).map((td) => td.textContent)));
    expect(flow).toEqual([
      ['basal-only', '4', '4', '0', '4', '0'],
      ['pid', '4', '4', '0', '4', '0'],
    ]);
    const baseline = await page.$$eval('#baseline-table tbody tr', (rows) => rows.map((r) => r.querySelector('td')?.textContent ?? ''));
    expect(baseline).toContain('Patients');
    // each row carries the label and unit the twin declares (TwinDefinition.covariates), not its key
    for (const row of [
      'Age (years), mean ± SD; median [min – max]',
      'Body weight (kg), mean ± SD; median [min – max]',
      'Basal plasma glucose (mg/dL), mean ± SD; median [min – max]',
      'Carbohydrate ratio (g/U), mean ± SD; median [min – max]',
      'Correction factor (mg/dL/U), mean ± SD; median [min – max]',
      'Total daily insulin (U/day), mean ± SD; median [min – max]',
    ])
      expect(baseline).toContain(row);
    expect(baseline.filter((r) => r.includes('not declared'))).toEqual([]);
    const vanco = await (await fetch(`${server.url}/api/experiments/${encodeURIComponent(ids.vancomycin as string)}/report?format=html`)).text();
    for (const row of ['Serum creatinine (mg/dL), mean ± SD', 'Creatinine clearance (Cockcroft–Gault) (mL/min), mean ± SD', 'Vancomycin clearance CL (L/h), mean ± SD', 'Sex = F, n (%)'])
      expect(vanco).toContain(row);
    expect(vanco).not.toContain('not declared');
    const reportOf = async (twin: string) => (await fetch(`${server.url}/api/experiments/${encodeURIComponent(ids[twin] as string)}/report?format=html`)).text();
    const hiv = await reportOf('hiv');
    expect(hiv).toContain('T1 infection rate k1 (mL/(virion·day)), mean ± SD');
    const chemo = await reportOf('chemo');
    expect(chemo).toContain('Tumour growth rate r1 (/day), mean ± SD');
    for (const report of [hiv, chemo]) expect(report).not.toContain('not declared');
    const repro = (await page.textContent('.repro')) ?? '';
    expect(repro).toMatch(/Spec SHA-256 \(canonical JSON, keys sorted\): [0-9a-f]{64}/);
    expect(repro).toContain(`twinlab replay ${id}/job-0 --verify`);
    expect(await page.textContent('#multiplicity + p')).toMatch(/^The 2 primary endpoints × 1 comparison with the reference make 2 primary tests/);
    const h3 = await page.$$eval('h3', (hs) => hs.map((h) => h.textContent ?? ''));
    expect(h3[0]).toMatch(/^Time in range 70–180 mg\/dL \(%\) — primary/);
    expectReadable(await forestLabels('#chart-forest'));
    expect(await page.$$eval('#chart-forest svg text', (ts) => ts.map((t) => t.textContent))).toContain('Difference, pid − basal-only (percentage points)');
    await shot('report-glucose');
    expect(messages).toEqual([]);
  }, 120_000);

  it('item 2: HIV and chemotherapy tracks with their units on a clock-time axis, no 0.000000 ticks', async () => {
    for (const [twin, expected] of [
      ['hiv', ['viral load (log10 copies/mL)', 'uninfected CD4+ T cells (T1) (cells/mL)', 'drugs', 'RTI+PI', 'none', 'clock time', 'day 1']],
      ['chemo', ['clock time', 'day 1']],
    ] as const) {
      const id = ids[twin] as string;
      await page.goto(`${server.url}/?view=episode&id=${encodeURIComponent(id)}&run=${encodeURIComponent(`${id}/job-0`)}&episode=episode-0`);
      await page.waitForSelector('[data-pane] .chart svg.marks', { timeout: 60_000 });
      const text = await page.$$eval('[data-pane] .chart svg text', (ts) => ts.map((t) => t.textContent ?? ''));
      for (const t of expected) expect(text).toContain(t);
      expect(text.join('\n')).not.toMatch(/\d\.0{6}|e[+-]\d/); // no 0.000000 / 1.000000 ticks, no exponents
      // every panel title names a unit or is a categorical state
      await shot(`tracks-${twin}`);
    }
    expect(messages).toEqual([]);
  }, 120_000);

  it('item 4: side-by-side arms named by arm and patient, on shared y scales', async () => {
    for (const [twin, arms] of [
      ['glucose', ['basal-only', 'pid']],
      ['vancomycin', ['nomogram', 'auc-guided']],
      ['sepsis', ['physician', 'optimal']],
    ] as const) {
      const { titles, subtitles, ticks } = await openSideBySide(twin);
      const job0 = await api<{ config: { patientId: string } }>(`/api/runs/${encodeURIComponent(`${ids[twin]}/job-0`)}`);
      expect(titles).toEqual(arms.map((arm) => `${arm} · ${job0.config.patientId}`));
      expect(subtitles).toEqual(['job-0 · episode-0', 'job-1 · episode-0']);
      // each y axis has the same ticks in both panes
      expect(ticks[0]?.length).toBeGreaterThan(0);
      expect(ticks[1]).toEqual(ticks[0]);
      await shot(`side-by-side-${twin}`);
    }
    expect(messages).toEqual([]);
  }, 120_000);

  it('at 800 px: trial page, report and side by side stay readable and quiet', async () => {
    await page.setViewportSize({ width: 800, height: 900 });
    try {
      await openTrial('chemo');
      expectReadable(await forestLabels('#forest'));
      // nothing runs past the page's right edge (the forest's legend did)
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(800);
      await shot('trial-chemo-800px');
      const { titles } = await openSideBySide('chemo');
      expect(titles.map((t) => t.split(' · ')[0])).toEqual(['mtd', 'pulsed']);
      await shot('side-by-side-chemo-800px');
      await openTrial('sepsis');
      await shot('trial-sepsis-800px');
    } finally {
      await page.setViewportSize({ width: 1400, height: 1000 });
    }
    expect(messages).toEqual([]);
  }, 120_000);
});
