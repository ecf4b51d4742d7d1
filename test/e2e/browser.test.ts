import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PiscinaExecutor } from '../../experiments/executor.js';
import { type RunningServer, startServer } from '../../server/index.js';
import { buildViewer } from '../../viewer/build.js';

/**
 * End to end in headless Debian Chromium (playwright-core, no downloaded browser): create a short
 * training experiment through the API, watch the learning curve gain points live, open an episode,
 * step forward and back, open the side-by-side view, press "verify replay" and see "identical".
 * Screenshots go to test-artifacts/.
 */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test-artifacts');
const TOKEN = 'e2e-token-0123456789abcdef';

let server: RunningServer;
let browser: Browser;
let page: Page;
let dataDir: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (scripts/ensure-chromium.sh does it)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  await buildViewer();
  dataDir = mkdtempSync(join(tmpdir(), 'twinlab-e2e-'));
  server = await startServer({ dataDir, port: 0, token: TOKEN, executor: new PiscinaExecutor({ workers: 2 }), pollMs: 20 });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('pageerror', (error) => process.stderr.write(`page error: ${error.message}\n`));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `e2e-${name}.png`), fullPage: true });

describe('viewer in headless Chromium', () => {
  it('streams a training run live, replays an episode side by side and verifies it', async () => {
    await page.goto(`${server.url}/#token=${TOKEN}`);
    await page.waitForSelector('#experiments');

    // The glucose twin: 288-step episodes keep the learning curve growing for several seconds (so it is
    // seen live) and below the viewer's 1 000-point history buckets (so every episode is one point).
    const spec = {
      kind: 'train',
      name: 'e2e glucose',
      seed: 11,
      env: 'glucose/t1d-v1',
      envOptions: { patient: 'adult#001' },
      steps: 120_000,
      seeds: 2,
      evalEpisodes: 2,
      config: { evalEvery: 5_000, evalEpisodes: 2, learningStarts: 1_000 },
    };
    const created = await page.evaluate(
      async ({ spec, token }) => {
        const res = await fetch('/api/experiments', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ spec }) });
        return { status: res.status, body: (await res.json()) as { id: string } };
      },
      { spec, token: TOKEN },
    );
    expect(created.status).toBe(201);
    const id = created.body.id;

    await page.goto(`${server.url}/?view=experiment&id=${encodeURIComponent(id)}`);
    await page.waitForSelector('#chart-returns svg');
    // the learning curve gains points while the run is live
    const first = await page.waitForFunction(() => Number(document.getElementById('points-count')?.dataset.points ?? 0) > 0, undefined, { timeout: 120_000 });
    const firstCount = Number(await first.evaluate(() => document.getElementById('points-count')?.dataset.points));
    await page.waitForFunction((n) => Number(document.getElementById('points-count')?.dataset.points ?? 0) > n, firstCount, { timeout: 120_000 });
    await shot('learning-curve-live');
    const statusLive = await page.evaluate(async (experimentId) => (await (await fetch(`/api/experiments/${encodeURIComponent(experimentId)}`)).json()).status, id);
    expect(['running', 'finished']).toContain(statusLive);

    // wait for the end (jobs table shows finished), then the chart holds every episode of both runs
    await page.waitForFunction(() => document.querySelectorAll('#jobs [data-status="finished"]').length === 2, undefined, { timeout: 120_000 });
    const episodes = await page.evaluate(async (experimentId) => {
      const events = (await (await fetch(`/api/experiments/${encodeURIComponent(experimentId)}/events?after=0&limit=10000`)).json()).events as { event: { type: string } }[];
      return events.filter((e) => e.event.type === 'episode.ended' || e.event.type === 'eval.completed').length;
    }, id);
    await page.waitForFunction((n) => Number(document.getElementById('points-count')?.dataset.points ?? 0) === n, episodes, { timeout: 20_000 });
    await shot('learning-curve-final');

    // the experiments list shows it finished
    await page.goto(`${server.url}/?view=list`);
    await page.waitForSelector(`tr[data-experiment="${id}"] [data-status="finished"]`, { timeout: 30_000 });

    // episode viewer: step forward and back
    const job0 = `${id}/job-0`;
    await page.goto(`${server.url}/?view=episode&id=${encodeURIComponent(id)}&run=${encodeURIComponent(job0)}`);
    await page.waitForSelector('#episodes a');
    await page.click('#episodes a');
    await page.waitForSelector('#seek');
    await page.waitForSelector('.chart svg');
    const cursor = () => page.evaluate(() => Number(document.getElementById('position')?.dataset.cursor));
    expect(await cursor()).toBe(1);
    await page.click('#step-forward');
    await page.click('#step-forward');
    expect(await cursor()).toBe(3);
    await page.click('#step-back');
    expect(await cursor()).toBe(2);
    expect(page.url()).toContain('cursor=2');
    expect(await page.textContent('.step-details')).toContain('step 2/');
    await page.click('#rewind');
    expect(await cursor()).toBe(1);
    await shot('episode');

    // side by side: the same episode of the other seed's run, one cursor
    await page.selectOption('#compare', { index: 1 });
    await page.waitForFunction(() => document.querySelectorAll('[data-pane]').length === 2, undefined, { timeout: 20_000 });
    await page.waitForFunction(() => document.querySelectorAll('[data-pane] .chart svg.marks').length >= 2);
    await page.click('#step-forward');
    const details = await page.$$eval('.step-details', (els) => els.map((e) => e.textContent ?? ''));
    expect(details).toHaveLength(2);
    for (const d of details) expect(d).toContain('step 2/');
    await shot('side-by-side');

    // verify replay re-executes on the server and reports identical
    await page.click('#verify');
    await page.waitForFunction(() => document.getElementById('verify-result')?.textContent !== 're-executing…' && (document.getElementById('verify-result')?.textContent ?? '') !== '', undefined, { timeout: 120_000 });
    expect(await page.textContent('#verify-result')).toBe('identical');
    await shot('verified');
  }, 300_000);
});
