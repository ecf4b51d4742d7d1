import type { View } from 'vega';
import type { TopLevelSpec } from 'vega-lite';
import type { TwinLiveState, TwinStateMessage } from '../../../server/protocol.js';
import { SOCKET_MESSAGES } from '../../../server/protocol.js';
import { ambulatoryGlucoseProfile } from '../../../experiments/agp.js';
import { agpSpec } from '../../../experiments/charts.js';
import { api, enc } from '../api.js';
import { insert, mount, replace } from '../charts.js';
import { fmt, h } from '../dom.js';
import { connection } from '../live.js';
import { setState, type ViewState } from '../state.js';
import {
  coneRows,
  conesSpec,
  errorText,
  type ForecastRow,
  GLUCOSE,
  isoMinute,
  ms,
  onGrid,
  type PosteriorParameter,
  posteriorSpec,
  type ReplayResult,
  replaySpec,
  SCHEMA,
  short,
  TIME,
  twinExperimentsCard,
} from './twin-charts.js';
import { renderT2DTwin } from './twin-t2d.js';
import { renderVancomycinTwin } from './twin-vancomycin.js';

/**
 * Patient-twin page: (a) the data against the fit with its 95 % posterior band, (b) each parameter's
 * posterior beside its prior, (c) forecast cones at chosen origins, (d) the live recalibration stream
 * (socket `twin-update`s appended as they come), (e) two what-if replays on the same axes with their
 * endpoints. Origins, replay origin and therapies live in the URL (`origins`, `from`, `therapy`,
 * `therapyB`). Times are epoch ms in the charts (temporal axes in UTC). Type 2 and vancomycin twins
 * (the summary's `kind`) have their own pages: views/twin-t2d.ts, views/twin-vancomycin.ts.
 */
interface Summary {
  id: string;
  kind?: 'glucose' | 'glucose-t2d' | 'vancomycin';
  datasetId?: string | null;
  method: string;
  seed: number;
  patient: { id: string; bodyWeightKg: number };
  data: { start: string; end: string; windowStart: string; windowEnd: string; usableReadings: number; rules: string[] };
  fit: { rmse: number; mard: number; readings: number };
  filter: { particles: number; processNoise: { glucose: number; insulinSensitivity: number } };
  parameters: { draws: number };
  diagnostics: { ok: boolean; acceptance: number } | null;
}
interface FitRow {
  time: string;
  cgm: number | null;
  map: number;
  mean: number;
  lo: number;
  hi: number;
}
type LiveState = TwinLiveState & { recent?: { time: string; cgm: number | null }[] };

function fitSpec(rows: FitRow[]): TopLevelSpec {
  const values = rows.map((r) => ({ t: ms(r.time), cgm: r.cgm, map: r.map, lo: r.lo, hi: r.hi }));
  return {
    $schema: SCHEMA,
    title: 'CGM (dots) against the MAP trajectory (line) and the 95 % posterior band (draws + sensor error)',
    width: 'container',
    height: 260,
    data: { values },
    encoding: { x: TIME },
    layer: [
      { mark: { type: 'area', opacity: 0.22, color: '#2563eb' }, encoding: { y: { field: 'lo', ...GLUCOSE }, y2: { field: 'hi' } } },
      { mark: { type: 'line', color: '#1d4ed8', strokeWidth: 1.4 }, encoding: { y: { field: 'map', type: 'quantitative' } } },
      { transform: [{ filter: 'datum.cgm != null' }], mark: { type: 'point', filled: true, size: 7, color: '#0f172a' }, encoding: { y: { field: 'cgm', type: 'quantitative' } } },
    ],
  } as TopLevelSpec;
}

function forecastTable(state: TwinLiveState): HTMLTableElement {
  return h(
    'table',
    { id: 'live-forecast' },
    h('tr', {}, ...['horizon', 'mean (mg/dL)', '95 % band'].map((c) => h('th', { text: c }))),
    ...state.forecast.map((p) => h('tr', {}, h('td', { text: `${p.horizonMin} min` }), h('td', { class: 'num', text: fmt(p.mean) }), h('td', { class: 'num', text: `[${fmt(p.lo)}, ${fmt(p.hi)}]` }))),
  );
}

export async function renderTwin(root: HTMLElement, state: ViewState, signal: AbortSignal): Promise<void> {
  const id = state.id as string;
  const base = `/api/twins/${enc(id)}`;
  const summary = await api.get<Summary>(base);
  if (signal.aborted) return;
  if (summary.kind === 'glucose-t2d') return renderT2DTwin(root, state, signal, base);
  if (summary.kind === 'vancomycin') return renderVancomycinTwin(root, state, signal, base);
  const windowEnd = ms(summary.data.windowEnd);

  const fitCard = h('div', { class: 'card' }, h('h2', { text: 'Data against the fit' }));
  const fitEl = h('div', { class: 'chart', id: 'twin-fit' });
  fitCard.append(fitEl);
  const agpEl = h('div', { class: 'chart', id: 'twin-agp' });
  const agpCard = h('div', { class: 'card' }, h('h2', { text: 'Ambulatory glucose profile of the data' }), agpEl);
  const postCard = h('div', { class: 'card' }, h('h2', { text: 'Parameters: posterior and prior' }));
  const postEl = h('div', { class: 'chart', id: 'twin-posteriors' });
  postCard.append(postEl);

  const originsInput = h('input', { id: 'origins-input', size: 70, value: state.origins ?? [18, 12, 6].map((hours) => isoMinute(onGrid(windowEnd - hours * 3600_000))).join(',') });
  const originsButton = h('button', { id: 'origins-apply', text: 'show' });
  const forecastEl = h('div', { class: 'chart', id: 'twin-forecast' });
  const forecastCard = h('div', { class: 'card' }, h('h2', { text: 'Forecast cones' }), h('label', {}, 'origins (ISO 8601, comma-separated) ', originsInput, ' ', originsButton), forecastEl);

  const liveLast = h('span', { id: 'live-last', text: '—' });
  const liveHypo = h('span', { id: 'live-hypo', class: 'pill', text: '—' });
  const liveCount = h('span', { id: 'live-updates', 'data-count': 0, text: '0 updates' });
  const liveTable = h('div', {});
  const liveEl = h('div', { class: 'chart', id: 'twin-live' });
  const liveCard = h(
    'div',
    { class: 'card' },
    h('h2', { text: 'Live recalibration' }),
    h('p', {}, 'last assimilated slot ', liveLast, ' · hypoglycaemia risk ', liveHypo, ' · ', liveCount),
    liveTable,
    liveEl,
  );

  const fromInput = h('input', { id: 'replay-from', size: 24, value: state.from ?? isoMinute(onGrid(windowEnd - 24 * 3600_000)) });
  const therapyA = h('input', { id: 'therapy-a', size: 28, value: state.therapy ?? '', placeholder: 'recorded (no change)' });
  const therapyB = h('input', { id: 'therapy-b', size: 28, value: state.therapyB ?? 'carb-ratio=0.8' });
  const replayButton = h('button', { id: 'replay-run', text: 'replay' });
  const replayEl = h('div', { class: 'chart', id: 'twin-replay' });
  const replayTable = h('div', { id: 'replay-endpoints' });
  const replayCard = h(
    'div',
    { class: 'card' },
    h('h2', { text: 'What-if replays' }),
    h('label', {}, 'from ', fromInput, ' therapy A ', therapyA, ' therapy B ', therapyB, ' ', replayButton),
    replayEl,
    replayTable,
  );

  const d = summary.data;
  root.replaceChildren(
    h('h1', { text: `Twin of ${summary.patient.id} (${summary.method})` }),
    h(
      'p',
      { class: 'muted', id: 'twin-summary' },
      `${id} · fit window ${short(ms(d.windowStart))} → ${short(ms(d.windowEnd))}, ${d.usableReadings} readings · RMSE ${fmt(summary.fit.rmse)} mg/dL, MARD ${fmt(summary.fit.mard)} % · ${summary.parameters.draws} posterior draws · living profile ${summary.filter.particles} particles, process noise ${summary.filter.processNoise.glucose}`,
    ),
    fitCard,
    agpCard,
    postCard,
    forecastCard,
    liveCard,
    replayCard,
  );

  // (a) fit, and the observed CGM the other charts draw against
  let observed: { t: number; cgm: number | null }[] = [];
  try {
    const fit = await api.get<{ rows: FitRow[] }>(`${base}/fit`);
    if (signal.aborted) return;
    observed = fit.rows.map((r) => ({ t: ms(r.time), cgm: r.cgm }));
    await mount(fitEl, fitSpec(fit.rows));
  } catch (error) {
    fitEl.replaceChildren(errorText(error));
  }
  const cgmAt = (t: number) => observed.find((r) => r.t === t)?.cgm;

  // AGP of the dataset's CGM over the fit window, on the person's local clock (the dataset's UTC offset)
  try {
    const offsetMin = summary.datasetId ? ((await api.get<{ summary?: { utcOffsetMin?: number } }>(`/api/datasets/${enc(summary.datasetId)}`).catch(() => undefined))?.summary?.utcOffsetMin ?? 0) : 0;
    const readings = observed.flatMap((r) => (r.cgm === null ? [] : [{ minute: (r.t / 60_000 + offsetMin) % 1440, value: r.cgm }]));
    if (signal.aborted) return;
    if (readings.length > 0) {
      const profile = ambulatoryGlucoseProfile(readings);
      const zone = offsetMin === 0 ? 'UTC' : `UTC${offsetMin > 0 ? '+' : '−'}${Math.abs(offsetMin / 60)}`;
      await mount(agpEl, agpSpec([{ name: summary.patient.id, profile }], { title: `Ambulatory glucose profile, CGM of the fit window (${zone} clock; 15-min bins)` }));
    } else agpEl.replaceChildren(h('p', { class: 'muted', text: 'No CGM readings to profile.' }));
  } catch (error) {
    agpEl.replaceChildren(errorText(error));
  }

  // (b) posteriors
  try {
    const posterior = await api.get<{ parameters: PosteriorParameter[] }>(`${base}/posterior`);
    if (signal.aborted) return;
    await mount(postEl, posteriorSpec(posterior.parameters));
  } catch (error) {
    postEl.replaceChildren(errorText(error));
  }

  // (c) forecast cones at the chosen origins
  const drawCones = async () => {
    const origins = originsInput.value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    try {
      const rows: ForecastRow[] = [];
      for (const o of origins) rows.push(...(await api.get<{ rows: ForecastRow[] }>(`${base}/forecast?from=${enc(o)}&to=${enc(o)}&horizons=30,60,120`)).rows);
      if (signal.aborted) return;
      const times = rows.map((r) => ms(r.origin));
      const lo = Math.min(...times) - 3 * 3600_000;
      const hi = Math.max(...times) + 2.5 * 3600_000;
      await mount(forecastEl, conesSpec('CGM and forecast cones (mean, 95 % band) at each origin', 'observed', 'cones', observed.filter((r) => r.cgm !== null && r.t >= lo && r.t <= hi), coneRows(rows, cgmAt)));
    } catch (error) {
      forecastEl.replaceChildren(errorText(error));
    }
  };
  originsButton.addEventListener('click', () => {
    setState({ ...state, origins: originsInput.value }, 'replace');
    void drawCones();
  });
  await drawCones();
  if (signal.aborted) return;

  // (d) live recalibration: the state now, then every twin-update appended
  let liveView: View | undefined;
  let updates = 0;
  const showState = (s: TwinLiveState) => {
    liveLast.textContent = s.lastSlotTime ? short(ms(s.lastSlotTime)) : '— (no data yet)';
    liveLast.dataset.time = s.lastSlotTime ?? '';
    if (s.hypo) {
      liveHypo.textContent = `${(100 * s.hypo.within30).toFixed(0)} % within 30 min, ${(100 * s.hypo.within60).toFixed(0)} % within 60 min${s.hypo.flag ? ' — ALERT' : ''}`;
      liveHypo.className = `pill ${s.hypo.flag ? 'failed' : 'finished'}`;
      liveHypo.dataset.flag = String(s.hypo.flag);
    }
    liveTable.replaceChildren(forecastTable(s));
    if (liveView && s.lastSlotTime) {
      const origin = s.lastSlotTime;
      const rows = s.forecast.map((p) => ({ origin, horizonMin: p.horizonMin, mean: p.mean, lo: p.lo, hi: p.hi }));
      replace(liveView, 'live-cone', coneRows(rows, (t) => liveCgm.get(t), () => 'now'));
    }
  };
  const liveCgm = new Map<number, number | null>();
  try {
    const initial = await api.get<LiveState>(`${base}/state`);
    if (signal.aborted) return;
    for (const r of initial.recent ?? []) liveCgm.set(ms(r.time), r.cgm);
    // drawn with its first values (an empty dataset makes vega warn of an infinite extent); a twin without data yet starts empty
    const observedNow = [...liveCgm].filter(([, v]) => v !== null).map(([t, cgm]) => ({ t, cgm }));
    const origin = initial.lastSlotTime;
    const coneNow = origin
      ? coneRows(
          initial.forecast.map((p) => ({ origin, horizonMin: p.horizonMin, mean: p.mean, lo: p.lo, hi: p.hi })),
          (t) => liveCgm.get(t),
          () => 'now',
        )
      : [];
    liveView = await mount(
      liveEl,
      conesSpec('Live: recent CGM and the current forecast', 'live-cgm', 'live-cone', observedNow.length > 0 ? observedNow : undefined, coneNow.length > 0 ? coneNow : undefined, 220),
    );
    showState(initial);
  } catch (error) {
    liveEl.replaceChildren(errorText(error));
  }
  const socket = connection();
  const onUpdate = (m: TwinStateMessage) => {
    if (m.twinId !== id || signal.aborted) return;
    const fresh = m.rows.map((r) => ({ t: ms(r.time), cgm: r.cgm }));
    for (const r of fresh) liveCgm.set(r.t, r.cgm);
    if (liveView)
      insert(
        liveView,
        'live-cgm',
        fresh.filter((r) => r.cgm !== null),
      );
    updates++;
    liveCount.dataset.count = String(updates);
    liveCount.textContent = `${updates} update${updates === 1 ? '' : 's'}`;
    showState(m.state);
  };
  const subscribe = () =>
    socket.emit(SOCKET_MESSAGES.subscribeTwin, { twinId: id }, (ack: { ok: boolean; state?: TwinLiveState }) => {
      if (ack.ok && ack.state && !signal.aborted) showState(ack.state);
    });
  socket.on(SOCKET_MESSAGES.twinUpdate, onUpdate);
  socket.on('connect', subscribe);
  if (socket.connected) subscribe();
  signal.addEventListener('abort', () => {
    socket.off(SOCKET_MESSAGES.twinUpdate, onUpdate);
    socket.off('connect', subscribe);
    socket.emit(SOCKET_MESSAGES.unsubscribeTwin, { twinId: id });
  });

  // (e) two what-if replays on the same axes, endpoints side by side
  const runReplays = async () => {
    const from = fromInput.value.trim();
    const therapies = [therapyA.value.trim(), therapyB.value.trim()];
    const labels = therapies.map((t, i) => `${i === 0 ? 'A' : 'B'}: ${t || 'recorded'}`);
    try {
      const results = await Promise.all(therapies.map((t) => api.get<ReplayResult>(`${base}/replay?from=${enc(from)}${t ? `&therapy=${enc(t)}` : ''}`)));
      if (signal.aborted) return;
      const values = results.flatMap((r, i) => r.rows.filter((x) => x.mean !== null).map((x) => ({ t: ms(x.time), mean: x.mean, lo: x.lo, hi: x.hi, therapy: labels[i] })));
      const start = ms(from);
      await mount(replayEl, replaySpec(values, observed.filter((r) => r.cgm !== null && r.t >= start)));
      const names = Object.keys(results[0]?.endpoints ?? {});
      const cell = (e: { mean: number; lo: number; hi: number; unit: string } | undefined) => (e ? `${fmt(e.mean)} ${e.unit} [${fmt(e.lo)}, ${fmt(e.hi)}]` : '—');
      replayTable.replaceChildren(
        h(
          'table',
          {},
          h('tr', {}, h('th', { text: 'endpoint (mean [95 % interval])' }), ...labels.map((l) => h('th', { text: l }))),
          ...names.map((n) => h('tr', { 'data-endpoint': n }, h('td', { text: n }), ...results.map((r) => h('td', { class: 'num', text: cell(r.endpoints[n]) })))),
        ),
      );
    } catch (error) {
      replayEl.replaceChildren(errorText(error));
      replayTable.replaceChildren();
    }
  };
  replayButton.addEventListener('click', () => {
    setState({ ...state, origins: originsInput.value, from: fromInput.value, therapy: therapyA.value || undefined, therapyB: therapyB.value }, 'replace');
    void runReplays();
  });
  await runReplays();
  if (signal.aborted) return;
  root.append(await twinExperimentsCard(base));
}
