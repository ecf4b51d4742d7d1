import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InlineExecutor } from '../../experiments/executor.js';
import { listTwinObservations } from '../../experiments/twin-store.js';
import { Rng } from '../../engine/random.js';
import { type RunningServer, startServer } from '../../server/index.js';
import { liveForecast } from '../../server/twins.js';
import { forecastAt, GlucoseProjector } from '../../twinning/glucose/forecast.js';
import { livingProfile } from '../../twinning/glucose/replay.js';
import type { TwinLiveState, TwinStateMessage } from '../../server/protocol.js';
import { request, socketClient, TOKEN, waitFor } from './helpers.js';
import { fitTinyTwin, installTwin, rowsAfter, type TinyTwin } from './twin-fixture.js';

/**
 * Live personal twins on the server (server/twins.ts): stored twins listed and summarised, rows
 * appended through the token-guarded POST drive the living profile, the new state streams to socket
 * subscribers, batching does not change the result, a restart resumes the same state, and the
 * hypoglycaemia flag rises when glucose falls.
 */
let dir: string;
let server: RunningServer;
let fixture: TinyTwin;
let basal: number;
const twinIds = { one: 'twin-aaaaaaaaaaaaaaaa', two: 'twin-bbbbbbbbbbbbbbbb', hypo: 'twin-cccccccccccccccc', bare: 'twin-dddddddddddddddd', errors: 'twin-eeeeeeeeeeeeeeee' };

async function start(): Promise<RunningServer> {
  return startServer({ dataDir: dir, port: 0, token: TOKEN, executor: new InlineExecutor(), pollMs: 10 });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'twinlab-twins-'));
  fixture = await fitTinyTwin();
  basal = fixture.dataset.basalUPerH[fixture.dataset.basalUPerH.length - 1] as number;
  server = await start();
  installTwin(server.store, fixture, twinIds.one);
  installTwin(server.store, fixture, twinIds.two);
  installTwin(server.store, fixture, twinIds.hypo);
  installTwin(server.store, fixture, twinIds.errors);
  installTwin(server.store, fixture, twinIds.bare, false);
}, 180_000);

afterAll(async () => {
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const post = (id: string, body: unknown, token = TOKEN) => request(server.url, 'POST', `/api/twins/${id}/observations`, body, token);
const getState = async (id: string) => (await request(server.url, 'GET', `/api/twins/${id}/state`)).json as TwinLiveState & { recent: { time: string; cgm: number | null }[] };

describe('live personal twins', () => {
  it('lists stored twins and summarises one (patient, priors, fit, data window)', async () => {
    const list = await request(server.url, 'GET', '/api/twins');
    expect(list.status).toBe(200);
    expect(list.json.map((t: { id: string }) => t.id).sort()).toEqual(Object.values(twinIds).sort());
    const one = await request(server.url, 'GET', `/api/twins/${twinIds.one}`);
    expect(one.status).toBe(200);
    expect(one.json.patient).toEqual(fixture.twin.patient);
    expect(one.json.parameters.priors).toHaveLength(9);
    expect(one.json.parameters.priors[0]).toMatchObject({ name: 'logSI' });
    expect(one.json.fit.rmse).toBe(fixture.twin.fit.rmse);
    expect(one.json.data.windowStart).toBe(fixture.twin.data.windowStart);
    expect((await request(server.url, 'GET', '/api/twins/twin-nope0000000000')).status).toBe(404);
  });

  it('starts the session at the end of the fitted data with a forecast and a hypo risk', async () => {
    const s = await getState(twinIds.one);
    const d = fixture.dataset;
    expect(s.status).toBe('live');
    expect(s.lastSlotTime).toBe(new Date(d.startMs + (d.cgm.length - 1) * 300_000).toISOString().replace('.000Z', 'Z'));
    expect(s.forecast.map((p) => p.horizonMin)).toEqual([30, 60, 120]);
    for (const p of s.forecast) expect(p.lo).toBeLessThanOrEqual(p.mean);
    expect(s.hypo?.threshold).toBe(0.2);
    expect(s.recent).toHaveLength(144);
  });

  it('POST observations needs the token (401) and names the row and field of bad rows (400)', async () => {
    const s = await getState(twinIds.errors);
    const last = s.lastSlotTime as string;
    const good = rowsAfter(last, [120, 121, 122], basal);
    expect((await post(twinIds.errors, { rows: good }, '')).status).toBe(401);
    expect((await post(twinIds.errors, { rows: good }, 'wrong-token-0123456789')).status).toBe(401);

    const offGrid = structuredClone(good);
    offGrid[1].time = new Date(Date.parse(good[1].time) + 120_000).toISOString();
    let r = await post(twinIds.errors, { rows: offGrid });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toMatch(/^body\.rows\.1\.time: .* not on the 5-minute grid/);
    expect(r.json.error.details).toMatchObject({ row: 1, field: 'time' });

    r = await post(twinIds.errors, { rows: [good[0], good[2], good[1]] });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toMatch(/^body\.rows\.2\.time: .*time order, strictly after row 1/);

    r = await post(twinIds.errors, { rows: rowsAfter(new Date(Date.parse(last) - 600_000).toISOString(), [120], basal) });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toMatch(/^body\.rows\.0\.time: .*after the twin's last slot/);

    const high = structuredClone(good);
    high[2].cgm_mg_dl = 700;
    r = await post(twinIds.errors, { rows: high });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toContain('body.rows.2.cgm_mg_dl');
    expect(r.json.error.details).toMatchObject({ row: 2, field: 'cgm_mg_dl' });

    r = await post(twinIds.errors, { rows: [{ ...good[0], cgm: 120 }] });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toContain('body.rows.0');
    expect(r.json.error.details).toMatchObject({ row: 0, field: 'cgm' });

    r = await post(twinIds.errors, { rows: [{ ...good[0], time: '2026-01-07T00:05:00' }] });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toMatch(/^body\.rows\.0\.time: has no time zone/);

    r = await post(twinIds.errors, { rows: rowsAfter(new Date(Date.parse(last) + 8 * 86_400_000).toISOString(), [120], basal) });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toMatch(/^body\.rows\.0\.time: .*more than 7 days after the twin's last slot/);

    // malformed bodies are refused, never a server error
    const t = good[0]?.time;
    for (const body of ['not json', 'null', '[]', '{}', { rows: null }, { rows: [] }, { rows: [null] }, { rows: [{}] }, { rows: [{ time: 5, basal_u_per_h: 1 }] }, { rows: [{ time: t, basal_u_per_h: 1e308 }] }, { rows: [{ time: t, basal_u_per_h: -1 }] }, { rows: [{ time: 'yesterday', basal_u_per_h: 1 }] }, { rows: Array(2017).fill({ time: t, basal_u_per_h: 1 }) }, { rows: [{ time: t, basal_u_per_h: 1, bolus_u: '2' }] }]) {
      const res = await post(twinIds.errors, body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(res.json.error.code).toBe('INVALID_ARGUMENT');
    }

    // nothing was stored or assimilated by the refused requests
    expect(listTwinObservations(server.store, twinIds.errors)).toHaveLength(0);
    expect((await getState(twinIds.errors)).lastSlotTime).toBe(last);
    expect((await post(twinIds.errors, { rows: good })).status).toBe(200);
    expect(listTwinObservations(server.store, twinIds.errors)).toHaveLength(3);
  });

  it('two batches give the same final state as one, and socket subscribers receive each update', async () => {
    const start1 = await getState(twinIds.one);
    const start2 = await getState(twinIds.two);
    expect(start2).toEqual({ ...start1, twinId: twinIds.two });
    const cgm = [150, 152, null, 155, 158, 160, 161, null, null, 158, 150, 146, 140, 136, 131, 128];
    const rows = rowsAfter(start1.lastSlotTime as string, cgm, basal, { 3: { carbs_g: 30, bolus_u: 2 } });
    rows[12].basal_u_per_h = basal * 1.5;

    const socket = await socketClient(server.url);
    const updates: TwinStateMessage[] = [];
    socket.on('twin-update', (m: TwinStateMessage) => updates.push(m));
    const ack = await new Promise<{ ok: boolean; state: TwinLiveState }>((resolve) => socket.emit('subscribe-twin', { twinId: twinIds.two }, resolve));
    expect(ack.ok).toBe(true);
    expect(ack.state.lastSlotTime).toBe(start2.lastSlotTime);

    const whole = await post(twinIds.one, { rows });
    expect(whole.status).toBe(200);
    // a gap inside the second batch: the slots between are filled (missing CGM, the last basal)
    const first = await post(twinIds.two, { rows: rows.slice(0, 6) });
    const second = await post(twinIds.two, { rows: rows.slice(6).filter((_, i) => i !== 1 && i !== 2) });
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.json).toEqual({ ...whole.json, twinId: twinIds.two, appended: whole.json.appended - 2 });
    expect(whole.json.lastSlotTime).toBe(rows[rows.length - 1]?.time.replace('.000Z', 'Z'));
    expect(whole.json.forecast).not.toEqual(start1.forecast);

    await waitFor(() => updates.length >= 2, 5_000, 'two twin-update messages');
    expect(updates.map((u) => u.twinId)).toEqual([twinIds.two, twinIds.two]);
    expect(updates[0]?.state).toEqual(first.json);
    expect(updates[1]?.state).toEqual(second.json);
    expect(updates[0]?.rows.map((r) => r.cgm)).toEqual(cgm.slice(0, 6));
    const bad = await new Promise<{ ok: boolean; error?: string }>((resolve) => socket.emit('subscribe-twin', { twinId: 5 }, resolve));
    expect(bad).toMatchObject({ ok: false });
    expect(bad.error).toContain('subscribe-twin.twinId');
    const unknown = await new Promise<{ ok: boolean; error?: string }>((resolve) => socket.emit('subscribe-twin', { twinId: 'twin-nope' }, resolve));
    expect(unknown).toEqual({ ok: false, error: 'unknown twin "twin-nope"' });
    socket.disconnect();
  });

  it('the hypoglycaemia flag goes up when glucose falls', async () => {
    const s = await getState(twinIds.hypo);
    const level = [...s.recent].reverse().find((r) => r.cgm !== null)?.cgm as number;
    const steady = rowsAfter(s.lastSlotTime as string, Array(6).fill(level), basal);
    const before = (await post(twinIds.hypo, { rows: steady })).json as TwinLiveState;
    expect(before.hypo?.flag).toBe(false);
    // a correction bolus, then CGM falling for 90 min
    const falling = Array.from({ length: 18 }, (_, i) => Math.round(level + ((50 - level) * (i + 1)) / 18));
    const after = (await post(twinIds.hypo, { rows: rowsAfter(before.lastSlotTime as string, falling, basal, { 0: { bolus_u: 4 } }) })).json as TwinLiveState;
    expect(after.hypo?.flag).toBe(true);
    expect(after.hypo?.within60).toBeGreaterThan(0.2);
    expect(after.hypo?.within60).toBeGreaterThanOrEqual(after.hypo?.within30 as number);
    expect(after.forecast[0]?.mean).toBeLessThan(before.forecast[0]?.mean as number);
  });

  it('a twin without a stored dataset starts empty; its first rows must begin at steady state', async () => {
    const s = await getState(twinIds.bare);
    expect(s.status).toBe('empty');
    expect(s.forecast).toEqual([]);
    const t0 = '2026-03-01T07:55:00Z';
    const meal = rowsAfter(t0, [140, 150], 1, { 0: { bolus_u: 4, carbs_g: 40 } });
    const r = await post(twinIds.bare, { rows: meal.slice(0, 1) });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toMatch(/^body\.rows\.0\.cgm_mg_dl: .*steady state/);
    const ok = await post(twinIds.bare, { rows: rowsAfter(t0, [130, 131, 129, 128], 1) });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ status: 'live', slots: 4, appended: 4, lastSlotTime: '2026-03-01T08:15:00Z' });
  });

  it('fit, forecast and replay endpoints answer with rows; bad queries name the field', async () => {
    const fit = await request(server.url, 'GET', `/api/twins/${twinIds.one}/fit`);
    expect(fit.status).toBe(200);
    expect(fit.json.rows).toHaveLength(fixture.dataset.cgm.length);
    for (const row of fit.json.rows.slice(0, 50)) {
      expect(row.lo).toBeLessThan(row.map);
      expect(row.hi).toBeGreaterThan(row.map);
    }
    const post_ = await request(server.url, 'GET', `/api/twins/${twinIds.one}/posterior`);
    expect(post_.json.parameters.map((p: { name: string }) => p.name)).toEqual(['SI', 'Gb', 'kabs', 'f', 'kaScale', 'sigma', 'phi', 'sigmaModel', 'tauModel']);
    const from = new Date(fixture.dataset.startMs + 36 * 3600_000).toISOString();
    const to = new Date(fixture.dataset.startMs + 37 * 3600_000).toISOString();
    const fc = await request(server.url, 'GET', `/api/twins/${twinIds.one}/forecast?from=${from}&to=${to}&every=30&horizons=30,60`);
    expect(fc.status).toBe(200);
    expect(fc.json.rows.map((r: { horizonMin: number }) => r.horizonMin)).toEqual([30, 60, 30, 60, 30, 60]);
    const bad = await request(server.url, 'GET', `/api/twins/${twinIds.one}/forecast?from=${from}&horizons=7`);
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toContain('query.horizons');
    const rp = await request(server.url, 'GET', `/api/twins/${twinIds.one}/replay?from=${from}&therapy=carb-ratio=0.8`);
    expect(rp.status).toBe(200);
    expect(rp.json.therapy.carbRatio).toBe(0.8);
    expect(rp.json.endpoints.time_in_range_70_180.lo).toBeLessThanOrEqual(rp.json.endpoints.time_in_range_70_180.mean);
    const badTherapy = await request(server.url, 'GET', `/api/twins/${twinIds.one}/replay?from=${from}&therapy=carb_ratio=0.8`);
    expect(badTherapy.status).toBe(400);
    expect(badTherapy.json.error.message).toContain('carb_ratio');
    const outside = await request(server.url, 'GET', `/api/twins/${twinIds.one}/replay?from=2020-01-01T00:00:00Z`);
    expect(outside.status).toBe(400);
    expect(outside.json.error.message).toMatch(/^query\.from /);
  });

  it('the live forecast (one projection with the hypo risk) equals forecastAt from the same draws', () => {
    const d = fixture.dataset;
    for (const origin of [300, d.cgm.length - 1]) {
      const filter = livingProfile(fixture.twin, d, fixture.twin.seed, origin);
      filter.advanceTo(origin);
      const projector = new GlucoseProjector();
      const live = liveForecast(filter, projector, [30, 60, 120], Rng.fromSeed(3).fork('x'));
      expect(live.forecast).toEqual(forecastAt(filter, projector, [30, 60, 120], Rng.fromSeed(3).fork('x')));
      expect(live.hypo.within30).toBeLessThanOrEqual(live.hypo.within60);
      expect(live.hypo.within60).toBeLessThanOrEqual(1);
    }
  });

  it('a restarted server resumes every live session with the same state', async () => {
    const before = await Promise.all(Object.values(twinIds).map(getState));
    await server.close();
    server = await start();
    const after = await Promise.all(Object.values(twinIds).map(getState));
    expect(after).toEqual(before);
  });
});
