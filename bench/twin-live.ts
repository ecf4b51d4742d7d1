import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GlucoseDataset } from '../datasets/types.js';
import { Rng } from '../engine/random.js';
import { saveDataset } from '../experiments/dataset-store.js';
import { Store } from '../experiments/store.js';
import { saveTwinRecord } from '../experiments/twin-store.js';
import { liveForecast, TwinService } from '../server/twins.js';
import { fitGlucoseTwin } from '../twinning/glucose/fit.js';
import { GlucoseProjector } from '../twinning/glucose/forecast.js';
import { livingProfile } from '../twinning/glucose/replay.js';
import { syntheticPerson } from '../twinning/glucose/synthetic.js';
import { twinFileText } from '../twinning/glucose/twin-file.js';
import type { BenchResult } from './types.js';
import { median, runAsMain } from './util.js';

/**
 * Live recalibration of a personal glucose twin (server/twins.ts): the time of one observation update
 * — one new 5-min row → the living profile advanced one slot, the 30/60/120-min forecast and the
 * hypoglycaemia risk — median over UPDATES updates, (a) the computation alone and (b) the whole
 * `POST /api/twins/:id/observations` path below HTTP (zod, the longer data copy, the SQLite insert).
 * Wall time drifts with the machine's load, so the CPU time of (a) is printed too. The twin: MAP fit (64 particles, the default) to two synthetic days; the fit is set-up, not timed.
 *
 * Run directly: `npx tsx bench/twin-live.ts`, or `npm run bench -- twin-live`.
 */
const UPDATES = 288;

/** CGM of a slow sine around 140 mg/dL for row j after the data. */
const cgmAt = (j: number) => Math.round(140 + 40 * Math.sin(j / 30));

function extended(d: GlucoseDataset, extra: number): GlucoseDataset {
  const n = d.cgm.length + extra;
  const grow = (a: Float64Array, fill: number) => {
    const out = new Float64Array(n).fill(fill);
    out.set(a);
    return out;
  };
  const next = { ...d, cgm: grow(d.cgm, Number.NaN), basalUPerH: grow(d.basalUPerH, d.basalUPerH[d.cgm.length - 1] as number), bolusU: grow(d.bolusU, 0), carbsG: grow(d.carbsG, 0) };
  for (let j = 0; j < extra; j++) next.cgm[d.cgm.length + j] = cgmAt(j);
  return next;
}

export async function run(): Promise<BenchResult[]> {
  const person = syntheticPerson({ seed: 7, index: 0, days: 2 });
  const twin = await fitGlucoseTwin(person.dataset, { method: 'map', seed: 1, codeVersion: 'bench' });
  const d = person.dataset;
  const n0 = d.cgm.length;

  // (a) the computation: extendData + advanceTo + liveForecast (forecast and hypo risk), as the service does it
  const full = extended(d, UPDATES);
  const filter = livingProfile(twin, d, twin.seed, n0 - 1);
  filter.advanceTo(n0 - 1);
  const projector = new GlucoseProjector();
  const core: number[] = [];
  const cpu: number[] = [];
  for (let j = 1; j <= UPDATES; j++) {
    const next = { ...full, cgm: full.cgm.subarray(0, n0 + j), basalUPerH: full.basalUPerH.subarray(0, n0 + j), bolusU: full.bolusU.subarray(0, n0 + j), carbsG: full.carbsG.subarray(0, n0 + j) };
    const t0 = performance.now(); // clock-ok: benchmark timing
    const c0 = process.cpuUsage();
    filter.extendData(next);
    filter.advanceTo(n0 + j - 1);
    liveForecast(filter, projector, [30, 60, 120], Rng.fromSeed(twin.seed).fork(`live/${n0 + j - 1}`));
    const c = process.cpuUsage(c0);
    core.push(performance.now() - t0); // clock-ok
    cpu.push((c.user + c.system) / 1000);
  }

  // (b) the service path
  const dir = mkdtempSync(join(tmpdir(), 'twinlab-bench-twin-'));
  const store = Store.open(dir);
  const service: number[] = [];
  try {
    const datasetId = saveDataset(store, d, { now: '2026-01-01T00:00:00Z' }).id;
    const twinDir = join(dir, 'twin');
    mkdirSync(twinDir);
    writeFileSync(join(twinDir, 'twin.json'), twinFileText(twin));
    const id = 'twin-0000000000000000';
    saveTwinRecord(store, { id, twin: 'glucose', datasetId, dir: twinDir, fingerprint: twin.data.fingerprint, summary: {} });
    const twins = new TwinService(store);
    twins.state(id);
    const end = d.startMs + (n0 - 1) * 300_000;
    for (let j = 1; j <= UPDATES; j++) {
      const body = { rows: [{ time: new Date(end + j * 300_000).toISOString(), cgm_mg_dl: cgmAt(j - 1), basal_u_per_h: d.basalUPerH[n0 - 1] as number }] };
      const t0 = performance.now(); // clock-ok
      twins.observe(id, body);
      service.push(performance.now() - t0); // clock-ok
    }
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const note = `${twin.filter.particles} particles, ${UPDATES} one-row updates after ${n0} slots; target < 5 ms`;
  return [
    { name: 'live twin update: filter + forecast (30/60/120) + hypo risk, median', value: Number(median(core).toFixed(2)), unit: 'ms', note },
    { name: 'live twin update: same, CPU time (less sensitive to other load), median', value: Number(median(cpu).toFixed(2)), unit: 'ms CPU' },
    { name: 'live twin update: p95 of the wall time', value: Number(core.sort((a, b) => a - b)[Math.floor(0.95 * core.length)]?.toFixed(2)), unit: 'ms' },
    { name: 'live twin POST path below HTTP (zod, data copy, SQLite insert), median', value: Number(median(service).toFixed(2)), unit: 'ms', note },
  ];
}

runAsMain(import.meta.url, run);
