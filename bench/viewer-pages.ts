import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import type { TwinlabEvent } from '../engine/events.js';
import { PiscinaExecutor } from '../experiments/executor.js';
import { runExperiment } from '../experiments/runner.js';
import { startServer } from '../server/index.js';
import { buildViewer } from '../viewer/build.js';
import { formatResults } from './util.js';
import type { BenchResult } from './types.js';

/**
 * Viewer pages at scale, in headless Debian Chromium (issue #13 "Performance"):
 *  1. a finished trial of 1,000 patients × 3 arms (sepsis twin, real run): navigation → progress,
 *     the 1,000-row patients table and the forest plot drawn ("interactive"), then one click that
 *     re-sorts the table → drawn again; target < 2 s;
 *  2. run comparison of 20 runs × 10^5 points each (2·10^6 stored points): navigation → every run's
 *     curve (EMA over its full stored series, thinned to 600 points; finished runs' curves computed
 *     by the server, GET /api/curves) read and drawn; target < 1 s; then an EMA change (a reload of
 *     the page with the new weight). `viewer.compare.stages` says where a load's time goes (the
 *     page's performance marks, the series requests' bytes and Server-Timing).
 * Each figure is the median of `--repeats` (default 5) page loads; readiness is polled every 16 ms in
 * the page (requestAnimationFrame polling waited for frames and added up to a second). The machine is shared and loaded:
 * read the figures as upper bounds.
 *
 * Run: `npx tsx bench/viewer-pages.ts [--repeats N] [--patients N] [--runs N] [--points N]`.
 */
const CHROMIUM = '/usr/bin/chromium';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : Number.NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

async function timed(page: Page, url: string, ready: () => Promise<unknown>): Promise<number> {
  await page.goto('about:blank');
  const t0 = Date.now();
  await page.goto(url);
  await ready();
  return Date.now() - t0;
}

export async function run(): Promise<BenchResult[]> {
  const repeats = arg('--repeats', 5);
  const patients = arg('--patients', 1000);
  const runs = arg('--runs', 20);
  const points = arg('--points', 100_000);
  await buildViewer();
  const dataDir = mkdtempSync(join(tmpdir(), 'twinlab-bench-viewer-'));
  const executor = new PiscinaExecutor({ workers: 2 });
  const server = await startServer({ dataDir, port: 0, token: 'bench-token-0123456789', executor, pollMs: 20 });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  const results: BenchResult[] = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });

    // 1. the trial page
    const t0 = Date.now();
    const outcome = await runExperiment({
      spec: {
        kind: 'trial',
        name: 'bench trial page',
        seed: 3,
        cohort: { twin: 'sepsis', population: 'icu', size: patients },
        arms: [
          { name: 'physician', policy: 'sepsis/physician' },
          { name: 'optimal', policy: 'sepsis/optimal' },
          { name: 'treat-all', policy: 'sepsis/treat-all' },
        ],
        endpoints: { primary: ['mortality'] },
        reference: 'physician',
      },
      store: server.store,
      executor,
    });
    const trialSeconds = (Date.now() - t0) / 1000;
    const trialUrl = `${server.url}/?view=trial&id=${encodeURIComponent(outcome.id)}`;
    const loads: number[] = [];
    const sorts: number[] = [];
    for (let r = 0; r < repeats; r++) {
      loads.push(
        await timed(page, trialUrl, async () => {
          await page.waitForFunction((n) => document.querySelectorAll('#patients tr[data-patient]').length === n, patients, { timeout: 60_000, polling: 16 });
          await page.waitForFunction(() => !!document.querySelector('#forest svg.marks'), undefined, { timeout: 60_000, polling: 16 });
        }),
      );
      const s0 = Date.now();
      await page.click('#patients th[data-col="optimal"]');
      await page.waitForFunction(() => window.location.search.includes('sort=optimal'));
      await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
      sorts.push(Date.now() - s0);
    }
    results.push({
      name: 'viewer.trial-page.interactive',
      value: median(loads),
      unit: 'ms',
      note: `${patients} patients × 3 arms (sepsis, run in ${trialSeconds.toFixed(0)} s): navigation → progress, ${patients}-row patients table and forest plot drawn; median of ${repeats} (all: ${loads.join(', ')}); target < 2,000`,
    });
    results.push({
      name: 'viewer.trial-page.sort',
      value: median(sorts),
      unit: 'ms',
      note: `click a column → ${patients} rows re-sorted and painted; all: ${sorts.join(', ')}`,
    });

    // 2. run comparison
    const ids: string[] = [];
    const w0 = Date.now();
    for (let k = 0; k < runs; k++) {
      const id = `cmp-${k}`;
      ids.push(`${id}/job-0`);
      server.store.createExperiment({
        id,
        kind: 'train',
        name: `run ${k}`,
        spec: {},
        seed: k,
        codeVersion: 'bench',
        jobs: [{ id: `${id}/job-0`, index: 0, kind: 'train', seed: k, config: { agentConfig: { lr: 10 ** -(3 + (k % 4)), gamma: k % 2 ? 0.99 : 0.95 } } }],
      });
      for (let start = 0; start < points; start += 20_000) {
        const n = Math.min(20_000, points - start);
        server.store.appendEvents(
          id,
          `${id}/job-0`,
          Array.from({ length: n }, (_, j): TwinlabEvent => {
            const i = start + j;
            return {
              type: 'train.metrics',
              step: i * 10,
              data: { loss: Math.exp(-i / 30_000) * (1 + 0.3 * Math.sin(i / 37 + k)) + ((i * 7919 + k) % 11) / 50 },
            } as TwinlabEvent;
          }),
        );
      }
      server.store.markJobRunning(`${id}/job-0`);
      server.store.markJobFinished(`${id}/job-0`, {});
      server.store.setExperimentStatus(id, 'finished');
    }
    const writeSeconds = (Date.now() - w0) / 1000;
    const url = (ema: number) => `${server.url}/?view=runs&runs=${encodeURIComponent(ids.join(','))}&metric=train.loss&ema=${ema}`;
    const ready = async () => {
      await page.waitForFunction(
        (n) =>
          Number(document.querySelector('#compare-chart[data-ready="1"]')?.getAttribute('data-points')) === n &&
          !!document.querySelector('#compare-chart svg.marks'),
        runs * points,
        { timeout: 60_000, polling: 16 },
      );
    };
    const curvesDrawn = async () => {
      await page.waitForFunction(
        (n) =>
          Number(document.querySelector('#compare-chart[data-drawn="1"]')?.getAttribute('data-points')) === n &&
          !!document.querySelector('#compare-chart svg.marks'),
        runs * points,
        { timeout: 60_000, polling: 16 },
      );
    };
    const draws: number[] = [];
    const pages: number[] = [];
    const emas: number[] = [];
    // the points requests of the page just loaded as the browser saw them (first start → last byte)
    const pointsFetchMs = () =>
      page.evaluate(() => {
        const entries = performance.getEntriesByType('resource').filter((e) => /\/(points|curves?)\b/.test(e.name)) as PerformanceResourceTiming[];
        return entries.length ? Math.max(...entries.map((e) => e.responseEnd)) - Math.min(...entries.map((e) => e.startTime)) : 0;
      });
    // where the time of a load goes (ms from navigation start, the page's own clock): the bundle
    // fetched and run, the route started, the points read, smoothed and thinned, the chart drawn
    const stageNames = ['app.js', 'runs:render', 'compare:fetch', 'compare:fetched', 'compare:curves', 'compare:drawn'] as const;
    const stages = () =>
      page.evaluate((names) => {
        const out: Record<string, number> = {};
        const app = performance.getEntriesByType('resource').find((e) => e.name.endsWith('/app.js'));
        if (app) out['app.js'] = (app as PerformanceResourceTiming).responseEnd;
        for (const n of names) {
          const m = performance.getEntriesByName(n, 'mark')[0];
          if (m) out[n] = m.startTime;
        }
        const pts = performance.getEntriesByType('resource').filter((e) => /\/(points|curves?)\b/.test(e.name)) as PerformanceResourceTiming[];
        if (pts.length) {
          out['series:first-byte'] = Math.min(...pts.map((e) => e.responseStart));
          out['series:bytes'] = pts.reduce((a, e) => a + e.encodedBodySize, 0);
          // the server's own time for all the series requests (Server-Timing: read + curve), summed
          out['series:server'] = pts.reduce((a, e) => a + e.serverTiming.reduce((b, t) => b + t.duration, 0), 0);
        }
        return out;
      }, stageNames as unknown as string[]);
    const coldStages: Record<string, number>[] = [];
    const warmStages: Record<string, number>[] = [];
    let coldFetchMs = 0;
    for (let r = 0; r < repeats; r++) {
      await page.goto('about:blank');
      const t0 = Date.now();
      await page.goto(url(0.9));
      await curvesDrawn();
      draws.push(Date.now() - t0);
      (r === 0 ? coldStages : warmStages).push(await stages());
      if (r === 0) coldFetchMs = await pointsFetchMs();
      await ready();
      pages.push(Date.now() - t0);
      emas.push(await timed(page, url(0.99), curvesDrawn));
    }
    // where the time goes: the points requests as the browser saw them (the last load: served from the server's cache)
    const fetchMs = await pointsFetchMs();
    results.push({
      name: 'viewer.compare.draw',
      value: median(draws),
      unit: 'ms',
      note: `${runs} runs × ${points.toLocaleString('en-US')} points (written in ${writeSeconds.toFixed(0)} s): navigation → every run's curve (EMA 0.9 over the full series, thinned to 600) read and drawn; median of ${repeats} (all: ${draws.join(', ')}; the first is cold: the server then keeps finished runs' encoded series); the series requests took ≈ ${Math.round(fetchMs)} ms of the last load and ≈ ${Math.round(coldFetchMs)} ms of the cold one (the server then read the series from the store's metric_blobs, not its cache); target < 1,000`,
    });
    const stageNote = (list: Record<string, number>[]) =>
      [...stageNames, 'series:first-byte', 'series:server', 'series:bytes']
        .filter((n) => list.some((x) => x[n] !== undefined))
        .map((n) => `${n} ${n === 'series:bytes' ? `${(median(list.map((x) => x[n] ?? 0)) / 1e6).toFixed(2)} MB` : Math.round(median(list.map((x) => x[n] ?? 0)))}`)
        .join(', ');
    results.push({
      name: 'viewer.compare.stages',
      value: median(warmStages.map((x) => x['compare:drawn'] ?? 0)),
      unit: 'ms',
      note: `ms from navigation start (the page's clock), median of the warm loads: ${stageNote(warmStages)}; the cold load: ${stageNote(coldStages)}`,
    });
    results.push({
      name: 'viewer.compare.page',
      value: median(pages),
      unit: 'ms',
      note: `… and the hyperparameter table and parallel coordinates drawn too (all: ${pages.join(', ')})`,
    });
    results.push({
      name: 'viewer.compare.draw-ema-0.99',
      value: median(emas),
      unit: 'ms',
      note: `the same page with another EMA weight (all: ${emas.join(', ')})`,
    });
  } finally {
    await browser.close();
    await server.close();
    await executor.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return results;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run().then((results) => process.stdout.write(`${formatResults(results)}\n`));
}
