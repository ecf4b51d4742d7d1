import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InlineExecutor } from '../../experiments/executor.js';
import type { TrialBlockResult } from '../../experiments/trial-blocks.js';
import { type RunningServer, startServer } from '../../server/index.js';
import { buildViewer } from '../../viewer/build.js';

/**
 * The trial page of a streaming trial (spec `streaming`) in headless Debian Chromium: progress from the
 * block counts while blocks finish (live, from the socket's status messages), a patients table paged from
 * /patients with values per arm and episode links only for the sampled patients whose episodes are
 * stored; a finished streamed trial shows its streaming analysis (forest plot) and its sampled episodes
 * open side by side with the other arm and verify. At 1400 and 800 px; no console errors or warnings.
 */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test-artifacts');
const TOKEN = 'e2e-token-0123456789abcdef';
const LIVE = 'streaming-live-e2e';
const SIZE = 250;
const BLOCK = 100;

let server: RunningServer;
let browser: Browser;
let page: Page;
let dataDir: string;
const messages: string[] = [];
const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `e2e-streaming-${name}.png`), fullPage: true });
const ret = (p: number, arm: number) => 10 + (p % 7) + 3 * arm;

/** Block b of the hand-made live trial finished with made-up values (no episodes stored). */
function finishBlock(b: number): void {
  const from = b * BLOCK;
  const to = Math.min(SIZE, from + BLOCK);
  const positions = Array.from({ length: to - from }, (_, i) => from + i);
  const result: TrialBlockResult = {
    kind: 'trial-block',
    from,
    to,
    patientIds: positions.map((p) => `patient-${p}`),
    values: { return: { a: positions.map((p) => ret(p, 0)), b: positions.map((p) => ret(p, 1)) } },
    jobs: 2 * (to - from),
    steps: 0,
    blockHash: 'x',
  };
  server.store.markJobRunning(`${LIVE}/job-${b}`);
  server.store.markJobFinished(`${LIVE}/job-${b}`, result);
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (scripts/ensure-chromium.sh does it)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  await buildViewer();
  dataDir = mkdtempSync(join(tmpdir(), 'twinlab-e2e-streaming-'));
  server = await startServer({ dataDir, port: 0, token: TOKEN, executor: new InlineExecutor(), pollMs: 20 });
  const spec = {
    kind: 'trial',
    cohort: { env: 'classic/cartpole-v1', size: SIZE },
    arms: [
      { name: 'a', policy: 'random' },
      { name: 'b', policy: 'random' },
    ],
    streaming: { blockSize: BLOCK, resamples: 1000 },
    keepEpisodes: { every: 10 },
    endpoints: { primary: ['return'], secondary: [] },
  };
  server.store.createExperiment({
    id: LIVE,
    kind: 'trial',
    name: 'streaming live',
    spec,
    seed: 1,
    codeVersion: 'e2e',
    jobs: [0, 1, 2].map((b) => ({ id: `${LIVE}/job-${b}`, index: b, kind: 'trial', seed: b, config: { kind: 'trial-block', from: b * BLOCK, to: Math.min(SIZE, (b + 1) * BLOCK), replicates: 1 } })),
  });
  server.store.setExperimentStatus(LIVE, 'running');
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

const progress = () =>
  page.$$eval('.arm-progress', (els) => els.map((e) => `${(e as HTMLElement).dataset.arm} ${(e as HTMLElement).dataset.done}/${(e as HTMLElement).dataset.total}`));
const positions = () => page.$$eval('#patients tr[data-position]', (trs) => trs.map((t) => Number((t as HTMLElement).dataset.position)));

describe('a streaming trial page (headless Chromium)', () => {
  it('running: progress from finished blocks, patients paged, values as their block ends, no links without episodes', async () => {
    await page.goto(`${server.url}/?view=trial&id=${LIVE}`);
    await page.waitForSelector('.arm-progress');
    await page.waitForSelector('#patients tr[data-position]');
    expect(await progress()).toEqual(['a 0/250', 'b 0/250']);
    // default: the sampled patients (every 10th: 25 of them), one page
    expect(await positions()).toEqual(Array.from({ length: 25 }, (_, i) => 10 * i));
    expect(await page.$$('#patients .pill[data-status="pending"]')).toHaveLength(50);
    finishBlock(0);
    await page.waitForFunction(() => document.querySelector('.arm-progress[data-arm="b"]')?.getAttribute('data-done') === '100', undefined, { timeout: 10_000 });
    expect(await page.textContent('#block-progress')).toContain('1 of 3 blocks finished');
    await page.waitForFunction(() => document.querySelectorAll('#patients td[data-value]').length === 20, undefined, { timeout: 10_000 });
    const values = await page.$$eval('#patients tr[data-position="30"] td[data-value]', (tds) => tds.map((t) => Number((t as HTMLElement).dataset.value)));
    expect(values).toEqual([ret(30, 0), ret(30, 1)]);
    expect(await page.$$('#patients a')).toHaveLength(0); // no episode stored for these made-up blocks
    await shot('running');

    // every patient: 250 in pages of 100; page 3 holds 200–249
    await page.click('#patients-all');
    await page.waitForFunction(() => document.querySelectorAll('#patients tr[data-position]').length === 100, undefined, { timeout: 10_000 });
    expect(page.url()).toContain('all=1');
    expect(await page.textContent('#patients-page')).toBe('page 1 of 3');
    await page.click('#patients-next');
    await page.waitForFunction(() => document.querySelector('#patients-page')?.textContent === 'page 2 of 3', undefined, { timeout: 10_000 });
    await page.click('#patients-next');
    await page.waitForFunction(() => document.querySelector('#patients-page')?.textContent === 'page 3 of 3', undefined, { timeout: 10_000 });
    expect(await positions()).toEqual(Array.from({ length: 50 }, (_, i) => 200 + i));
    finishBlock(2);
    await page.waitForFunction(() => document.querySelectorAll('#patients td[data-value]').length === 100, undefined, { timeout: 10_000 });
    // sort this page by arm b, descending
    await page.click('#patients th[data-col="b"]');
    await page.click('#patients th[data-col="b"]');
    expect(page.url()).toContain('sort=-b');
    const sorted = await page.$$eval('#patients tr[data-position] td:nth-child(3)', (tds) => tds.map((t) => Number((t as HTMLElement).dataset.value)));
    expect(sorted).toEqual([...sorted].sort((x, y) => y - x));
    expect(await progress()).toEqual(['a 150/250', 'b 150/250']); // blocks 0 (100 patients) and 2 (50)
    await page.setViewportSize({ width: 800, height: 1000 });
    await shot('800px');
    await page.setViewportSize({ width: 1400, height: 1000 });
    expect(messages).toEqual([]);
  }, 60_000);

  it('finished: the streaming analysis, sampled patients with episode links, side by side and verified', async () => {
    const spec = {
      kind: 'trial',
      name: 'e2e streaming sepsis',
      seed: 5,
      cohort: { twin: 'sepsis', population: 'icu', size: 60 },
      arms: [
        { name: 'physician', policy: 'sepsis/physician' },
        { name: 'optimal', policy: 'sepsis/optimal' },
      ],
      streaming: { blockSize: 20 },
      keepEpisodes: { every: 10 },
      endpoints: { primary: ['mortality'] },
      reference: 'physician',
    };
    const res = await fetch(`${server.url}/api/experiments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ spec }),
    });
    const { id } = (await res.json()) as { id: string };
    for (let i = 0; i < 600 && server.store.getExperiment(id)?.status !== 'finished'; i++) await new Promise((r) => setTimeout(r, 50));
    expect(server.store.getExperiment(id)?.status).toBe('finished');
    await page.goto(`${server.url}/?view=trial&id=${encodeURIComponent(id)}#token=${TOKEN}`); // the token: verify is a POST
    await page.waitForSelector('#forest svg.marks');
    await page.waitForSelector('#patients tr[data-position]');
    expect(await progress()).toEqual(['physician 60/60', 'optimal 60/60']);
    expect(await page.textContent('#endpoints')).toContain('In-episode death');
    expect(await positions()).toEqual([0, 10, 20, 30, 40, 50]);
    const links = await page.$$eval('#patients a', (as) => as.map((a) => decodeURIComponent(a.getAttribute('href') ?? '')));
    expect(links).toHaveLength(12);
    expect(links[3]).toContain(`run=${id}/job-0&episode=p10.r0.a1.episode-0&compare=${id}/job-0|p10.r0.a0.episode-0`);
    await shot('finished');
    await page.click('#patients tr[data-position="30"] a');
    await page.waitForSelector('#compare');
    await page.waitForFunction(() => document.querySelectorAll('[data-pane] .chart svg.marks').length === 2, undefined, { timeout: 15_000 });
    expect(await page.$$eval('#compare option', (os) => os.map((o) => o.textContent))).toEqual(['— none —', 'optimal · patient 30']);
    // the panes are named by arm and patient (the block's key beneath)
    expect(await page.$$eval('[data-pane] h2', (hs) => hs.map((h) => h.textContent))).toEqual(['physician · patient 30', 'optimal · patient 30']);
    await page.click('#verify');
    await page.waitForFunction(() => /identical/.test(document.getElementById('verify-result')?.textContent ?? ''), undefined, { timeout: 15_000 });
    await shot('episode');
    expect(messages).toEqual([]);
  }, 60_000);
});
