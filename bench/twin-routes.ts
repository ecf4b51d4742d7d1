import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type VancomycinDataset, vancomycinToCsv } from '../datasets/vancomycin.js';
import { saveDataset } from '../experiments/dataset-store.js';
import { Store } from '../experiments/store.js';
import { saveTwinRecord } from '../experiments/twin-store.js';
import { TwinService } from '../server/twins.js';
import { fitT2DTwin } from '../twinning/glucose-t2d/fit.js';
import { syntheticT2DPerson } from '../twinning/glucose-t2d/synthetic.js';
import { t2dTwinFileText } from '../twinning/glucose-t2d/twin-file.js';
import { fitVancomycinTwin } from '../twinning/vancomycin/fit.js';
import { vancoTwinFileText } from '../twinning/vancomycin/twin-file.js';
import { syntheticVancoPatient } from '../twinning/vancomycin/validation.js';
import type { BenchResult } from './types.js';
import { median, runAsMain } from './util.js';

/**
 * The server's routes of the type 2 and vancomycin twins (server/twins-t2d.ts, twins-vancomycin.ts),
 * timed below HTTP on TwinService (JSON encoding and the socket not included), medians of REPEATS calls
 * after one warm-up (the first call also parses twin.json and, for vancomycin, data.csv):
 * - vancomycin (the defaults' posterior: 400 draws; a synthetic Goti patient, 7 doses, 3 levels):
 *   one level posted for live recalibration (4th to 11th level), then the curve of the recorded doses, the curve with a
 *   proposed regimen for 48 h, the dose table;
 * - type 2 (MAP on 7 synthetic days): one CGM row posted for live recalibration, the fit with its band
 *   (uncached: a fresh service per call), one forecast origin (30/60/120 min), a what-if replay of the last day.
 *
 * Run directly: `npx tsx bench/twin-routes.ts`, or `npm run bench -- twin-routes`.
 */
const REPEATS = 7;
/** Epoch ms of a dataset's last slot. */
const d0 = (d: { startMs: number; cgm: ArrayLike<number> }) => d.startMs + (d.cgm.length - 1) * 300_000;
const HOUR = 3_600_000;
const START = Date.UTC(2026, 2, 2, 8);

function timeIt(f: () => unknown): number {
  f();
  const ts: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const t0 = performance.now(); // clock-ok: benchmark
    f();
    ts.push(performance.now() - t0); // clock-ok: benchmark
  }
  return median(ts);
}

export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'twinlab-bench-twin-routes-'));
  const store = Store.open(dir);
  try {
    // vancomycin: MCMC at the defaults (400 draws kept), as `twin fit --twin vancomycin` writes it
    const p = syntheticVancoPatient(5, 0);
    const dataset: VancomycinDataset = {
      kind: 'vancomycin',
      patientId: 'bench-vanco',
      covariates: {},
      doses: p.doses.map((d) => ({ timeMs: START + d.timeH * HOUR, amountMg: d.amountMg, durationH: d.durationH })),
      levels: p.times.map((t, i) => ({ timeMs: START + Math.round(t * 60) * 60_000, concMgL: Math.round((p.observed[i] as number) * 10) / 10 })),
      warnings: [],
      provenance: { format: 'csv', fileSha256: '0'.repeat(64), records: 10 },
    };
    const vanco = await fitVancomycinTwin(dataset, p.cov, { method: 'mcmc', seed: 0, codeVersion: 'bench' });
    const vdir = join(dir, 'twins', 'v');
    mkdirSync(vdir, { recursive: true });
    writeFileSync(join(vdir, 'twin.json'), vancoTwinFileText(vanco));
    writeFileSync(join(vdir, 'data.csv'), vancomycinToCsv(dataset));
    saveTwinRecord(store, { id: 'twin-bench0000000000v', twin: 'vancomycin', datasetId: null, dir: vdir, fingerprint: vanco.data.fingerprint, summary: {} });

    const person = syntheticT2DPerson({ seed: 3, index: 0, days: 7 });
    const t2d = await fitT2DTwin(person.dataset, { method: 'map', seed: 1, codeVersion: 'bench' });
    const datasetId = saveDataset(store, person.dataset).id;
    const tdir = join(dir, 'twins', 't');
    mkdirSync(tdir, { recursive: true });
    writeFileSync(join(tdir, 'twin.json'), t2dTwinFileText(t2d));
    saveTwinRecord(store, { id: 'twin-bench0000000000t', twin: 'glucose-t2d', datasetId, dir: tdir, fingerprint: t2d.data.fingerprint, summary: {} });

    const twins = new TwinService(store);
    const d = person.dataset;
    const origin = new Date(d.startMs + (d.cgm.length - 100) * 300_000).toISOString();
    const lastDay = new Date(d.startMs + (d.cgm.length - 288) * 300_000).toISOString();
    // live recalibration: one level posted (validate, MAP re-fit of every level, the new level's prediction, SQLite insert)
    const lastMs = Math.max(...dataset.levels.map((l) => l.timeMs), ...dataset.doses.map((x) => x.timeMs));
    let k = 0;
    const post = () => {
      k++;
      twins.observe('twin-bench0000000000v', { rows: [{ time: new Date(lastMs + k * 12 * HOUR).toISOString(), event: 'level', conc_mg_l: 15 + (k % 5) }] });
    };
    const observeMs = timeIt(post);
    // type 2 live recalibration: one 5-min CGM row (the living profile one slot on, 30/60/120-min forecast)
    let j = 0;
    const t2dEnd = d0(person.dataset);
    const postT2D = () => {
      j++;
      twins.observe('twin-bench0000000000t', { rows: [{ time: new Date(t2dEnd + j * 300_000).toISOString(), cgm_mg_dl: 180 + (j % 7) }] });
    };
    return [
      { name: 'vancomycin: POST one level → MAP re-fit + state (target < 50 ms)', value: observeMs, unit: 'ms' },
      { name: 'type 2: POST one CGM row → living profile + 30/60/120-min forecast', value: timeIt(postT2D), unit: 'ms' },
      { name: 'vancomycin curve, recorded doses (200 draws × ≤ 300 times)', value: timeIt(() => twins.curve('twin-bench0000000000v', {})), unit: 'ms' },
      { name: 'vancomycin curve + proposed regimen 48 h', value: timeIt(() => twins.curve('twin-bench0000000000v', { dose: '1250', interval: '12' })), unit: 'ms' },
      { name: 'vancomycin dose table (8,12,24 h × 16 doses × 400 draws)', value: timeIt(() => twins.dose('twin-bench0000000000v', {})), unit: 'ms' },
      { name: 'type 2 fit with band, 7 days (uncached)', value: timeIt(() => new TwinService(store).fit('twin-bench0000000000t')), unit: 'ms' },
      { name: 'type 2 forecast, one origin, 30/60/120 min', value: timeIt(() => twins.forecast('twin-bench0000000000t', { from: origin, to: origin })), unit: 'ms' },
      { name: 'type 2 what-if replay of the last day', value: timeIt(() => twins.replay('twin-bench0000000000t', { from: lastDay, therapy: 'gi=40' })), unit: 'ms' },
    ];
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

runAsMain(import.meta.url, run);
