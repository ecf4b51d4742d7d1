import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InlineExecutor } from '../../experiments/executor.js';
import { type RunningServer, startServer } from '../../server/index.js';
import { buildViewer } from '../../viewer/build.js';
import { fitTinyTwin, installTwin } from '../server/twin-fixture.js';
import { apiClient } from './api-client.js';

/**
 * Declared tracks in headless Debian Chromium: small protocol trials of the sepsis, vancomycin and
 * glucose twins; each episode page shows the labels, units, categories and bands its twin declares
 * (read from the rendered vega SVG), the glucose trial page shows the per-arm ambulatory glucose
 * profile, so does a personal twin's page (its dataset's CGM), and none of these pages logs a console
 * error or a vega warning. Screenshots in test-artifacts/.
 */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test-artifacts');
const TOKEN = 'e2e-token-0123456789abcdef';
const TWIN = 'twin-e2etracks0000000';

let server: RunningServer;
let browser: Browser;
let page: Page;
let dataDir: string;
const messages: string[] = [];

const TRIALS = {
  sepsis: {
    kind: 'trial',
    name: 'e2e sepsis tracks',
    seed: 5,
    cohort: { twin: 'sepsis', population: 'icu', size: 2 },
    arms: [
      { name: 'physician', policy: 'sepsis/physician' },
      { name: 'optimal', policy: 'sepsis/optimal' },
    ],
    endpoints: { primary: ['mortality'] },
    reference: 'physician',
  },
  vancomycin: {
    kind: 'trial',
    name: 'e2e vancomycin tracks',
    seed: 8,
    cohort: { twin: 'vancomycin', population: 'adult', size: 2 },
    arms: [
      { name: 'nomogram', policy: 'pkpd/vancomycin-nomogram' },
      { name: 'auc-guided', policy: 'pkpd/vancomycin-auc-guided' },
    ],
    endpoints: { primary: ['target_attained_final'] },
    reference: 'nomogram',
  },
  glucose: {
    kind: 'trial',
    name: 'e2e glucose tracks',
    seed: 2024,
    cohort: { twin: 'glucose', population: 'adult', size: 3, generated: true },
    arms: [
      { name: 'basal-bolus', policy: 'glucose/basal-bolus' },
      { name: 'pid', policy: 'glucose/pid' },
    ],
    duration: { days: 1 },
    endpoints: { primary: ['tir'] },
    reference: 'basal-bolus',
  },
} as const;

const { api, runTrial } = apiClient(() => server.url, TOKEN);


/** Opens the first episode of the trial's first job and returns the text of its tracks chart. */
async function episodeText(id: string): Promise<string> {
  const job = `${id}/job-0`;
  const { episodes } = await api<{ episodes: { key: string }[] }>(`/api/runs/${encodeURIComponent(job)}`);
  const key = episodes[0]?.key as string;
  await page.goto(`${server.url}/?view=episode&id=${encodeURIComponent(id)}&run=${encodeURIComponent(job)}&episode=${encodeURIComponent(key)}`);
  await page.waitForSelector('[data-pane] .chart svg.marks', { timeout: 60_000 });
  await page.click('#step-forward');
  return page.$$eval('[data-pane] .chart svg text', (ts) => ts.map((t) => t.textContent ?? '').join('\n'));
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (scripts/ensure-chromium.sh does it)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  const [fixture] = await Promise.all([fitTinyTwin(), buildViewer()]);
  dataDir = mkdtempSync(join(tmpdir(), 'twinlab-e2e-tracks-'));
  server = await startServer({ dataDir, port: 0, token: TOKEN, executor: new InlineExecutor(), pollMs: 20 });
  installTwin(server.store, fixture, TWIN);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') messages.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (error) => messages.push(`pageerror: ${error.message}`));
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `e2e-tracks-${name}.png`), fullPage: true });

describe('declared tracks in the viewer (headless Chromium)', () => {
  it('sepsis: categorical vitals with their categories, integer step ticks, no glucose band', async () => {
    const id = await runTrial(TRIALS.sepsis);
    const text = await episodeText(id);
    for (const t of ['heart rate', 'systolic BP', 'O2 saturation', 'glucose level', 'very-low', 'very-high', 'antibiotics', 'vasopressors', 'ventilation', 'off', 'on', 'step']) expect(text).toContain(t);
    expect(text).not.toMatch(/mg\/dL|70–180|0\.000000/);
    for (const tick of text.split('\n').filter((t) => /^\d+(\.\d+)?$/.test(t))) expect(tick).toMatch(/^\d+$/);
    expect(await page.textContent('.step-details')).toMatch(/heart rate (low|normal|high)/);
    await shot('sepsis');
    expect(messages).toEqual([]);
  }, 120_000);

  it('vancomycin: dose mg, concentrations mg/L, AUC24 mg·h/L with the 400–600 band, days on the x axis', async () => {
    const id = await runTrial(TRIALS.vancomycin);
    const text = await episodeText(id);
    for (const t of ['dose (mg)', 'concentration (mg/L)', 'AUC24 (mg·h/L)', 'target 400–600 (MIC 1 mg/L)', 'CrCL (mL/min)', 'acute kidney injury', 'clock time', 'day 1', 'day 2']) expect(text).toContain(t);
    expect(text).not.toContain('hour');
    const details = (await page.textContent('.step-details')) ?? '';
    expect(details).toContain('step 2/');
    expect(details).toContain('day 2 00:00');
    expect(details).toMatch(/dose [\d,]+ mg/);
    await shot('vancomycin');
    expect(messages).toEqual([]);
  }, 120_000);

  it('glucose: mg/dL with the 70–180 band, insulin U, carbs g, IOB U on a clock-time axis; the trial page shows the AGP per arm', async () => {
    const id = await runTrial(TRIALS.glucose);
    const text = await episodeText(id);
    for (const t of ['glucose (mg/dL)', 'target 70–180', 'CGM', 'plasma glucose', 'insulin (U)', 'insulin delivered', 'carbohydrate (g)', 'insulin on board (U)', 'carbs on board (g)', 'clock time', '06:00', '12:00']) expect(text).toContain(t);
    // the step details wrap inside the pane instead of running past it
    const overflow = await page.$eval('.step-details', (el) => el.scrollWidth - el.clientWidth);
    expect(overflow).toBeLessThanOrEqual(1);
    await shot('glucose');

    // side by side with another arm: both panes draw the declared tracks on one cursor
    await page.selectOption('#compare', { index: 1 });
    await page.waitForFunction(() => document.querySelectorAll('[data-pane] .chart svg.marks').length === 2, undefined, { timeout: 30_000 });
    await page.click('#step-forward');
    const panes = await page.$$eval('[data-pane]', (els) => els.map((e) => ({ chart: e.querySelector('.chart svg')?.textContent ?? '', details: e.querySelector('.step-details')?.textContent ?? '' })));
    for (const pane of panes) {
      expect(pane.chart).toContain('glucose (mg/dL)');
      expect(pane.details).toContain('step 3/'); // the cursor (step 2) survives the compare, then one step forward
    }
    await shot('glucose-side-by-side');

    await page.goto(`${server.url}/?view=trial&id=${encodeURIComponent(id)}`);
    await page.waitForSelector('#agp svg.marks', { timeout: 60_000 });
    const agp = await page.$$eval('#agp svg text', (ts) => ts.map((t) => t.textContent ?? ''));
    expect(agp.some((t) => t.startsWith('Ambulatory glucose profile'))).toBe(true);
    for (const arm of ['basal-bolus', 'pid']) expect(agp.filter((t) => new RegExp(`^${arm}: \\d+ readings · mean \\d+ mg/dL`).test(t))).toHaveLength(1);
    for (const range of ['< 54 mg/dL', '54–69 mg/dL', '70–180 mg/dL', '181–250 mg/dL', '> 250 mg/dL']) expect(agp.filter((t) => t.startsWith(range))).toHaveLength(2);
    await shot('glucose-trial-agp');
    expect(messages).toEqual([]);
  }, 180_000);

  it('a personal twin page shows the AGP of its dataset\'s CGM', async () => {
    await page.goto(`${server.url}/?view=twin&id=${TWIN}`);
    await page.waitForSelector('#twin-agp svg.marks', { timeout: 60_000 });
    const agp = await page.$$eval('#twin-agp svg text', (ts) => ts.map((t) => t.textContent ?? ''));
    expect(agp.some((t) => t.startsWith('Ambulatory glucose profile, CGM of the fit window'))).toBe(true);
    expect(agp.filter((t) => /^\S+: \d+ readings · mean \d+ mg\/dL/.test(t))).toHaveLength(1);
    expect(agp.filter((t) => t.startsWith('70–180 mg/dL: '))).toHaveLength(1);
    await page.locator('#twin-agp').screenshot({ path: join(ARTIFACTS, 'e2e-tracks-twin-agp.png') });
    // no exemption left: the page's posteriors and live chart no longer warn on empty extents
    expect(messages).toEqual([]);
  }, 120_000);
});
