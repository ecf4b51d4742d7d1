import { readFileSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../engine/random.js';
import { slotTimeMs } from '../../datasets/types.js';
import { t2dForecastAt, t2dLivingProfile, t2dReplay } from '../../twinning/glucose-t2d/replay.js';
import { parseSwap, parseT2DTherapy } from '../../twinning/glucose-t2d/therapy.js';
import { listTwinEvents } from '../../experiments/twin-store.js';
import { TwinService } from '../../server/twins.js';
import { recommendDoses } from '../../twinning/vancomycin/dose.js';
import { fitVancomycinTwin } from '../../twinning/vancomycin/fit.js';
import { parseVancoTwinFile } from '../../twinning/vancomycin/twin-file.js';
import { request, TOKEN, testServer } from './helpers.js';
import { fitTinyTwin, installTwin } from './twin-fixture.js';
import { fitTinyT2DTwin, fitVancoTwinWithCli, installT2DTwin, type TinyT2DTwin, VANCO_START_MS, vancoDataset } from './twin-kinds-fixture.js';

/**
 * The twin routes for every stored kind (server/twins.ts, twins-t2d.ts, twins-vancomycin.ts): the list
 * names each twin's kind; a type 2 twin's fit, posteriors, forecasts and what-if replays equal what
 * twinning/glucose-t2d computes for the CLI; a vancomycin twin recorded by `twin fit --twin vancomycin
 * --store` serves its summary, concentration curve (with a proposed regimen) and the `twin dose`
 * table; bad queries are 400s naming the field; mutations need the token; kinds refuse routes they
 * do not have.
 */
type Server = Awaited<ReturnType<typeof testServer>>;
let server: Server;
let t2d: TinyT2DTwin;
let vanco: Awaited<ReturnType<typeof fitVancoTwinWithCli>>;
let vancoUntil: Awaited<ReturnType<typeof fitVancoTwinWithCli>>;
const ids = { glucose: 'twin-1111111111111111', t2d: 'twin-2222222222222222', t2dLiveA: 'twin-2222222222aaaaaa', t2dLiveB: 'twin-2222222222bbbbbb' };
const get = async (path: string) => request(server.url, 'GET', path);

beforeAll(async () => {
  server = await testServer();
  const [g, t] = await Promise.all([fitTinyTwin(), fitTinyT2DTwin()]);
  t2d = t;
  installTwin(server.store, g, ids.glucose);
  installT2DTwin(server.store, t2d, ids.t2d);
  vanco = await fitVancoTwinWithCli(server.store, 'v1');
  // fitted on the first two levels only (the third is 71.5 h after the first dose)
  vancoUntil = await fitVancoTwinWithCli(server.store, 'v2', { until: VANCO_START_MS + 60 * 3_600_000 });
}, 240_000);

afterAll(async () => {
  await server?.cleanup();
});

describe('twin list and summaries by kind', () => {
  it('lists every stored kind with its kind field, and summarises each', async () => {
    const list = await get('/api/twins');
    expect(list.status).toBe(200);
    const kinds = Object.fromEntries(list.json.map((t: { id: string; kind: string }) => [t.id, t.kind]));
    expect(kinds).toMatchObject({ [ids.glucose]: 'glucose', [ids.t2d]: 'glucose-t2d', [vanco.id]: 'vancomycin', [vancoUntil.id]: 'vancomycin' });
    const g = await get(`/api/twins/${ids.glucose}`);
    expect(g.json).toMatchObject({ kind: 'glucose', live: true });
    const s = await get(`/api/twins/${ids.t2d}`);
    expect(s.json).toMatchObject({ kind: 'glucose-t2d', live: true, patient: t2d.twin.patient, context: t2d.twin.context });
    expect(s.json.parameters.priors.map((p: { name: string }) => p.name)).toEqual(t2d.twin.parameters.names);
    const v = await get(`/api/twins/${vanco.id}`);
    const file = parseVancoTwinFile(readFileSync(join(vanco.dir, 'twin.json'), 'utf8'), 'twin.json');
    expect(v.json).toMatchObject({ kind: 'vancomycin', covariates: file.covariates, auc24: file.auc24, regimen: file.regimen });
    const cl = file.posterior.summary.find((r) => r.name === 'CL');
    expect(v.json.parameters.CL).toEqual({ unit: 'L/h', map: cl?.map, mean: cl?.mean, lo: cl?.q025, hi: cl?.q975 });
    expect(v.json.parameters.V1.unit).toBe('L');
  });
});

describe('type 2 twin routes', () => {
  it('fit: CGM against the MAP trajectory with a 95 % band, carbohydrate per slot, over the fit window', async () => {
    const r = await get(`/api/twins/${ids.t2d}/fit`);
    expect(r.status).toBe(200);
    expect(r.json.rows[0].time).toBe(t2d.twin.data.windowStart);
    expect(r.json.rows.length).toBe((Date.parse(t2d.twin.data.windowEnd) - Date.parse(t2d.twin.data.windowStart)) / 300_000);
    for (const row of r.json.rows) expect(row.lo).toBeLessThanOrEqual(row.hi);
    const carbs = r.json.rows.reduce((a: number, row: { carbs: number }) => a + row.carbs, 0);
    expect(carbs).toBeGreaterThan(0);
    // the MAP trajectory's RMSE against the CGM is the fit RMSE twin.json records
    const res = r.json.rows.filter((row: { cgm: number | null }) => row.cgm !== null).map((row: { cgm: number; map: number }) => row.cgm - row.map);
    expect(Math.sqrt(res.reduce((a: number, e: number) => a + e * e, 0) / res.length)).toBeCloseTo(t2d.twin.fit.rmse, 0);
  });

  it('posteriors: the nine natural parameters beside their prior densities', async () => {
    const r = await get(`/api/twins/${ids.t2d}/posterior`);
    expect(r.json.parameters.map((p: { name: string }) => p.name)).toEqual(['SI', 'beta', 'Gb', 'kabsScale', 'f', 'sigma', 'phi', 'sigmaModel', 'tauModel']);
    const gb = r.json.parameters[2];
    expect(gb.unit).toBe('mg/dL');
    expect(gb.map).toBeCloseTo(Math.exp(t2d.twin.map.theta[2] as number), 8);
    // a density: integrates to ≈ 1 over the plotted range (central 99.8 % of the prior)
    const xs = gb.priorDensity.map((d: { x: number }) => d.x);
    const dx = (xs[79] - xs[0]) / 79;
    expect(gb.priorDensity.reduce((a: number, d: { density: number }) => a + d.density * dx, 0)).toBeGreaterThan(0.95);
  });

  it('forecast rows equal twinning/glucose-t2d on the same origins and streams (the CLI’s numbers)', async () => {
    const d = t2d.dataset;
    const k = d.cgm.length - 60;
    const from = new Date(slotTimeMs(d, k)).toISOString();
    const r = await get(`/api/twins/${ids.t2d}/forecast?from=${from}&to=${from}&horizons=30,60`);
    expect(r.status).toBe(200);
    const filter = t2dLivingProfile(t2d.twin, d, t2d.twin.seed, k);
    filter.advanceTo(k);
    const want = t2dForecastAt(filter, [30, 60], Rng.fromSeed(t2d.twin.seed).fork('forecast').fork(`origin/${k}`));
    expect(r.json.rows.map((x: { mean: number; lo: number; hi: number }) => [x.mean, x.lo, x.hi])).toEqual(want.map((p) => [p.mean, p.lo, p.hi]));
  });

  it('what-if replay by the CLI grammar (therapy and a food swap) equals t2dReplay; a swap lowers the meal peak', async () => {
    const d = t2d.dataset;
    const from = slotTimeMs(d, d.cgm.length - 288);
    let meal = -1;
    for (let k = d.cgm.length - 287; k < d.cgm.length - 24 && meal < 0; k++) if ((d.carbsG[k] as number) >= 30) meal = k;
    expect(meal).toBeGreaterThan(0);
    const at = new Date(slotTimeMs(d, meal)).toISOString().replace('.000Z', 'Z');
    const fromIso = new Date(from).toISOString();
    const base = await get(`/api/twins/${ids.t2d}/replay?from=${fromIso}`);
    const swapped = await get(`/api/twins/${ids.t2d}/replay?from=${fromIso}&therapy=gi%3D40&swap=${encodeURIComponent(`${at}=lentils`)}`);
    expect(swapped.status).toBe(200);
    const swap = parseSwap(`${at}=lentils`, (t) => Date.parse(t));
    const want = t2dReplay(t2d.twin, d, from, { ...parseT2DTherapy('gi=40'), swaps: [swap] }, t2d.twin.seed);
    expect(swapped.json.rows.map((x: { mean: number }) => x.mean)).toEqual(want.rows.map((x) => x.mean));
    expect(swapped.json.endpoints.mean_glucose).toEqual(want.endpoints.mean_glucose);
    const peak = (rows: { time: string; mean: number }[]) => Math.max(...rows.filter((x) => Date.parse(x.time) > Date.parse(at) && Date.parse(x.time) <= Date.parse(at) + 3 * 3_600_000).map((x) => x.mean));
    expect(peak(swapped.json.rows)).toBeLessThan(peak(base.json.rows));
  });

  it('bad what-ifs and queries are 400s naming the field', async () => {
    const from = new Date(slotTimeMs(t2d.dataset, 300)).toISOString();
    const insulin = await get(`/api/twins/${ids.t2d}/replay?from=${from}&therapy=bolus%3D2`);
    expect(insulin.status).toBe(400);
    expect(insulin.json.error.message).toMatch(/^query\.therapy bolus/);
    expect(insulin.json.error.details.field).toBe('query.therapy.bolus');
    const food = await get(`/api/twins/${ids.t2d}/replay?from=${from}&swap=${encodeURIComponent('2026-01-05T08:00:00Z=pizza-unknown')}`);
    expect(food.status).toBe(400);
    expect(food.json.error.details.field).toBe('query.swap');
    const horizons = await get(`/api/twins/${ids.t2d}/forecast?from=${from}&horizons=7`);
    expect(horizons.status).toBe(400);
    expect(horizons.json.error.message).toContain('query.horizons');
    const outside = await get(`/api/twins/${ids.t2d}/forecast?from=2020-01-01T00:00:00Z`);
    expect(outside.status).toBe(400);
    expect(outside.json.error.details.field).toBe('query.from');
  });

  it('live recalibration: posted CGM and meals continue the living profile; batching and a restart do not change the state', async () => {
    installT2DTwin(server.store, t2d, ids.t2dLiveA);
    installT2DTwin(server.store, t2d, ids.t2dLiveB);
    const before = (await get(`/api/twins/${ids.t2dLiveA}/state`)).json;
    const d = t2d.dataset;
    const lastIso = new Date(slotTimeMs(d, d.cgm.length - 1)).toISOString();
    expect(before).toMatchObject({ status: 'live', appended: 0, lastSlotTime: lastIso.replace('.000Z', 'Z'), hypo: null });
    expect(before.recent).toHaveLength(144);
    const rows = [0, 1, 2].map((i) => ({ time: new Date(Date.parse(lastIso) + (i + 1) * 300_000).toISOString(), cgm_mg_dl: 170 + 5 * i, ...(i === 1 ? { carbs_g: 45 } : {}) }));
    expect((await request(server.url, 'POST', `/api/twins/${ids.t2dLiveA}/observations`, { rows })).status).toBe(401);
    const batch = await request(server.url, 'POST', `/api/twins/${ids.t2dLiveA}/observations`, { rows }, TOKEN);
    expect(batch.status).toBe(200);
    expect(batch.json).toMatchObject({ appended: 3, readings: before.readings + 3, lastSlotTime: rows[2]?.time.replace('.000Z', 'Z') });
    expect(batch.json.forecast.map((p: { horizonMin: number }) => p.horizonMin)).toEqual([30, 60, 120]);
    for (const p of batch.json.forecast) expect(p.lo).toBeLessThanOrEqual(p.hi);
    // one row at a time gives the same state (the filter's streams do not depend on batching)
    let single: { json: unknown } = { json: null };
    for (const row of rows) single = await request(server.url, 'POST', `/api/twins/${ids.t2dLiveB}/observations`, { rows: [row] }, TOKEN);
    expect({ ...(single.json as object), twinId: ids.t2dLiveA }).toEqual(batch.json);
    // stored: a new service over the same store rebuilds the same state
    expect(new TwinService(server.store).liveState(ids.t2dLiveA)).toEqual(batch.json);
    // forecasts and replays run on the live data: an origin at a posted row
    const f = await get(`/api/twins/${ids.t2dLiveA}/forecast?from=${rows[2]?.time}&to=${rows[2]?.time}`);
    expect(f.status).toBe(200);
    expect(f.json.rows).toHaveLength(3);
  });

  it('type 2 rows take no insulin keys, stay on the grid and after the data (400 naming the row and field)', async () => {
    const d = t2d.dataset;
    const next = new Date(slotTimeMs(d, d.cgm.length) + 3_600_000).toISOString();
    const cases: [unknown, string][] = [
      [{ rows: [{ time: next, cgm_mg_dl: 150, basal_u_per_h: 0.8 }] }, 'basal_u_per_h'],
      [{ rows: [{ time: next, cgm_mg_dl: 150, bolus_u: 2 }] }, 'bolus_u'],
      [{ rows: [{ time: next.replace(':00:00', ':02:00'), cgm_mg_dl: 150 }] }, 'body.rows.0.time'],
      [{ rows: [{ time: new Date(d.startMs).toISOString(), cgm_mg_dl: 150 }] }, 'body.rows.0.time'],
      [{ rows: [{ time: next, cgm_mg_dl: 900 }] }, 'body.rows.0.cgm_mg_dl'],
    ];
    for (const [body, field] of cases) {
      const r = await request(server.url, 'POST', `/api/twins/${ids.t2d}/observations`, body, TOKEN);
      expect(r.status, field).toBe(400);
      expect(r.json.error.message, field).toContain(field);
    }
    expect((await get(`/api/twins/${ids.t2d}/dose`)).status).toBe(409);
  });
});

describe('vancomycin twin routes', () => {
  it('curve: the recorded doses, the measured levels inside the band, zero concentration before the first dose', async () => {
    const r = await get(`/api/twins/${vanco.id}/curve`);
    expect(r.status).toBe(200);
    expect(r.json.doses).toHaveLength(7);
    expect(r.json.levels.map((l: { observed: number }) => l.observed)).toEqual(vanco.dataset.levels.map((l) => l.concMgL));
    expect(r.json.levels.every((l: { used: boolean }) => l.used)).toBe(true);
    const inside = r.json.levels.filter((l: { observed: number; lo: number; hi: number }) => l.observed >= l.lo && l.observed <= l.hi);
    expect(inside.length).toBeGreaterThanOrEqual(2);
    // at the first dose's start nothing is infused yet: the band is the assay's additive error alone, 1.96 × 3.4 mg/L (Goti 2018), floored at 0
    expect(r.json.rows[0]).toMatchObject({ mean: 0, lo: 0 });
    expect(r.json.rows[0].hi).toBeCloseTo(1.959964 * 3.4, 1); // quantiles to 0.01 mg/L
    for (const row of r.json.rows) expect(row.lo).toBeLessThanOrEqual(row.hi);
    expect(r.json.proposed).toBeNull();
  });

  it('a twin fitted on the levels up to --until marks the later level as not used', async () => {
    const r = await get(`/api/twins/${vancoUntil.id}/curve`);
    expect(r.json.levels.map((l: { used: boolean }) => l.used)).toEqual([true, true, false]);
  });

  it('curve with a proposed regimen: doses continue one interval after the last; its AUC24 equals the dose table row', async () => {
    const table = await get(`/api/twins/${vanco.id}/dose?targetAuc=400-600&intervals=12&mic=1&top=1`);
    const best = table.json.regimens[0];
    const r = await get(`/api/twins/${vanco.id}/curve?dose=${best.doseMg}&interval=12&hours=48`);
    expect(r.status).toBe(200);
    const proposed = r.json.doses.filter((d: { proposed: boolean }) => d.proposed);
    expect(proposed).toHaveLength(4);
    expect(Date.parse(proposed[0].time) - Date.parse(r.json.doses[6].time)).toBe(12 * 3_600_000);
    expect(proposed[0]).toMatchObject({ amountMg: best.doseMg, durationH: best.infusionH });
    expect(r.json.proposed.auc24).toEqual(best.auc24);
    expect(r.json.proposed.trough).toEqual(best.trough);
    expect(Date.parse(r.json.rows[r.json.rows.length - 1].time)).toBeGreaterThan(Date.parse(proposed[3].time));
  });

  it('dose table equals `twin dose --json` (recommendDoses) for the query’s target, intervals and MIC', async () => {
    const r = await get(`/api/twins/${vanco.id}/dose?targetAuc=400-550&intervals=8,24&mic=1.5&top=5`);
    expect(r.status).toBe(200);
    const file = parseVancoTwinFile(readFileSync(join(vanco.dir, 'twin.json'), 'utf8'), 'twin.json');
    const { twinId, ...rest } = r.json;
    expect(twinId).toBe(vanco.id);
    expect(rest).toEqual(JSON.parse(JSON.stringify(recommendDoses(file, { targetAuc: [400, 550], intervals: [8, 24], mic: 1.5, top: 5 }))));
    const d = await get(`/api/twins/${vanco.id}/dose`);
    expect(d.json.target.aucOverMic).toEqual([400, 600]);
    expect(new Set(d.json.regimens.map((x: { intervalH: number }) => x.intervalH)).size).toBeGreaterThan(0);
  });

  it('bad queries are 400s naming the field', async () => {
    const cases: [string, string][] = [
      ['dose?targetAuc=600-400', 'query.targetAuc'],
      ['dose?targetAuc=abc', 'query.targetAuc'],
      ['dose?intervals=0,12', 'query.intervals'],
      ['dose?intervals=12,100', 'query.intervals'],
      ['dose?mic=-1', 'query.mic'],
      ['dose?top=0', 'query.top'],
      ['dose?target=400-600', 'target'],
      ['curve?dose=333', 'query.dose'],
      ['curve?dose=1000&interval=0', 'query.interval'],
      ['curve?interval=12', 'query.dose'],
      ['curve?dose=1000&start=2026-03-02T09:00:00Z', 'query.start'],
      ['curve?dose=1000&start=yesterday', 'query.start'],
    ];
    for (const [path, field] of cases) {
      const r = await get(`/api/twins/${vanco.id}/${path}`);
      expect(r.status, path).toBe(400);
      expect(r.json.error.code).toBe('INVALID_ARGUMENT');
      expect(r.json.error.message, path).toContain(field);
    }
  });

  it('refuses the CGM routes (409) and mutations without the token (401); a changed data.csv is a conflict', async () => {
    for (const route of ['fit', 'forecast?from=2026-03-02T08:00:00Z', 'replay?from=2026-03-02T08:00:00Z']) {
      expect((await get(`/api/twins/${vanco.id}/${route}`)).status, route).toBe(409);
    }
    expect((await request(server.url, 'POST', `/api/twins/${vanco.id}/observations`, { rows: [] })).status).toBe(401);
    expect((await get(`/api/twins/${ids.glucose}/curve`)).status).toBe(409);
    // a level rewritten after the fit: the file no longer holds what the posterior is conditioned on
    const other = await fitVancoTwinWithCli(server.store, 'v3', { until: VANCO_START_MS + 40 * 3_600_000 });
    const csv = readFileSync(join(other.dir, 'data.csv'), 'utf8').split('\n');
    const i = csv.findIndex((line) => line.includes(',level,'));
    csv[i] = csv[i]?.replace(/,[^,]*$/, ',99.9') as string;
    writeFileSync(join(other.dir, 'data.csv'), csv.join('\n'));
    const r = await get(`/api/twins/${other.id}/curve`);
    expect(r.status).toBe(409);
    expect(r.json.error.message).toContain('data.csv');
  });
});

describe('experiments on a twin', () => {
  it('lists the trials and training runs whose cohort is the twin’s directory, and only those', async () => {
    const trial = (id: string, personal: string) => ({
      id,
      kind: 'trial' as const,
      name: `trial ${id}`,
      spec: { kind: 'trial', cohort: { twin: 'vancomycin', personal, draws: 40, offset: 10 } },
      seed: 1,
      codeVersion: 'test',
      jobs: [{ id: `${id}-j0`, index: 0, kind: 'trial', config: {}, seed: 1 }],
    });
    server.store.createExperiment(trial('exp-on-twin', vanco.dir));
    server.store.createExperiment(trial('exp-other-twin', vancoUntil.dir));
    server.store.createExperiment({ id: 'exp-population', kind: 'train', name: 'population', spec: { cohort: { population: 'adult' } }, seed: 0, codeVersion: 'test', jobs: [{ id: 'exp-population-j0', index: 0, kind: 'train', config: {}, seed: 0 }] });
    const r = await get(`/api/twins/${vanco.id}/experiments`);
    expect(r.status).toBe(200);
    expect(r.json).toEqual([expect.objectContaining({ id: 'exp-on-twin', kind: 'trial', draws: 40, offset: 10, status: expect.any(String) })]);
    expect((await get(`/api/twins/${vancoUntil.id}/experiments`)).json.map((e: { id: string }) => e.id)).toEqual(['exp-other-twin']);
    expect((await get(`/api/twins/${ids.t2d}/experiments`)).json).toEqual([]);
  });
});

describe('vancomycin live recalibration', () => {
  it('a posted level re-fits the MAP (= twin fit --method map on the longer data), is stored, and survives a restart', async () => {
    // a distinct --until (after every level) makes a twin of its own: the id derives from twin.json's bytes
    const live = await fitVancoTwinWithCli(server.store, 'v4', { until: VANCO_START_MS + 100 * 3_600_000 });
    const before = (await get(`/api/twins/${live.id}/state`)).json;
    expect(before).toMatchObject({ kind: 'vancomycin', status: 'live', appended: 0, levels: 3, newLevels: [] });
    const lastMs = Math.max(...live.dataset.levels.map((l) => l.timeMs), ...live.dataset.doses.map((d) => d.timeMs));
    // a trough before the 8th dose, then that dose
    const level = { time: new Date(lastMs + 12 * 3_600_000).toISOString(), event: 'level', conc_mg_l: 24.5 };
    const dose = { time: new Date(lastMs + 12.5 * 3_600_000).toISOString(), event: 'dose', amount_mg: 1000, duration_h: 1 };
    const body = { rows: [level, dose] };
    expect((await request(server.url, 'POST', `/api/twins/${live.id}/observations`, body)).status).toBe(401);
    const r = await request(server.url, 'POST', `/api/twins/${live.id}/observations`, body, TOKEN);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ appended: 2, levels: 4, doses: 8, lastEventTime: dose.time.replace('.000Z', 'Z') });
    // the MAP of every level, as `twin fit --method map` finds it on the data with the new rows
    const { cov } = vancoDataset();
    const longer = { ...live.dataset, doses: [...live.dataset.doses, { timeMs: Date.parse(dose.time), amountMg: 1000, durationH: 1 }], levels: [...live.dataset.levels, { timeMs: Date.parse(level.time), concMgL: 24.5 }] };
    const refit = await fitVancomycinTwin(longer, cov, { method: 'map', seed: 0, codeVersion: 'test' });
    const cl = refit.posterior.summary.find((x) => x.name === 'CL')?.map;
    expect(r.json.map.CL).toBe(cl);
    expect(r.json.map.CL).not.toBe(before.map.CL);
    // the new level's prediction was made from the fitted posterior, before the level was known
    expect(r.json.newLevels).toHaveLength(1);
    expect(r.json.newLevels[0].observed).toBe(24.5);
    expect(r.json.newLevels[0].lo).toBeLessThan(r.json.newLevels[0].hi);
    // the regimen the live data ends with: the new dose, 12.5 h after the one before it
    expect(r.json.regimen).toMatchObject({ amountMg: 1000, intervalH: 12.5, durationH: 1 });
    expect(r.json.atMap.auc24).toBeCloseTo((1000 * 24) / 12.5 / r.json.map.CL, 6);
    // the curve draws the new level as not in the posterior, and the new dose
    const curve = (await get(`/api/twins/${live.id}/curve`)).json;
    expect(curve.levels.map((l: { used: boolean }) => l.used)).toEqual([true, true, true, false]);
    expect(curve.doses).toHaveLength(8);
    // stored: a new service on the same store (a restarted server) has the same state
    expect(listTwinEvents(server.store, live.id)).toHaveLength(2);
    expect(new TwinService(server.store).liveState(live.id)).toEqual(r.json);
  });

  it('bad rows are 400s naming the row and field, and nothing is stored', async () => {
    const live = await fitVancoTwinWithCli(server.store, 'v5', { until: VANCO_START_MS + 101 * 3_600_000 });
    const lastMs = Math.max(...live.dataset.levels.map((l) => l.timeMs), ...live.dataset.doses.map((d) => d.timeMs));
    const t = (h: number) => new Date(lastMs + h * 3_600_000).toISOString();
    const cases: [unknown, string][] = [
      [{ rows: [{ time: t(1), event: 'level' }] }, 'body.rows.0.conc_mg_l'],
      [{ rows: [{ time: t(1), event: 'dose', amount_mg: 1000 }] }, 'body.rows.0.duration_h'],
      [{ rows: [{ time: t(1), event: 'dose', amount_mg: 20000, duration_h: 1 }] }, 'body.rows.0.amount_mg'],
      [{ rows: [{ time: t(-1), event: 'level', conc_mg_l: 10 }] }, 'body.rows.0.time'],
      [{ rows: [{ time: t(2), event: 'level', conc_mg_l: 10 }, { time: t(1), event: 'level', conc_mg_l: 10 }] }, 'body.rows.1.time'],
      [{ rows: [{ time: '2026-03-09 10:00', event: 'level', conc_mg_l: 10 }] }, 'body.rows.0.time'],
      [{ rows: [{ time: t(1), event: 'level', conc_mg_l: 10, cgm_mg_dl: 100 }] }, 'cgm_mg_dl'],
    ];
    for (const [body, field] of cases) {
      const r = await request(server.url, 'POST', `/api/twins/${live.id}/observations`, body, TOKEN);
      expect(r.status, field).toBe(400);
      expect(r.json.error.message, field).toContain(field);
    }
    expect(listTwinEvents(server.store, live.id)).toHaveLength(0);
  });
});

// reads from a client that is not on loopback need the token (server/access.ts), for every kind
const external = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

describe.skipIf(!external)('twin reads from a non-loopback client', () => {
  let remote: Server;
  beforeAll(async () => {
    remote = await testServer({ host: external });
    installT2DTwin(remote.store, t2d, ids.t2d);
  }, 60_000);
  afterAll(async () => {
    await remote?.cleanup();
  });

  it('are refused without the token and served with it', async () => {
    expect((await request(remote.url, 'GET', '/api/twins')).status).toBe(401);
    expect((await request(remote.url, 'GET', `/api/twins/${ids.t2d}/posterior`)).status).toBe(401);
    const ok = await request(remote.url, 'GET', `/api/twins/${ids.t2d}/posterior`, undefined, TOKEN);
    expect(ok.status).toBe(200);
  });
});
