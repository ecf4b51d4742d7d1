import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TwinlabEvent } from '../../engine/events.js';
import { InlineExecutor } from '../../experiments/executor.js';
import { type RunningServer, startServer } from '../../server/index.js';
import { buildViewer } from '../../viewer/build.js';
import { independentCurve } from '../server/independent-curve.js';

/**
 * Run comparison in headless Debian Chromium (issue #13 item 3 and "live = stored", item 5): a sweep
 * written into the store while the page watches it live, plus a run of another experiment. The runs
 * page overlays them with legends naming the differing keys, groups by a key, sorts its
 * hyperparameter table, draws parallel coordinates; the curves held live equal the curves read after a
 * reload, point for point. At 1400 and 800 px; no console errors or vega warnings.
 */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test-artifacts');
const TOKEN = 'e2e-token-0123456789abcdef';

let server: RunningServer;
let browser: Browser;
let page: Page;
let dataDir: string;
const messages: string[] = [];

const sweepJob = (k: number, lr: number, s: number) => ({
  id: `sweep-e2e/job-${k}`,
  index: k,
  kind: 'train' as const,
  seed: 100 + k,
  config: {
    kind: 'train',
    envId: 'classic/cartpole-v1',
    envOptions: {},
    agent: 'dqn',
    agentConfig: { batchSize: 64, lr, gamma: 0.99 },
    gridPoint: { lr },
    replicate: s,
    evalEpisodes: 0,
  },
});

/** A deterministic learning curve: returns rising with lr-dependent speed and a per-run wobble. */
function episodes(k: number, lr: number, from: number, to: number): TwinlabEvent[] {
  const out: TwinlabEvent[] = [];
  for (let e = from; e < to; e++) {
    const value = 20 + 400 * (1 - Math.exp(-e * lr * 4)) + 30 * Math.sin(e * 0.37 + k) + ((e * 7919 + k * 104729) % 23);
    out.push({ type: 'episode.ended', step: (e + 1) * 100, data: { episode: e, return: value, length: 100, terminated: true } });
  }
  return out;
}

async function stored(id: string): Promise<number> {
  const res = await fetch(`${server.url}/api/experiments/${encodeURIComponent(id)}/events?after=0&limit=10000`);
  return ((await res.json()) as { events: { event: { type: string } }[] }).events.filter((e) => e.event.type === 'episode.ended').length;
}

const curves = () =>
  page.evaluate(() => {
    const c = (window as unknown as { twinlabComparison: { curves(): Map<string, unknown[]> } }).twinlabComparison.curves();
    return JSON.stringify([...c.entries()].sort());
  });
const chartText = (sel: string) => page.$$eval(`${sel} svg text`, (ts) => ts.map((t) => t.textContent ?? ''));
const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `e2e-compare-${name}.png`), fullPage: true });

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (scripts/ensure-chromium.sh does it)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  await buildViewer();
  dataDir = mkdtempSync(join(tmpdir(), 'twinlab-e2e-compare-'));
  server = await startServer({ dataDir, port: 0, token: TOKEN, executor: new InlineExecutor(), pollMs: 20 });
  const store = server.store;
  store.createExperiment({
    id: 'sweep-e2e',
    kind: 'sweep',
    name: 'lr sweep',
    spec: {},
    seed: 1,
    codeVersion: 'e2e',
    jobs: [sweepJob(0, 0.001, 0), sweepJob(1, 0.001, 1), sweepJob(2, 0.0005, 0), sweepJob(3, 0.0005, 1)],
  });
  store.createExperiment({
    id: 'other-e2e',
    kind: 'train',
    name: 'baseline',
    spec: {},
    seed: 2,
    codeVersion: 'e2e',
    jobs: [
      {
        ...sweepJob(0, 0.002, 0),
        id: 'other-e2e/job-0',
        config: { ...sweepJob(0, 0.002, 0).config, agentConfig: { batchSize: 32, lr: 0.002, gamma: 0.99 }, gridPoint: {} },
      },
    ],
  });
  store.setExperimentStatus('other-e2e', 'running');
  store.markJobRunning('other-e2e/job-0');
  store.appendEvents('other-e2e', 'other-e2e/job-0', episodes(9, 0.002, 0, 900));
  // one greedy evaluation: a one-point chart (its ticks were '10,000.000000', issue #13 item 9)
  store.appendEvents('other-e2e', 'other-e2e/job-0', [{ type: 'eval.completed', step: 10_000, data: { meanReturn: 412.5, episodes: 2 } } as TwinlabEvent]);
  store.markJobFinished('other-e2e/job-0', { kind: 'train' });
  store.setExperimentStatus('other-e2e', 'finished');
  store.setExperimentStatus('sweep-e2e', 'running');
  for (let k = 0; k < 4; k++) {
    store.markJobRunning(`sweep-e2e/job-${k}`);
    store.appendEvents('sweep-e2e', `sweep-e2e/job-${k}`, episodes(k, k < 2 ? 0.001 : 0.0005, 0, 300 + 50 * k));
  }
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') messages.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (error) => messages.push(`pageerror: ${error.message}`));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('run comparison (headless Chromium)', () => {
  it('streams a sweep live and holds exactly the stored points: the same curves after a reload', async () => {
    const runs = ['sweep-e2e/job-0', 'sweep-e2e/job-1', 'sweep-e2e/job-2', 'sweep-e2e/job-3', 'other-e2e/job-0'];
    const url = `${server.url}/?view=runs&runs=${encodeURIComponent(runs.join(','))}&ema=0.9`;
    await page.goto(url);
    await page.waitForSelector('#compare-chart[data-ready="1"] svg.marks');
    // the sweep goes on while the page is open: events land in the store in small batches
    for (let batch = 0; batch < 12; batch++) {
      for (let k = 0; k < 4; k++) {
        const from = 300 + 50 * k + batch * 25;
        server.store.appendEvents('sweep-e2e', `sweep-e2e/job-${k}`, episodes(k, k < 2 ? 0.001 : 0.0005, from, from + 25));
      }
      await new Promise((r) => setTimeout(r, 60));
    }
    for (let k = 0; k < 4; k++) server.store.markJobFinished(`sweep-e2e/job-${k}`, { kind: 'train' });
    server.store.setExperimentStatus('sweep-e2e', 'finished');
    const total = (await stored('sweep-e2e')) + (await stored('other-e2e'));
    expect(total).toBe(4 * 300 + 50 * 6 + 4 * 12 * 25 + 900);
    await page.waitForFunction((n) => Number(document.getElementById('compare-chart')?.dataset.points) === n, total, { timeout: 20_000 });
    await page.waitForTimeout(700); // the last redraw (spaced ≤ 500 ms)
    const live = await curves();
    await shot('live');

    await page.reload();
    await page.waitForSelector('#compare-chart[data-ready="1"] svg.marks');
    expect(Number(await page.getAttribute('#compare-chart', 'data-points'))).toBe(total);
    expect(await curves()).toBe(live);
    // after the reload the finished runs' curves are the server's (GET /api/curves): each equals an
    // independent computation from the run's full stored series (EMA 0.9, 600 points per run)
    const drawn = JSON.parse(await curves()) as [string, { step: number; value: number; min: number; max: number }[]][];
    expect(drawn.map(([id]) => id).sort()).toEqual([...runs].sort());
    for (const [id, curve] of drawn) {
      const res = await fetch(`${server.url}/api/runs/${encodeURIComponent(id)}/metrics/episode.return/points`);
      const n = Number(res.headers.get('x-points'));
      const all = new Float64Array(await res.arrayBuffer());
      const expected = independentCurve(Array.from(all.subarray(0, n)), Array.from(all.subarray(n)), 0.9, 600);
      expect(curve.map((p) => [p.step, p.min, p.max])).toEqual(expected.map((p) => [p.step, p.min, p.max]));
      curve.forEach((p, i) => expect(Math.abs(p.value - (expected[i]?.value as number))).toBeLessThan(1e-9));
    }
    const requests = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname));
    expect(requests.filter((p) => p.endsWith('/points'))).toEqual([]); // finished runs: no full series sent
    expect(requests.filter((p) => p === '/api/curves')).toHaveLength(1);
    // the slider on server-drawn curves: asked again with the new weight, equal to the independent EMA 0.3
    await page.$eval('#ema', (el) => {
      (el as HTMLInputElement).value = '0.3';
      el.dispatchEvent(new Event('change'));
    });
    await page.waitForSelector('#compare-chart[data-ema="0.3"][data-drawn="1"] svg.marks');
    for (const [id, curve] of JSON.parse(await curves()) as [string, { step: number; value: number }[]][]) {
      const res = await fetch(`${server.url}/api/runs/${encodeURIComponent(id)}/metrics/episode.return/points`);
      const n = Number(res.headers.get('x-points'));
      const all = new Float64Array(await res.arrayBuffer());
      const expected = independentCurve(Array.from(all.subarray(0, n)), Array.from(all.subarray(n)), 0.3, 600);
      expect(curve.map((p) => p.step)).toEqual(expected.map((p) => p.step));
      curve.forEach((p, i) => expect(Math.abs(p.value - (expected[i]?.value as number))).toBeLessThan(1e-9));
    }
    await page.goto(url); // back to EMA 0.9 for the checks below
    await page.waitForSelector('#compare-chart[data-ready="1"] svg.marks');

    // legends name the differing keys in full (lr differs in the second agent key, batch size and experiment too)
    const legend = await chartText('#compare-chart');
    for (const t of [
      'batchSize=64 · experiment=lr sweep · lr=0.001 · seed 100',
      'batchSize=64 · experiment=lr sweep · lr=0.0005 · seed 103',
      'batchSize=32 · experiment=baseline · lr=0.002',
    ])
      expect(legend).toContain(t);
    expect(legend.some((t) => t.includes('…'))).toBe(false);
    expect(legend).toContain('episode return (EMA 0.9)');
    expect(messages).toEqual([]);
  }, 60_000);

  it('groups by a config key, sorts the hyperparameter table and draws parallel coordinates; URL state survives a reload; 800 px', async () => {
    await page.$eval('#compare-chart', (el) => {
      (el as HTMLElement).dataset.stale = '1';
    });
    await page.selectOption('#group-by', 'lr');
    await page.waitForSelector('#compare-chart[data-ready="1"]:not([data-stale]) svg.marks');
    expect(page.url()).toContain('by=lr');
    const legend = await chartText('#compare-chart');
    for (const t of ['lr=0.001', 'lr=0.0005', 'lr=0.002']) expect(legend).toContain(t);
    expect(legend.some((t) => t.includes('mean ± sd by lr'))).toBe(true);

    // EMA slider: a new weight in the URL, the drawn values change, on the same chart (the svg stays)
    const before = await curves();
    await page.$eval('#compare-chart svg', (el) => {
      (el as SVGElement).dataset.before = '1';
    });
    await page.$eval('#ema', (el) => {
      (el as HTMLInputElement).value = '0.5';
      el.dispatchEvent(new Event('change'));
    });
    await page.waitForFunction(() => window.location.search.includes('ema=0.5'));
    await page.waitForSelector('#compare-chart[data-ema="0.5"][data-drawn="1"] svg.marks');
    const sliderCurves = await curves();
    expect(sliderCurves).not.toBe(before);
    expect(await page.$('#compare-chart svg[data-before="1"]')).not.toBeNull();
    expect((await chartText('#compare-chart')).some((t) => t.includes('(EMA 0.5)'))).toBe(true);

    // sort by final smoothed return, descending, twice clicked
    await page.click('#hparams th[data-col="final (smoothed)"]');
    await page.waitForFunction(() => window.location.search.includes('sort=final'));
    await page.click('#hparams th[data-col="final (smoothed)"]');
    await page.waitForFunction(() => window.location.search.includes('sort=-final'));
    const finals = await page.$$eval('#hparams tr[data-run] td:nth-child(8)', (tds) => tds.map((td) => Number((td.textContent ?? '').replace(/,/g, ''))));
    expect(finals).toHaveLength(5);
    expect([...finals].sort((a, b) => b - a)).toEqual(finals);
    const header = await page.$$eval('#hparams th', (ths) => ths.map((t) => t.dataset.col));
    expect(header).toEqual([
      'run',
      'status',
      'batchSize',
      'experiment',
      'lr',
      'seed',
      'points',
      'final (smoothed)'.replace('final (smoothed)', 'final episode.return'),
      'final (smoothed)',
      'best',
    ]);

    await page.waitForSelector('#parallel svg.marks');
    const axes = await chartText('#parallel');
    for (const t of ['batchSize', 'lr', 'final episode return', 'lr sweep', 'baseline', '0.002', '0.0005']) expect(axes).toContain(t);
    await shot('grouped');

    // the URL alone reproduces the view
    const url = page.url();
    await page.goto(url);
    await page.waitForSelector('#compare-chart[data-ready="1"] svg.marks');
    expect(await page.inputValue('#group-by')).toBe('lr');
    expect(await page.inputValue('#ema')).toBe('0.5');
    // the slider's curves are the curves a reload of its URL draws
    expect(await curves()).toBe(sliderCurves);

    await page.setViewportSize({ width: 800, height: 1000 });
    await page.goto(url);
    await page.waitForSelector('#parallel svg.marks');
    const width = await page.$eval('#compare-chart svg', (el) => el.getBoundingClientRect().width);
    expect(width).toBeLessThanOrEqual(800);
    await shot('800px');
    await page.setViewportSize({ width: 1400, height: 1000 });
    expect(messages).toEqual([]);
  }, 60_000);

  it('the picker adds runs from any experiment; the experiment page links to the comparison and names runs "run k"', async () => {
    await page.goto(`${server.url}/?view=runs`);
    await page.selectOption('#pick-experiment', 'other-e2e');
    await page.click('[data-pick="other-e2e/job-0"] input');
    await page.waitForSelector('#compare-chart[data-ready="1"] svg.marks');
    await page.selectOption('#pick-experiment', 'sweep-e2e');
    await page.click('#pick-all');
    await page.waitForFunction(() => document.querySelectorAll('#hparams tr[data-run]').length === 5);
    expect(decodeURIComponent(page.url())).toContain('runs=other-e2e/job-0,sweep-e2e/job-0');

    await page.goto(`${server.url}/?view=experiment&id=sweep-e2e`);
    await page.waitForSelector('#chart-returns[data-ready="1"] svg.marks');
    const rows = await page.$$eval('#jobs tr[data-job] td:first-child', (tds) => tds.map((t) => t.textContent));
    expect(rows).toEqual(['run 0', 'run 1', 'run 2', 'run 3']);
    expect(await page.getAttribute('#compare-runs', 'href')).toContain('view=runs');
    await shot('experiment');

    // a live experiment page, grouped by config (its default): every live event is drawn (twinlab:chart
    // fires only after a redraw that succeeded)
    server.store.createExperiment({
      id: 'live-e2e',
      kind: 'train',
      name: 'live',
      spec: {},
      seed: 3,
      codeVersion: 'e2e',
      jobs: [0, 1].map((k) => ({ ...sweepJob(k, 0.001, k), id: `live-e2e/job-${k}` })),
    });
    server.store.setExperimentStatus('live-e2e', 'running');
    await page.goto(`${server.url}/?view=experiment&id=live-e2e`);
    await page.waitForSelector('#chart-returns[data-ready="1"]');
    await page.evaluate(() => {
      const w = window as unknown as { drawnEvents: number };
      w.drawnEvents = 0;
      window.addEventListener('twinlab:chart', (e) => {
        w.drawnEvents += (e as CustomEvent<unknown[]>).detail.length;
      });
    });
    for (let batch = 0; batch < 6; batch++) {
      for (let k = 0; k < 2; k++) server.store.appendEvents('live-e2e', `live-e2e/job-${k}`, episodes(k, 0.001, batch * 10, batch * 10 + 10));
      await new Promise((r) => setTimeout(r, 100));
    }
    await page.waitForFunction(() => (window as unknown as { drawnEvents: number }).drawnEvents === 120, undefined, { timeout: 10_000 });
    expect(await chartText('#chart-returns')).toContain('every seed');

    await page.goto(`${server.url}/?view=experiment&id=other-e2e`);
    await page.waitForSelector('#chart-eval svg.marks');
    const ticks = await chartText('#chart-eval');
    expect(ticks).toContain('412.5');
    expect(ticks).toContain('10k');
    expect(ticks.filter((t) => /\.0{3,}/.test(t))).toEqual([]);
    expect(messages).toEqual([]);
  }, 60_000);
});
