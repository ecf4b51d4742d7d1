import type { View } from 'vega';
import type { TopLevelSpec } from 'vega-lite';
import type { TwinLiveState, TwinStateMessage } from '../../../server/protocol.js';
import { SOCKET_MESSAGES } from '../../../server/protocol.js';
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

/**
 * The page of a personal type 2 diabetes twin (server/twins-t2d.ts): like the type 1 page with meals
 * instead of insulin — (a) the CGM against the MAP trajectory and its 95 % posterior band over the
 * logged carbohydrate (g), (b) posteriors beside priors with a table of the estimates, (c) forecast
 * cones at chosen origins, (d) two what-if replays in the CLI's grammar (`therapy`: carbs=F, gi=N,
 * meal-shift=±MIN, drop-meals=true; `swap`: TIME=FOOD[:SERVINGS], comma-separated) on the same axes
 * with their endpoints, (e) live recalibration: CGM and meals posted to the server continue the living
 * profile; its 30/60/120-min forecast and the recent CGM redrawn on every `twin-update` (no
 * hypoglycaemia risk: the model has no insulin).
 */
interface Summary {
  id: string;
  method: string;
  seed: number;
  patient: { id: string; bodyWeightKg: number };
  context: { mealGi: number };
  data: { windowStart: string; windowEnd: string; usableReadings: number; rules: string[] };
  fit: { rmse: number; mard: number };
  filter: { particles: number; processNoise: { glucose: number } };
  parameters: { draws: number; summary: { name: string; unit: string; label: string; map: number; mean: number; q05: number; q95: number }[] };
  diagnostics: { ok: boolean; acceptance: number } | null;
}
interface FitRow {
  time: string;
  cgm: number | null;
  map: number;
  lo: number;
  hi: number;
  carbs: number;
}

/** Glucose over the logged meals: the band, the MAP line and the CGM dots above, carbohydrate bars below on the same clock. */
function t2dFitSpec(rows: FitRow[]): TopLevelSpec {
  const values = rows.map((r) => ({ t: ms(r.time), cgm: r.cgm, map: r.map, lo: r.lo, hi: r.hi }));
  const meals = rows.filter((r) => r.carbs > 0).map((r) => ({ t: ms(r.time), carbs: r.carbs }));
  const glucose = {
    width: 'container',
    height: 240,
    data: { values },
    encoding: { x: TIME },
    layer: [
      { mark: { type: 'area', opacity: 0.22, color: '#2563eb' }, encoding: { y: { field: 'lo', ...GLUCOSE }, y2: { field: 'hi' } } },
      { mark: { type: 'line', color: '#1d4ed8', strokeWidth: 1.4 }, encoding: { y: { field: 'map', type: 'quantitative' } } },
      { transform: [{ filter: 'datum.cgm != null' }], mark: { type: 'point', filled: true, size: 7, color: '#0f172a' }, encoding: { y: { field: 'cgm', type: 'quantitative' } } },
    ],
  };
  const carbs = {
    width: 'container',
    height: 70,
    data: { values: meals },
    mark: { type: 'bar', color: '#d97706', width: 3 },
    encoding: { x: { ...TIME, scale: { type: 'utc', domain: [values[0]?.t ?? 0, values[values.length - 1]?.t ?? 1] } }, y: { field: 'carbs', type: 'quantitative', title: 'carbs (g)' } },
  };
  return {
    $schema: SCHEMA,
    title: 'CGM (dots) against the MAP trajectory (line) and the 95 % posterior band; logged meals below',
    vconcat: meals.length > 0 ? [glucose, carbs] : [glucose],
  } as TopLevelSpec;
}

function estimatesTable(summary: Summary): HTMLTableElement {
  return h(
    'table',
    { id: 't2d-estimates' },
    h('tr', {}, ...['parameter', 'unit', 'MAP', 'posterior mean', '90 % interval'].map((c) => h('th', { text: c }))),
    ...summary.parameters.summary.map((r) =>
      h(
        'tr',
        { 'data-parameter': r.name },
        h('td', { text: `${r.name} — ${r.label}` }),
        h('td', { text: r.unit }),
        h('td', { class: 'num', text: fmt(r.map) }),
        h('td', { class: 'num', text: fmt(r.mean) }),
        h('td', { class: 'num', text: `[${fmt(r.q05)}, ${fmt(r.q95)}]` }),
      ),
    ),
  );
}

/** `therapy` and `swap` (comma-separated TIME=FOOD[:SERVINGS]) as a replay query. */
function whatIfQuery(therapy: string, swaps: string): string {
  const parts = therapy ? [`&therapy=${enc(therapy)}`] : [];
  for (const s of swaps
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean))
    parts.push(`&swap=${enc(s)}`);
  return parts.join('');
}

export async function renderT2DTwin(root: HTMLElement, state: ViewState, signal: AbortSignal, base: string): Promise<void> {
  const summary = await api.get<Summary>(base);
  if (signal.aborted) return;
  const id = summary.id;
  const windowEnd = ms(summary.data.windowEnd);

  const fitEl = h('div', { class: 'chart', id: 'twin-fit' });
  const postEl = h('div', { class: 'chart', id: 'twin-posteriors' });
  const originsInput = h('input', { id: 'origins-input', size: 70, value: state.origins ?? [18, 12, 6].map((hours) => isoMinute(onGrid(windowEnd - hours * 3600_000))).join(',') });
  const originsButton = h('button', { id: 'origins-apply', text: 'show' });
  const forecastEl = h('div', { class: 'chart', id: 'twin-forecast' });
  const fromInput = h('input', { id: 'replay-from', size: 24, value: state.from ?? isoMinute(onGrid(windowEnd - 24 * 3600_000)) });
  const therapyA = h('input', { id: 'therapy-a', size: 24, value: state.therapy ?? '', placeholder: 'logged meals (no change)' });
  const swapA = h('input', { id: 'swap-a', size: 34, value: state.swap ?? '', placeholder: 'TIME=FOOD[:SERVINGS], …' });
  const therapyB = h('input', { id: 'therapy-b', size: 24, value: state.therapyB ?? 'gi=40' });
  const swapB = h('input', { id: 'swap-b', size: 34, value: state.swapB ?? '', placeholder: 'TIME=FOOD[:SERVINGS], …' });
  const replayButton = h('button', { id: 'replay-run', text: 'replay' });
  const replayEl = h('div', { class: 'chart', id: 'twin-replay' });
  const replayTable = h('div', { id: 'replay-endpoints' });
  const liveLast = h('span', { id: 'live-last', text: '—' });
  const liveCount = h('span', { id: 'live-updates', 'data-count': 0, text: '0 updates' });
  const liveTable = h('div', {});
  const liveEl = h('div', { class: 'chart', id: 'twin-live' });

  const d = summary.data;
  const dg = summary.diagnostics;
  root.replaceChildren(
    h('h1', { text: `Type 2 diabetes twin of ${summary.patient.id} (${summary.method})` }),
    h(
      'p',
      { class: 'muted', id: 'twin-summary', 'data-kind': 'glucose-t2d' },
      `${id} · ${summary.patient.bodyWeightKg} kg, no insulin · logged meals at GI ${summary.context.mealGi} · fit window ${short(ms(d.windowStart))} → ${short(ms(d.windowEnd))}, ${d.usableReadings} readings · RMSE ${fmt(summary.fit.rmse)} mg/dL, MARD ${fmt(summary.fit.mard)} % · ${summary.parameters.draws} posterior draws${dg ? ` (acceptance ${fmt(dg.acceptance)}${dg.ok ? '' : ', diagnostics FAILED'})` : ''} · living profile ${summary.filter.particles} particles`,
    ),
    h('div', { class: 'card' }, h('h2', { text: 'Data against the fit' }), fitEl),
    h('div', { class: 'card' }, h('h2', { text: 'Parameters: posterior and prior' }), postEl, estimatesTable(summary)),
    h('div', { class: 'card' }, h('h2', { text: 'Forecast cones' }), h('label', {}, 'origins (ISO 8601, comma-separated) ', originsInput, ' ', originsButton), forecastEl),
    h(
      'div',
      { class: 'card' },
      h('h2', { text: 'What-if replays (meals)' }),
      h('p', { class: 'muted', text: 'therapy: carbs=F (scale), gi=N, meal-shift=±MIN, drop-meals=true; swap: TIME=FOOD[:SERVINGS] with a food of the GI table (e.g. lentils, white-rice), the logged meal in that 5-min slot replaced.' }),
      h('label', {}, 'from ', fromInput),
      h('div', {}, h('label', {}, 'A: therapy ', therapyA, ' swap ', swapA)),
      h('div', {}, h('label', {}, 'B: therapy ', therapyB, ' swap ', swapB), ' ', replayButton),
      replayEl,
      replayTable,
    ),
    h(
      'div',
      { class: 'card' },
      h('h2', { text: 'Live recalibration' }),
      h('p', {}, 'last assimilated slot ', liveLast, ' · ', liveCount),
      liveTable,
      liveEl,
    ),
  );

  let observed: { t: number; cgm: number | null }[] = [];
  try {
    const fit = await api.get<{ rows: FitRow[] }>(`${base}/fit`);
    if (signal.aborted) return;
    observed = fit.rows.map((r) => ({ t: ms(r.time), cgm: r.cgm }));
    await mount(fitEl, t2dFitSpec(fit.rows));
  } catch (error) {
    fitEl.replaceChildren(errorText(error));
  }
  const cgmAt = (t: number) => observed.find((r) => r.t === t)?.cgm;

  try {
    const posterior = await api.get<{ parameters: PosteriorParameter[] }>(`${base}/posterior`);
    if (signal.aborted) return;
    await mount(postEl, posteriorSpec(posterior.parameters));
  } catch (error) {
    postEl.replaceChildren(errorText(error));
  }

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

  // (e) live recalibration: the state now, then every twin-update appended
  let liveView: View | undefined;
  let updates = 0;
  const liveCgm = new Map<number, number | null>();
  const showState = (st: TwinLiveState) => {
    liveLast.textContent = st.lastSlotTime ? short(ms(st.lastSlotTime)) : '—';
    liveLast.dataset.time = st.lastSlotTime ?? '';
    liveTable.replaceChildren(
      h(
        'table',
        { id: 'live-forecast' },
        h('tr', {}, ...['horizon', 'mean (mg/dL)', '95 % band (mg/dL)'].map((c) => h('th', { text: c }))),
        ...st.forecast.map((p) => h('tr', {}, h('td', { text: `${p.horizonMin} min` }), h('td', { class: 'num', text: fmt(p.mean) }), h('td', { class: 'num', text: `[${fmt(p.lo)}, ${fmt(p.hi)}]` }))),
      ),
    );
    if (liveView && st.lastSlotTime) {
      const origin = st.lastSlotTime;
      replace(
        liveView,
        'live-cone',
        coneRows(
          st.forecast.map((p) => ({ origin, horizonMin: p.horizonMin, mean: p.mean, lo: p.lo, hi: p.hi })),
          (t) => liveCgm.get(t),
          () => 'now',
        ),
      );
    }
  };
  try {
    const initial = await api.get<TwinLiveState & { recent?: { time: string; cgm: number | null }[] }>(`${base}/state`);
    if (signal.aborted) return;
    for (const r of initial.recent ?? []) liveCgm.set(ms(r.time), r.cgm);
    const observedNow = [...liveCgm].filter(([, v]) => v !== null).map(([t, cgm]) => ({ t, cgm }));
    const origin = initial.lastSlotTime as string;
    const cone = coneRows(
      initial.forecast.map((p) => ({ origin, horizonMin: p.horizonMin, mean: p.mean, lo: p.lo, hi: p.hi })),
      (t) => liveCgm.get(t),
      () => 'now',
    );
    liveView = await mount(liveEl, conesSpec('Live: recent CGM and the current forecast', 'live-cgm', 'live-cone', observedNow, cone, 220));
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

  const runReplays = async () => {
    const from = fromInput.value.trim();
    const arms = [
      { therapy: therapyA.value.trim(), swap: swapA.value.trim() },
      { therapy: therapyB.value.trim(), swap: swapB.value.trim() },
    ];
    const labels = arms.map((a, i) => `${i === 0 ? 'A' : 'B'}: ${[a.therapy, a.swap && `swap ${a.swap}`].filter(Boolean).join(', ') || 'logged meals'}`);
    try {
      const results = await Promise.all(arms.map((a) => api.get<ReplayResult>(`${base}/replay?from=${enc(from)}${whatIfQuery(a.therapy, a.swap)}`)));
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
    setState(
      {
        ...state,
        origins: originsInput.value,
        from: fromInput.value,
        therapy: therapyA.value || undefined,
        swap: swapA.value || undefined,
        therapyB: therapyB.value,
        swapB: swapB.value || undefined,
      },
      'replace',
    );
    void runReplays();
  });
  await runReplays();
  if (signal.aborted) return;
  root.append(await twinExperimentsCard(base));
}
