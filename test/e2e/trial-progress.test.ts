import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InlineExecutor } from '../../experiments/executor.js';
import { type RunningServer, startServer } from '../../server/index.js';
import { buildViewer } from '../../viewer/build.js';

/**
 * A running trial in headless Debian Chromium (issue #13 item 6): jobs of a trial end one by one in
 * the store while the trial page and the experiments list are open. The page shows progress per arm
 * (patients done / total), no episode link before a patient's job has finished, and a per-patient
 * outcome table (primary endpoint per arm) that sorts by any arm; the list counts jobs as they end.
 * At 1400 and 800 px; no console errors or vega warnings.
 */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test-artifacts');
const TOKEN = 'e2e-token-0123456789abcdef';
const ID = 'trial-progress-e2e';
const ARMS = ['basal-bolus', 'pid'];
const PATIENTS = 4;

let server: RunningServer;
let browser: Browser;
let page: Page;
let dataDir: string;
const messages: string[] = [];
const jobId = (arm: number, p: number) => `${ID}/job-${arm * PATIENTS + p}`;
const tir = (arm: number, p: number) => 0.5 + 0.1 * p - 0.05 * arm;
const finish = (arm: number, p: number) => {
  server.store.markJobRunning(jobId(arm, p));
  server.store.markJobFinished(jobId(arm, p), { kind: 'trial', arm: ARMS[arm], endpoints: { tir: tir(arm, p), tbr70: 0.01 } });
};
const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `e2e-trial-progress-${name}.png`), fullPage: true });

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (scripts/ensure-chromium.sh does it)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  await buildViewer();
  dataDir = mkdtempSync(join(tmpdir(), 'twinlab-e2e-trial-'));
  server = await startServer({ dataDir, port: 0, token: TOKEN, executor: new InlineExecutor(), pollMs: 20 });
  const jobs = ARMS.flatMap((arm, a) =>
    Array.from({ length: PATIENTS }, (_, p) => ({
      id: jobId(a, p),
      index: a * PATIENTS + p,
      kind: 'trial' as const,
      seed: p,
      config: {
        kind: 'trial',
        twinId: 'glucose',
        envId: 'glucose/t1d-v1',
        envOptions: {},
        arm: { name: arm, policy: `glucose/${arm}` },
        patientIndex: p,
        patientId: `adult#00${p + 1}`,
        replicate: 0,
      },
    })),
  );
  server.store.createExperiment({
    id: ID,
    kind: 'trial',
    name: 'running trial',
    spec: { kind: 'trial', endpoints: { primary: ['tir'] }, reference: 'basal-bolus' },
    seed: 1,
    codeVersion: 'e2e',
    jobs,
  });
  server.store.setExperimentStatus(ID, 'running');
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
  page.$$eval('.arm-progress', (els) =>
    els.map((e) => `${(e as HTMLElement).dataset.arm} ${(e as HTMLElement).dataset.done}/${(e as HTMLElement).dataset.total}`),
  );

describe('a running trial (headless Chromium)', () => {
  it('shows progress per arm, outcomes and episode links only for finished patients, sortable', async () => {
    await page.goto(`${server.url}/?view=trial&id=${ID}`);
    await page.waitForSelector('.arm-progress');
    expect(await progress()).toEqual(['basal-bolus 0/4', 'pid 0/4']);
    expect(await page.$$('#patients a')).toHaveLength(0);
    expect(await page.textContent('body')).not.toContain('Waiting for the trial to finish');

    finish(0, 0);
    finish(0, 1);
    finish(1, 1);
    await page.waitForFunction(() => document.querySelector('.arm-progress[data-arm="pid"]')?.getAttribute('data-done') === '1', undefined, {
      timeout: 10_000,
    });
    expect(await progress()).toEqual(['basal-bolus 2/4', 'pid 1/4']);
    // links only where the job finished: (bb, p0), (bb, p1), (pid, p1)
    const links = await page.$$eval('#patients a', (as) => as.map((a) => decodeURIComponent(a.getAttribute('href') ?? '')));
    expect(links).toHaveLength(3);
    expect(links.every((l) => /run=trial-progress-e2e\/job-(0|1|5)&/.test(`${l}&`))).toBe(true);
    const headers = await page.$$eval('#patients th', (ths) => ths.map((t) => t.textContent));
    expect(headers).toEqual(['patient', 'basal-bolus · tir', 'pid · tir']);
    await shot('running');

    // sort by the pid arm's outcome, descending: the one finished pid patient first, unfinished after
    await page.click('#patients th[data-col="pid"]');
    await page.click('#patients th[data-col="pid"]');
    expect(page.url()).toContain('sort=-pid');
    const order = await page.$$eval('#patients tr[data-patient]', (trs) => trs.map((t) => (t as HTMLElement).dataset.patient));
    expect(order[0]).toBe('adult#002');
    for (let p = 2; p < PATIENTS; p++) finish(1, p);
    await page.waitForFunction(() => document.querySelector('.arm-progress[data-arm="pid"]')?.getAttribute('data-done') === '3', undefined, {
      timeout: 10_000,
    });
    const sorted = await page.$$eval('#patients tr[data-patient] td:nth-child(3)', (tds) =>
      tds.map((t) => Number((t as HTMLElement).dataset.value || Number.NaN)),
    );
    expect(sorted.slice(0, 3)).toEqual([tir(1, 3), tir(1, 2), tir(1, 1)]);

    await page.setViewportSize({ width: 800, height: 1000 });
    await shot('800px');
    await page.setViewportSize({ width: 1400, height: 1000 });
    expect(messages).toEqual([]);
  }, 40_000);

  it('the experiments list counts jobs as they end, without a reload', async () => {
    await page.goto(`${server.url}/?view=list`);
    const count = () => page.getAttribute(`tr[data-experiment="${ID}"] .job-count`, 'data-done');
    await page.waitForSelector(`tr[data-experiment="${ID}"] .job-count`);
    expect(await count()).toBe('5');
    finish(0, 2);
    await page.waitForFunction((id) => document.querySelector(`tr[data-experiment="${id}"] .job-count`)?.getAttribute('data-done') === '6', ID, {
      timeout: 10_000,
    });
    expect(await page.textContent(`tr[data-experiment="${ID}"] .job-count`)).toContain('6/8 jobs');
    await shot('list');
    expect(messages).toEqual([]);
  }, 30_000);

  it('a finished trial page and the episode player: keyboard shortcuts, a rewind glyph the fonts have', async () => {
    const spec = {
      kind: 'trial',
      name: 'e2e sepsis keys',
      seed: 5,
      cohort: { twin: 'sepsis', population: 'icu', size: 2 },
      arms: [
        { name: 'physician', policy: 'sepsis/physician' },
        { name: 'optimal', policy: 'sepsis/optimal' },
      ],
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
    await page.goto(`${server.url}/?view=trial&id=${encodeURIComponent(id)}`);
    await page.waitForSelector('#forest svg.marks');
    expect(await progress()).toEqual(['physician 2/2', 'optimal 2/2']);
    await page.click('#patients a');
    await page.waitForSelector('[data-pane] .chart svg.marks');
    const cursor = () => page.evaluate(() => Number(document.getElementById('position')?.dataset.cursor));
    const length = Number((await page.textContent('#position'))?.split('/')[1]);
    expect(await page.textContent('#rewind')).not.toContain('⏮');
    await page.keyboard.press('ArrowRight');
    expect(await cursor()).toBe(2);
    await page.keyboard.press('Shift+ArrowRight');
    expect(await cursor()).toBe(Math.min(12, length));
    await page.keyboard.press('ArrowLeft');
    expect(await cursor()).toBe(Math.min(12, length) - 1);
    await page.keyboard.press('End');
    expect(await cursor()).toBe(length);
    await page.keyboard.press('Home');
    expect(await cursor()).toBe(1);
    await page.keyboard.press(' ');
    expect(await page.textContent('#play')).toContain('pause');
    await page.keyboard.press(' ');
    expect(await page.textContent('#play')).toContain('play');
    await shot('episode-keys');
    expect(messages).toEqual([]);
  }, 40_000);
});
