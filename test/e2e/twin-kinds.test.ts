import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InlineExecutor } from '../../experiments/executor.js';
import { type RunningServer, startServer } from '../../server/index.js';
import { buildViewer } from '../../viewer/build.js';
import { fitTinyT2DTwin, fitVancoTwinWithCli, installT2DTwin } from '../server/twin-kinds-fixture.js';

/**
 * The type 2 diabetes and vancomycin twin pages in headless Debian Chromium (issue #18, "from the CLI
 * and the viewer"): the twins list names each kind; the type 2 page draws the fit over the logged
 * meals, posteriors, forecast cones, the live stream (CGM rows posted through the API arrive) and two
 * what-if replays (a GI change and a food swap) with their endpoints; the vancomycin page draws the concentration curve with the measured levels, its band and
 * the dose table's best regimen continued after the recorded doses, the dose table itself, the
 * estimates and posteriors, redraws the curve for a clicked regimen and takes a level posted live
 * (socket twin-update: the MAP re-fit, the level on the curve). Axis titles carry units and
 * the clock; no console errors and no vega warnings. Screenshots: test-artifacts/e2e-twin-t2d.png,
 * e2e-twin-vancomycin.png, e2e-twin-vancomycin-live.png.
 */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test-artifacts');
const TOKEN = 'e2e-token-0123456789abcdef';
const T2D = 'twin-e2e2000000000000';

let server: RunningServer;
let browser: Browser;
let page: Page;
let dataDir: string;
let vancoId: string;
let swapAt: string;
const messages: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (scripts/ensure-chromium.sh does it)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  const [t2d] = await Promise.all([fitTinyT2DTwin(), buildViewer()]);
  dataDir = mkdtempSync(join(tmpdir(), 'twinlab-e2e-twin-kinds-'));
  server = await startServer({ dataDir, port: 0, token: TOKEN, executor: new InlineExecutor(), pollMs: 20 });
  installT2DTwin(server.store, t2d, T2D);
  const vanco = await fitVancoTwinWithCli(server.store, 'v1');
  vancoId = vanco.id;
  // a trial on the twin's posterior draws (its spec's cohort.personal is the twin's directory), listed on its page
  server.store.createExperiment({
    id: 'exp-vanco-trial',
    kind: 'trial',
    name: 'bayesian vs nomogram',
    spec: { kind: 'trial', cohort: { twin: 'vancomycin', personal: vanco.dir, draws: 40 } },
    seed: 1,
    codeVersion: 'test',
    jobs: [{ id: 'exp-vanco-trial-j0', index: 0, kind: 'trial', config: {}, seed: 1 }],
  });
  // a logged meal of the last day, to swap for lentils
  const d = t2d.dataset;
  let k = d.cgm.length - 280;
  while ((d.carbsG[k] as number) < 30) k++;
  swapAt = new Date(d.startMs + k * 300_000).toISOString().replace('.000Z', 'Z');
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

const texts = (selector: string) => page.$$eval(`${selector} svg text`, (ts) => ts.map((t) => t.textContent ?? ''));

describe('type 2 and vancomycin twin pages in headless Chromium', () => {
  it('lists each twin with its kind', async () => {
    await page.goto(`${server.url}/?view=twins#token=${TOKEN}`);
    await page.waitForSelector(`tr[data-twin="${vancoId}"]`);
    expect(await page.textContent(`tr[data-twin="${T2D}"] td[data-kind]`)).toBe('type 2 diabetes');
    expect(await page.textContent(`tr[data-twin="${vancoId}"] td[data-kind]`)).toBe('vancomycin');
    expect(await page.textContent(`tr[data-twin="${vancoId}"]`)).toMatch(/AUC24 [\d.]+ mg·h\/L/);
  });

  it('type 2 page: fit over the meals, posteriors, cones, live rows, a GI change and a food swap with endpoints', async () => {
    await page.click(`tr[data-twin="${T2D}"] a`);
    await page.waitForSelector('#twin-summary[data-kind="glucose-t2d"]');
    for (const chart of ['twin-fit', 'twin-posteriors', 'twin-forecast', 'twin-replay']) await page.waitForSelector(`#${chart} svg.marks`, { timeout: 60_000 });
    await page.waitForSelector('#replay-endpoints tr[data-endpoint="time_in_range_70_180"]', { timeout: 60_000 });
    const fit = await texts('#twin-fit');
    for (const title of ['glucose (mg/dL)', 'carbs (g)', 'time (UTC)']) expect(fit).toContain(title);
    expect(await page.$$eval('#twin-fit svg path', (ps) => ps.length)).toBeGreaterThan(3);
    const posteriors = await texts('#twin-posteriors');
    for (const title of ['Gb (mg/dL)', 'beta (pmol/kg/min per mg/dL)', 'density']) expect(posteriors).toContain(title);
    expect(await page.$$eval('#t2d-estimates tr[data-parameter]', (rs) => rs.length)).toBe(9);
    // live recalibration: posted CGM rows reach the page over socket.io
    await page.waitForSelector('#twin-live svg.marks', { timeout: 60_000 });
    expect(await page.textContent('#live-forecast')).toContain('120 min');
    const last = (await page.getAttribute('#live-last', 'data-time')) as string;
    const rows = [1, 2, 3].map((i) => ({ time: new Date(Date.parse(last) + i * 300_000).toISOString().replace('.000Z', 'Z'), cgm_mg_dl: 160 + i }));
    const status = await page.evaluate(
      async ({ id, rows, token }) => (await fetch(`/api/twins/${id}/observations`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ rows }) })).status,
      { id: T2D, rows, token: TOKEN },
    );
    expect(status).toBe(200);
    await page.waitForFunction(() => document.getElementById('live-updates')?.dataset.count === '1', undefined, { timeout: 20_000 });
    expect(await page.getAttribute('#live-last', 'data-time')).toBe(rows[2]?.time);
    // swap a logged meal for lentils in what-if B, keep A as logged
    await page.fill('#therapy-b', 'gi=40');
    await page.fill('#swap-b', `${swapAt}=lentils`);
    await page.click('#replay-run');
    await page.waitForFunction(() => (document.querySelector('#replay-endpoints')?.textContent ?? '').includes('swap'), undefined, { timeout: 60_000 });
    const legend = await page.textContent('#twin-replay');
    expect(legend).toContain('A: logged meals');
    expect(legend).toContain(`B: gi=40, swap ${swapAt}=lentils`);
    expect(page.url()).toContain('swapB=');
    await page.screenshot({ path: join(ARTIFACTS, 'e2e-twin-t2d.png'), fullPage: true });
    expect(messages).toEqual([]);
  }, 180_000);

  it('vancomycin page: curve with levels, band and the proposed regimen, dose table, estimates; a clicked regimen is redrawn', async () => {
    await page.goto(`${server.url}/?view=twin&id=${vancoId}`);
    await page.waitForSelector('#twin-summary[data-kind="vancomycin"]');
    await page.waitForSelector('#vanco-curve svg.marks', { timeout: 60_000 });
    await page.waitForSelector('#twin-posteriors svg.marks', { timeout: 60_000 });
    const best = (await page.getAttribute('#dose-regimens tr[data-regimen]', 'data-regimen')) as string;
    expect(best).toMatch(/^\d+@\d+$/);
    expect(await page.getAttribute('#vanco-curve', 'data-regimen')).toBe(best);
    const curve = await texts('#vanco-curve');
    for (const title of ['vancomycin (mg/L)', 'dose (mg)', 'time (UTC)', 'recorded doses', 'proposed regimen', 'measured level (fitted)']) expect(curve).toContain(title);
    const [dose, every] = best.split('@');
    expect(curve.some((t) => t.startsWith(`proposed: ${dose} mg every ${every} h`) && /AUC24 [\d.]+ \[[\d.]+, [\d.]+\] mg·h\/L/.test(t))).toBe(true);
    // three measured levels drawn as points
    expect(await page.$$eval('#vanco-curve svg .mark-symbol.role-mark path', (ps) => ps.length)).toBe(3);
    expect(await page.$$eval('#dose-regimens tr[data-regimen]', (rs) => rs.length)).toBe(10);
    expect(await page.textContent('#dose-loading')).toMatch(/^Target AUC24 400–600 mg·h\/L .* Loading dose \d+ mg/);
    expect(await page.textContent('#vanco-estimates')).toContain('CL (clearance)');
    expect(await texts('#twin-posteriors')).toContain('CL (L/h)');
    await page.waitForSelector('#twin-experiments tr[data-experiment="exp-vanco-trial"] a', { timeout: 20_000 });
    expect(await page.getAttribute('#twin-experiments tr[data-experiment="exp-vanco-trial"] a', 'href')).toContain('view=trial');
    expect(await page.textContent('#twin-experiments tr[data-experiment="exp-vanco-trial"]')).toContain('0–39');
    await page.screenshot({ path: join(ARTIFACTS, 'e2e-twin-vancomycin.png'), fullPage: true });

    // another regimen of the table: the curve is redrawn with it, and the URL keeps it
    const other = (await page.$$eval('#dose-regimens tr[data-regimen]', (rs) => rs.map((r) => r.getAttribute('data-regimen') ?? '')))[3] as string;
    await page.click(`#dose-regimens tr[data-regimen="${other}"]`);
    await page.waitForFunction((r) => document.getElementById('vanco-curve')?.dataset.regimen === r, other, { timeout: 30_000 });
    const [d2, e2] = other.split('@');
    expect((await texts('#vanco-curve')).some((t) => t.startsWith(`proposed: ${d2} mg every ${e2} h`))).toBe(true);
    expect(page.url()).toContain(`regimen=${encodeURIComponent(other)}`);

    // a bad target: the server's message names the field, shown in place of the table
    await page.fill('#dose-target', '600-400');
    await page.click('#dose-run');
    await page.waitForSelector('#dose-table .error');
    expect(await page.textContent('#dose-table .error')).toContain('query.targetAuc');

    // live recalibration: a level posted through the API reaches the page; the curve draws it (4 points)
    expect(await page.getAttribute('#vanco-live', 'data-appended')).toBe('0');
    const status = await page.evaluate(
      async ({ id, token }) => {
        const rows = [{ time: '2026-03-05T19:30:00Z', event: 'level', conc_mg_l: 21.5 }];
        return (await fetch(`/api/twins/${id}/observations`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ rows }) })).status;
      },
      { id: vancoId, token: TOKEN },
    );
    expect(status).toBe(200);
    await page.waitForSelector('#vanco-live[data-appended="1"]', { timeout: 20_000 });
    await page.waitForFunction(() => document.querySelectorAll('#vanco-curve svg .mark-symbol.role-mark path').length === 4, undefined, { timeout: 20_000 });
    expect(await page.textContent('#vanco-live-map')).toMatch(/^1 row posted since the fit .* MAP of all 4 levels \(3 in the posterior\): CL [\d.]+ L\/h/);
    expect(await page.textContent('#vanco-live-levels')).toContain('21.5');
    expect(await texts('#vanco-curve')).toContain('measured level (after the fit)');
    await page.screenshot({ path: join(ARTIFACTS, 'e2e-twin-vancomycin-live.png'), fullPage: true });
    expect(messages.filter((m) => !m.includes('400 (Bad Request)'))).toEqual([]);
  }, 180_000);
});
