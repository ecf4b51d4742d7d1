import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InlineExecutor } from '../../experiments/executor.js';
import { type RunningServer, startServer } from '../../server/index.js';
import { buildViewer } from '../../viewer/build.js';
import { fitTinyTwin, installTwin, rowsAfter } from '../server/twin-fixture.js';

/**
 * The patient-twin page in headless Debian Chromium: open the twins list, open a twin, see the five
 * charts render (fit with band, posteriors with priors, forecast cones, live stream, two what-if
 * replays with their endpoint table), post observations through the API and see the live section
 * take them, with no console errors. Screenshot in test-artifacts/e2e-twin-page.png.
 */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test-artifacts');
const TOKEN = 'e2e-token-0123456789abcdef';
const TWIN = 'twin-e2e0000000000000';

let server: RunningServer;
let browser: Browser;
let page: Page;
let dataDir: string;
let basal: number;
const consoleErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (scripts/ensure-chromium.sh does it)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  const [fixture] = await Promise.all([fitTinyTwin(), buildViewer()]);
  basal = fixture.dataset.basalUPerH[fixture.dataset.basalUPerH.length - 1] as number;
  dataDir = mkdtempSync(join(tmpdir(), 'twinlab-e2e-twin-'));
  server = await startServer({ dataDir, port: 0, token: TOKEN, executor: new InlineExecutor(), pollMs: 20 });
  installTwin(server.store, fixture, TWIN);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('console', (m) => {
    // errors, and vega's warnings (an empty dataset's 'Infinite extent', conflicting domains)
    if (m.type() === 'error' || (m.type() === 'warning' && m.text().startsWith('WARN'))) consoleErrors.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (error) => consoleErrors.push(error.message));
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('patient-twin page in headless Chromium', () => {
  it('renders fit, posteriors, forecast cones, the live stream and what-if replays, and appends live updates', async () => {
    await page.goto(`${server.url}/?view=twins#token=${TOKEN}`);
    await page.waitForSelector(`tr[data-twin="${TWIN}"] a`);
    await page.click(`tr[data-twin="${TWIN}"] a`);
    for (const chart of ['twin-fit', 'twin-posteriors', 'twin-forecast', 'twin-live', 'twin-replay']) {
      await page.waitForSelector(`#${chart} svg.marks`, { timeout: 60_000 });
    }
    await page.waitForSelector('#replay-endpoints tr[data-endpoint="time_in_range_70_180"]', { timeout: 60_000 });
    // bands and lines are drawn, not just axes
    expect(await page.$$eval('#twin-fit svg path', (ps) => ps.length)).toBeGreaterThan(3);
    // a MAP fit: per parameter the prior line and the MAP rule (no histogram layer without draws)
    expect(await page.$$eval('#twin-posteriors svg .role-mark', (ms) => ms.length)).toBeGreaterThanOrEqual(9 * 2);
    expect(await page.textContent('#live-forecast')).toContain('120 min');
    const legend = await page.textContent('#twin-replay');
    expect(legend).toContain('A: recorded');
    expect(legend).toContain('B: carb-ratio=0.8');

    // a live update through the API reaches the page over socket.io
    const last = (await page.getAttribute('#live-last', 'data-time')) as string;
    const rows = rowsAfter(last, [150, 148, 145], basal);
    const status = await page.evaluate(
      async ({ id, rows, token }) => (await fetch(`/api/twins/${id}/observations`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ rows }) })).status,
      { id: TWIN, rows, token: TOKEN },
    );
    expect(status).toBe(200);
    await page.waitForFunction(() => document.getElementById('live-updates')?.dataset.count === '1', undefined, { timeout: 20_000 });
    expect(await page.getAttribute('#live-last', 'data-time')).toBe(String(rows[2]?.time).replace('.000Z', 'Z'));

    await page.screenshot({ path: join(ARTIFACTS, 'e2e-twin-page.png'), fullPage: true });
    expect(consoleErrors).toEqual([]);
  }, 300_000);
});
