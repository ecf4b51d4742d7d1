import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { TwinlabEvent } from '../engine/events.js';
import { InlineExecutor, PiscinaExecutor } from '../experiments/executor.js';
import { runExperiment } from '../experiments/runner.js';
import { startServer } from '../server/index.js';
import { buildViewer } from '../viewer/build.js';
import type { BenchResult } from './types.js';
import { runAsMain } from './util.js';

/**
 * Live-viewer figures, in headless Debian Chromium:
 *  1. event latency from an event landing in the store (what the runner does for every training
 *     event, batched) to the point being inserted in the browser's learning-curve chart: median and
 *     p95 over 300 events sent 20 ms apart (the runner's own batching adds up to its flush interval);
 *  2. the same from a real training run: a DQN job in a worker thread emits episode.ended events; the
 *     runner receives them on the main thread (time stamped there), batches them into the store, and
 *     the relay streams them to the chart — the full path a user watches;
 *  3. a run with 1,000,000 metric points: write time, the downsampled series query, and the time for
 *     the experiment page to show its charts.
 *
 * Run directly: `npx tsx bench/server.ts`.
 */
const CHROMIUM = '/usr/bin/chromium';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

export async function run(): Promise<BenchResult[]> {
  await buildViewer();
  const dataDir = mkdtempSync(join(tmpdir(), 'twinlab-bench-server-'));
  const server = await startServer({ dataDir, port: 0, token: 'bench-token-0123456789', executor: new InlineExecutor(), pollMs: 10 });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  const results: BenchResult[] = [];
  try {
    // 1. latency
    const id = 'latency';
    const job = `${id}/job-0`;
    server.store.createExperiment({ id, kind: 'train', name: 'latency', spec: {}, seed: 0, codeVersion: 'bench', jobs: [{ id: job, index: 0, kind: 'train', config: {}, seed: 0 }] });
    server.store.setExperimentStatus(id, 'running');
    const page = await browser.newPage();
    await page.goto(`${server.url}/?view=experiment&id=${id}`);
    await page.waitForSelector('#chart-returns[data-ready="1"]');
    await page.evaluate(() => {
      const w = window as unknown as { latencies: number[] };
      w.latencies = [];
      window.addEventListener('twinlab:chart', (e) => {
        const now = Date.now();
        for (const m of (e as CustomEvent<{ event: { data: { metrics?: { sentAt?: number } } } }[]>).detail) {
          const sent = m.event.data.metrics?.sentAt;
          if (sent) w.latencies.push(now - sent);
        }
      });
    });
    const n = 300;
    for (let i = 0; i < n; i++) {
      const event: TwinlabEvent = { type: 'episode.ended', step: i, data: { episode: i, return: i % 17, length: 10, terminated: false, metrics: { sentAt: Date.now() } } };
      server.store.appendEvents(id, job, [event]);
      await new Promise((r) => setTimeout(r, 20));
    }
    await page.waitForFunction((count) => (window as unknown as { latencies: number[] }).latencies.length >= count, n, { timeout: 30_000 });
    const latencies = ((await page.evaluate(() => (window as unknown as { latencies: number[] }).latencies)) as number[]).sort((a, b) => a - b);
    results.push({ name: 'viewer.event-latency.median', value: percentile(latencies, 0.5), unit: 'ms', note: `store → socket.io → chart insert, ${n} events, relay poll 10 ms` });
    results.push({ name: 'viewer.event-latency.p95', value: percentile(latencies, 0.95), unit: 'ms' });
    await page.close();

    // 2. a real training run, end to end
    {
      const executor = new PiscinaExecutor({ workers: 1 });
      const sentAt = new Map<string, number>();
      const live = await browser.newPage();
      let ready = Number.POSITIVE_INFINITY;
      let opened: Promise<void> = Promise.resolve();
      const run = runExperiment({
        spec: { kind: 'train', name: 'latency-train', seed: 3, env: 'classic/cartpole-v1', steps: 30_000, evalEpisodes: 0, config: { evalEvery: 0, learningStarts: 1000 } },
        store: server.store,
        executor,
        onCreated: (experiment) => {
          opened = (async () => {
            await live.goto(`${server.url}/?view=experiment&id=${encodeURIComponent(experiment.id)}`);
            await live.waitForSelector('#chart-returns[data-ready="1"]');
            await live.evaluate(() => {
              const w = window as unknown as { received: [string, number][] };
              w.received = [];
              window.addEventListener('twinlab:chart', (e) => {
                const now = Date.now();
                for (const m of (e as CustomEvent<{ jobId: string | null; event: { type: string; data: { episode?: number } } }[]>).detail) {
                  if (m.event.type === 'episode.ended') w.received.push([`${m.jobId}#${m.event.data.episode}`, now]);
                }
              });
            });
            ready = Date.now() + 500;
          })();
        },
        onEvent: ({ jobId, event }) => {
          if (event.type === 'episode.ended') sentAt.set(`${jobId}#${event.data.episode}`, Date.now());
        },
      });
      await run;
      await opened;
      await live.waitForTimeout(300);
      const received = (await live.evaluate(() => (window as unknown as { received: [string, number][] }).received)) as [string, number][];
      const lat = received
        .map(([key, at]) => [sentAt.get(key), at] as const)
        .filter(([sent]) => sent !== undefined && sent > ready)
        .map(([sent, at]) => at - (sent as number))
        .sort((a, b) => a - b);
      if (lat.length > 0) {
        results.push({ name: 'viewer.training-event-latency.median', value: percentile(lat, 0.5), unit: 'ms', note: `runner receipt on the main thread → store batch (≤ 25 ms) → relay → chart, ${lat.length} live episodes; the worker's own event batching adds ≤ 15 ms before that` });
        results.push({ name: 'viewer.training-event-latency.p95', value: percentile(lat, 0.95), unit: 'ms' });
      }
      await live.close();
      await executor.close();
    }

    // 2. a million points
    const big = 'million';
    const bigJob = `${big}/job-0`;
    server.store.createExperiment({ id: big, kind: 'train', name: 'a million points', spec: {}, seed: 0, codeVersion: 'bench', jobs: [{ id: bigJob, index: 0, kind: 'train', config: {}, seed: 0 }] });
    const total = 1_000_000;
    const batch = 20_000;
    const t0 = process.hrtime.bigint();
    for (let start = 0; start < total; start += batch) {
      server.store.appendEvents(
        big,
        bigJob,
        Array.from({ length: batch }, (_, k): TwinlabEvent => ({ type: 'episode.ended', step: (start + k) * 10, data: { episode: start + k, return: Math.sin((start + k) / 5000) * 100 + ((start + k) % 7), length: 10, terminated: false } })),
      );
    }
    const writeSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    server.store.setExperimentStatus(big, 'finished');
    results.push({ name: 'store.write.1M-episode-events', value: Math.round(total / writeSeconds), unit: 'events/s', note: `${(total * 4).toLocaleString('en-US')} metric rows in ${writeSeconds.toFixed(1)} s` });
    const q0 = process.hrtime.bigint();
    const res = await fetch(`${server.url}/api/runs/${encodeURIComponent(bigJob)}/metrics/episode.return?maxPoints=1000`);
    const series = (await res.json()) as { steps: number[]; downsampled: boolean; totalPoints: number };
    results.push({ name: 'api.series.1M-downsampled', value: Math.round(Number(process.hrtime.bigint() - q0) / 1e6), unit: 'ms', note: `${series.steps.length} buckets with min/max envelope of ${series.totalPoints.toLocaleString('en-US')} points` });
    const viewer = await browser.newPage();
    const p0 = Date.now();
    await viewer.goto(`${server.url}/?view=experiment&id=${big}`);
    await viewer.waitForFunction(
      () => Number(document.getElementById('points-count')?.dataset.points ?? 0) > 0 && !!document.querySelector('#chart-returns svg.marks'),
      undefined,
      { timeout: 60_000, polling: 16 },
    );
    results.push({
      name: 'viewer.load.1M-point-run',
      value: Date.now() - p0,
      unit: 'ms',
      note: 'page open → learning curve drawn (the full stored series read, EMA-smoothed, thinned to 1,000 points)',
    });
    await viewer.waitForTimeout(1500);
    const frame = await viewer.evaluate(() => {
      const t = performance.now();
      return new Promise<number>((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now() - t))));
    });
    results.push({ name: 'viewer.two-frames-after-load', value: Math.round(frame), unit: 'ms', note: 'two animation frames once loaded: the page stays responsive' });
  } finally {
    await browser.close();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return results;
}

runAsMain(import.meta.url, run);
