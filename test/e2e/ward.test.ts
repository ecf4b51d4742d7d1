import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TwinlabEvent } from '../../engine/events.js';
import { type WardStepInfo, WardEnv } from '../../environments/hospital/env.js';
import { wardTimeline } from '../../environments/hospital/ward-timeline.js';
import { InlineExecutor } from '../../experiments/executor.js';
import { type RunningServer, startServer } from '../../server/index.js';
import { buildViewer } from '../../viewer/build.js';
import { apiClient } from './api-client.js';

/**
 * The ward view in headless Debian Chromium: a small ward trial (6 beds, 24 hourly steps, frames on)
 * run by the server and replayed from the store; the same view following a running job live from its
 * trajectory.frame events (written into the store in two batches, as a job's worker would, so the
 * test does not race the simulation); at 800 px. Checks bed rows and stays against info.ward, a click
 * into a patient's tracks with units, the keyboard player, and no console errors or vega warnings.
 * Screenshots in test-artifacts/.
 */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test-artifacts');
const TOKEN = 'e2e-token-ward-0123456789';
const SCENARIO = { beds: 6, warmupDays: 6, arrivalsPerDay: 8, nursesDay: 2, nursesNight: 1 };
const STEPS = 24;

let server: RunningServer;
let browser: Browser;
let page: Page;
let dataDir: string;
const messages: string[] = [];

const { api } = apiClient(() => server.url, TOKEN);

/** Independent of the view: the (bed, patient) runs of info.ward, i.e. the stays a bed chart must draw. */
function bedRuns(snapshots: WardStepInfo[]): string[] {
  const runs: string[] = [];
  const beds = snapshots[0]?.beds.length ?? 0;
  for (let k = 0; k < beds; k++) {
    let prev: number | null = null;
    for (const s of snapshots) {
      const id = s.beds[k]?.id ?? null;
      if (id !== null && id !== prev) runs.push(`${k}:${id}`);
      prev = id;
    }
  }
  return runs;
}

const barCount = () => page.$$eval('#ward-beds g.mark-rect.role-mark path', (ps) => ps.length);
const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `e2e-ward-${name}.png`), fullPage: true });

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (scripts/ensure-chromium.sh does it)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  await buildViewer();
  dataDir = mkdtempSync(join(tmpdir(), 'twinlab-e2e-ward-'));
  server = await startServer({ dataDir, port: 0, token: TOKEN, executor: new InlineExecutor(), pollMs: 20 });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
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

describe('the ward view (headless Chromium)', () => {
  it('replays a stored ward episode: a row per bed, a bar per stay of info.ward, a click into a patient with units, keyboard player', async () => {
    const spec = {
      kind: 'trial',
      name: 'e2e ward',
      seed: 12,
      cohort: { twin: 'hospital', population: 'ward-week', size: 1 },
      arms: [{ name: 'fcfs', policy: 'hospital/fcfs' }],
      scenario: SCENARIO,
      duration: { steps: STEPS },
      endpoints: { primary: ['mortality'] },
      frames: true,
    };
    const { id } = await api<{ id: string }>('/api/experiments', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ spec }) });
    for (let i = 0; i < 600 && (await api<{ status: string }>(`/api/experiments/${encodeURIComponent(id)}`)).status !== 'finished'; i++) await new Promise((r) => setTimeout(r, 50));
    const job = `${id}/job-0`;
    const episode = await api<{ resetInfo: { ward: WardStepInfo }; steps: { info: { ward: WardStepInfo } }[] }>(`/api/runs/${encodeURIComponent(job)}/episodes/episode-0`);
    const snapshots = [episode.resetInfo.ward, ...episode.steps.map((s) => s.info.ward)];
    const runs = bedRuns(snapshots);
    // the run streamed its frames too: one per step and the reset
    const { events } = await api<{ events: { event: TwinlabEvent }[] }>(`/api/experiments/${encodeURIComponent(id)}/events?limit=1000`);
    expect(events.filter((e) => e.event.type === 'trajectory.frame')).toHaveLength(STEPS + 1);

    await page.goto(`${server.url}/?view=episode&id=${encodeURIComponent(id)}&run=${encodeURIComponent(job)}&episode=episode-0`);
    await page.waitForSelector('#ward-beds svg.marks');
    await page.waitForSelector('#ward-beds[data-stays]');
    const bedsText = await page.$$eval('#ward-beds svg text', (ts) => ts.map((t) => t.textContent ?? ''));
    for (let k = 1; k <= 6; k++) expect(bedsText).toContain(`bed ${k}`);
    expect(bedsText).not.toContain('bed 7');
    expect(Number(await page.getAttribute('#ward-beds', 'data-beds'))).toBe(6);
    expect(runs.length).toBeGreaterThan(6);
    expect(Number(await page.getAttribute('#ward-beds', 'data-stays'))).toBe(runs.length);
    expect(await barCount()).toBe(runs.length);
    // the ended stays carry the outcome the ward reported (seed 12: two discharges in 24 h)
    const ended = wardTimeline(snapshots).stays.filter((s) => s.outcome !== 'in bed');
    expect(ended.map((s) => s.outcome)).toEqual(['discharged', 'discharged']);
    expect(await page.$$eval('#ward-beds g.mark-symbol.role-mark path', (ps) => ps.length)).toBe(ended.length);
    const staffText = await page.$$eval('#ward-staff svg text', (ts) => ts.map((t) => t.textContent ?? '').join('\n'));
    for (const s of ['nurse/day-0', 'nurse/day-1', 'nurse/night-0', 'pharmacist', 'off', 'idle']) expect(staffText).toContain(s);
    // the patient list has every stay of the bed rows (and any shorter than a step)
    const listed = await page.$$eval('#patient-select option', (os) => os.map((o) => (o as HTMLOptionElement).value).filter(Boolean));
    expect(listed.length).toBe(wardTimeline(snapshots).stays.length);

    // keyboard: → steps the shared cursor, End goes to the last step, Home back to the reset
    await page.click('h1');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    expect(await page.getAttribute('#position', 'data-cursor')).toBe('2');
    expect(await page.textContent('#ward-details')).toContain('day 1 02:00');
    await page.keyboard.press('End');
    expect(await page.getAttribute('#position', 'data-cursor')).toBe(String(STEPS));
    await page.keyboard.press('Home');
    expect(await page.getAttribute('#position', 'data-cursor')).toBe('0');
    await page.click('#step-forward');
    expect(await page.getAttribute('#position', 'data-cursor')).toBe('1');

    // click a patient's bar → their tracks, with units
    const bar = page.locator('#ward-beds g.mark-rect.role-mark path').first();
    await bar.click();
    await page.waitForSelector('#ward-patient svg.marks');
    const title = (await page.textContent('#patient-title')) ?? '';
    const pid = Number(/#(\d+)/.exec(title)?.[1]);
    expect(Number.isInteger(pid)).toBe(true);
    expect(new URL(page.url()).searchParams.get('patient')).toBe(String(pid));
    const cls = snapshots.flatMap((s) => s.beds).find((b) => b?.id === pid)?.cls;
    const patientText = await page.$$eval('#ward-patient svg text', (ts) => ts.map((t) => t.textContent ?? '').join('\n'));
    if (cls === 'sepsis') for (const t of ['NEWS2-like score (points)', 'vitals out of range (count)', 'antibiotics', 'off', 'on']) expect(patientText).toContain(t);
    else for (const t of ['vancomycin concentration (mg/L)', 'AUC24 (mg·h/L)', 'vancomycin doses given (count)', 'acute kidney injury']) expect(patientText).toContain(t);
    await shot('stored');
    expect(messages).toEqual([]);
  }, 90_000);

  it('follows a running ward episode live from its frames, then fits an 800 px viewport', async () => {
    // a "running" job whose worker has sent 9 frames so far (reset + 8 steps)
    const env = new WardEnv({ ...SCENARIO, horizonHours: STEPS });
    const frames: TwinlabEvent[] = [];
    const snapshots: WardStepInfo[] = [];
    const frame = (t: number, info: object, action: number | null): TwinlabEvent => {
      const copy = JSON.parse(JSON.stringify(info)) as { ward: WardStepInfo };
      snapshots.push(copy.ward);
      return { type: 'trajectory.frame', step: t, data: { episode: 0, t, observation: [], action, reward: 0, info: copy } };
    };
    frames.push(frame(0, env.reset({ seed: 18 }).info, null));
    for (let t = 1; t <= STEPS; t++) frames.push(frame(t, env.step(t % 4).info, t % 4));
    const store = server.store;
    const id = 'e2e-ward-live';
    const job = `${id}/job-0`;
    store.createExperiment({
      id,
      kind: 'trial',
      name: 'e2e ward live',
      spec: {},
      seed: 1,
      codeVersion: 'test',
      jobs: [{ id: job, index: 0, kind: 'trial', seed: 1, config: { kind: 'trial', envId: 'hospital/ward-v1', envOptions: { ...SCENARIO, maxEpisodeSteps: STEPS }, frames: true } }],
    });
    store.markJobRunning(job);
    store.appendEvents(id, job, frames.slice(0, 9));

    await page.setViewportSize({ width: 800, height: 1000 });
    // the run page offers the live view while no episode is stored
    await page.goto(`${server.url}/?view=episode&id=${id}&run=${encodeURIComponent(job)}`);
    await page.click('text=follow episode-0 live');
    await page.waitForSelector('#ward-beds svg.marks');
    await page.waitForFunction(() => document.querySelector('#position')?.textContent?.includes('received 8'));
    expect(await page.getAttribute('#position', 'data-cursor')).toBe('8');
    expect(Number(await page.getAttribute('#ward-beds', 'data-stays'))).toBe(bedRuns(snapshots.slice(0, 9)).length);

    // the worker sends the rest: the charts grow and the cursor follows the latest step
    store.appendEvents(id, job, frames.slice(9));
    await page.waitForFunction((n) => document.querySelector('#position')?.textContent?.includes(`received ${n}`), STEPS);
    expect(await page.getAttribute('#position', 'data-cursor')).toBe(String(STEPS));
    const runs = bedRuns(snapshots);
    expect(Number(await page.getAttribute('#ward-beds', 'data-stays'))).toBe(runs.length);
    expect(await barCount()).toBe(runs.length);
    expect(await page.textContent('#live-status')).toContain(`live · step ${STEPS} of ${STEPS}`);

    // a patient from the list (keyboard-reachable) shows their tracks
    const value = await page.$eval('#patient-select option:nth-child(2)', (o) => (o as HTMLOptionElement).value);
    await page.selectOption('#patient-select', value);
    await page.waitForSelector('#ward-patient svg.marks');
    expect(await page.textContent('#patient-title')).toContain(`#${value}`);
    // nothing wider than the viewport
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(800);
    await shot('live-800px');
    expect(messages).toEqual([]);
  }, 90_000);
});
