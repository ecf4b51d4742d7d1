import type { TopLevelSpec } from 'vega-lite';
import { SOCKET_MESSAGES } from '../../../server/protocol.js';
import { api, enc } from '../api.js';
import { mount } from '../charts.js';
import { fmt, h } from '../dom.js';
import { connection } from '../live.js';
import { setState, type ViewState } from '../state.js';
import { errorText, ms, type PosteriorParameter, posteriorSpec, SCHEMA, short, TIME, twinExperimentsCard } from './twin-charts.js';

/**
 * The page of a personal vancomycin twin (server/twins-vancomycin.ts, issue #18 A3): the
 * concentration–time curve (posterior predictive mean and 95 % band of a measured level) through the
 * recorded doses with the measured levels, and the proposed regimen of the dose table continued after
 * them; the dose table of `twin dose` (target AUC24/MIC, intervals and MIC in the URL: `targetAuc`,
 * `intervals`, `mic`; the regimen drawn: `regimen` = DOSE@HOURS, by default the table's best); CL and
 * V with 95 % intervals, AUC24 of the recorded regimen; posteriors beside the Goti priors.
 */
interface Interval {
  mean: number;
  lo: number;
  hi: number;
}
interface Estimate {
  unit: string;
  map: number;
  mean: number;
  lo: number;
  hi: number;
}
/** server/twins-vancomycin.ts VancoLiveState. */
interface LiveState {
  kind: 'vancomycin';
  lastEventTime: string;
  appended: number;
  doses: number;
  levels: number;
  levelsInPosterior: number;
  map: { CL: number; V1: number; V2: number };
  regimen: { amountMg: number; intervalH: number; durationH: number } | null;
  atMap: { auc24: number; trough: number } | null;
  newLevels: { time: string; observed: number; mean: number; lo: number; hi: number }[];
}
interface Summary {
  id: string;
  method: string;
  state: LiveState;
  patient: { id: string };
  covariates: { ageYears: number; sex: string; bodyWeightKg: number; scrMgDl: number; dialysis: boolean; crclMlMin: number };
  model: { name: string };
  data: { doses: number; levels: number; levelsUsed: number; until: string | null; notes: string[] };
  parameters: { CL: Estimate; V1: Estimate; V2: Estimate; Vss: Estimate; draws: number };
  regimen: { amountMg: number; intervalH: number; durationH: number; source: string };
  auc24: Interval;
  trough: Interval;
  diagnostics: { ok: boolean; acceptance: number } | null;
}
interface Regimen {
  doseMg: number;
  intervalH: number;
  infusionH: number;
  dailyDoseMg: number;
  auc24: Interval;
  trough: Interval;
  pTarget: number;
  pAucAbove600: number;
}
interface DoseTable {
  target: { aucOverMic: [number, number]; mic: number; auc24: [number, number] };
  regimens: Regimen[];
  loadingDose: { mg: number; mgPerKg: number; rangeMg: [number, number]; capMg: number; bodyWeightKg: number };
}
interface Curve {
  stepMin: number;
  draws: number;
  rows: { time: string; mean: number; lo: number; hi: number }[];
  levels: { time: string; observed: number; used: boolean; mean: number; lo: number; hi: number }[];
  doses: { time: string; amountMg: number; durationH: number; proposed: boolean }[];
  proposed: null | { doseMg: number; intervalH: number; infusionH: number; start: string; hours: number; auc24: Interval; trough: Interval };
}

const RECORDED = 'recorded doses';
const PROPOSED = 'proposed regimen';
const PART_COLOR = { domain: [RECORDED, PROPOSED], range: ['#2563eb', '#059669'] };
const LEVEL_USED = 'measured level (fitted)';
const LEVEL_LATER = 'measured level (after the fit)';

function curveSpec(curve: Curve): TopLevelSpec {
  const startProposed = curve.proposed ? ms(curve.proposed.start) : Number.POSITIVE_INFINITY;
  // the point at the proposed start belongs to both parts, so the two lines and bands join
  const values = curve.rows.flatMap((r) => {
    const t = ms(r.time);
    const row = { t, mean: r.mean, lo: r.lo, hi: r.hi };
    if (t < startProposed) return [{ ...row, part: RECORDED }];
    if (t === startProposed) return [{ ...row, part: RECORDED }, { ...row, part: PROPOSED }];
    return [{ ...row, part: PROPOSED }];
  });
  const levels = curve.levels.map((l) => ({ t: ms(l.time), observed: l.observed, level: l.used ? LEVEL_USED : LEVEL_LATER }));
  const doses = curve.doses.map((d) => ({ t: ms(d.time), t2: ms(d.time) + Math.max(d.durationH, 0.25) * 3_600_000, amount: d.amountMg, part: d.proposed ? PROPOSED : RECORDED }));

  // the dose bars take the curve's time domain so the two panels line up (domainMin/Max: an explicit
  // `domain` with x2 makes vega-lite 6 warn of conflicting domains)
  const x = TIME;
  const xDoses = { ...TIME, scale: { type: 'utc', domainMin: values[0]?.t ?? 0, domainMax: values[values.length - 1]?.t ?? 1 } };
  const conc = { type: 'quantitative', title: 'vancomycin (mg/L)' } as const;
  const layers: object[] = [
    { data: { values }, mark: { type: 'area', opacity: 0.2 }, encoding: { x, y: { field: 'lo', ...conc }, y2: { field: 'hi' }, color: { field: 'part', type: 'nominal', scale: PART_COLOR, legend: { title: null, orient: 'top' } } } },
    { data: { values }, mark: { type: 'line', strokeWidth: 1.6 }, encoding: { x, y: { field: 'mean', type: 'quantitative' }, color: { field: 'part', type: 'nominal', scale: PART_COLOR } } },
  ];
  if (levels.length > 0) {
    layers.push({
      data: { values: levels },
      mark: { type: 'point', size: 70, strokeWidth: 2, color: '#0f172a' },
      encoding: {
        x,
        y: { field: 'observed', type: 'quantitative' },
        shape: { field: 'level', type: 'nominal', scale: { domain: [LEVEL_USED, LEVEL_LATER], range: ['circle', 'diamond'] }, legend: { title: null, orient: 'top' } },
        fill: { field: 'level', type: 'nominal', legend: null, scale: { domain: [LEVEL_USED, LEVEL_LATER], range: ['#0f172a', '#ffffff'] } },
        tooltip: [
          { field: 't', type: 'temporal', title: 'time (UTC)', format: '%Y-%m-%d %H:%M', formatType: 'utc' },
          { field: 'observed', type: 'quantitative', title: 'mg/L' },
        ],
      },
    });
  }
  return {
    $schema: SCHEMA,
    title: {
      text: 'Concentration–time curve: posterior predictive mean and 95 % band of a measured level',
      subtitle: curve.proposed
        ? `proposed: ${curve.proposed.doseMg} mg every ${curve.proposed.intervalH} h over ${hours(curve.proposed.infusionH)} h from ${short(startProposed)} — steady-state AUC24 ${fmt(curve.proposed.auc24.mean)} [${fmt(curve.proposed.auc24.lo)}, ${fmt(curve.proposed.auc24.hi)}] mg·h/L, trough ${fmt(curve.proposed.trough.mean)} mg/L`
        : 'recorded doses only',
    },
    resolve: { scale: { color: 'shared' } },
    vconcat: [
      { width: 'container', height: 260, layer: layers, resolve: { scale: { fill: 'independent' } } },
      {
        width: 'container',
        height: 70,
        data: { values: doses },
        mark: { type: 'rect', opacity: 0.8 },
        encoding: {
          x: xDoses,
          x2: { field: 't2' },
          y: { field: 'amount', type: 'quantitative', title: 'dose (mg)', scale: { domainMin: 0 } },
          y2: { datum: 0 },
          color: { field: 'part', type: 'nominal', scale: PART_COLOR },
        },
      },
    ],
  } as TopLevelSpec;
}

function estimateRow(name: string, e: Estimate | Interval, unit: string, map?: number): HTMLTableRowElement {
  return h(
    'tr',
    { 'data-estimate': name },
    h('td', { text: name }),
    h('td', { text: unit }),
    h('td', { class: 'num', text: map === undefined ? '—' : fmt(map) }),
    h('td', { class: 'num', text: fmt(e.mean) }),
    h('td', { class: 'num', text: `[${fmt(e.lo)}, ${fmt(e.hi)}]` }),
  );
}

const pct = (p: number) => `${(100 * p).toFixed(0)} %`;
/** Hours of an infusion: 1, 1.25, 1.75 (not 1.250). */
const hours = (x: number) => String(Number(x.toFixed(2)));

export async function renderVancomycinTwin(root: HTMLElement, state: ViewState, signal: AbortSignal, base: string): Promise<void> {
  const s = await api.get<Summary>(base);
  if (signal.aborted) return;
  const c = s.covariates;
  const p = s.parameters;

  const curveEl = h('div', { class: 'chart', id: 'vanco-curve' });
  const targetInput = h('input', { id: 'dose-target', size: 9, value: state.targetAuc ?? '400-600' });
  const intervalsInput = h('input', { id: 'dose-intervals', size: 9, value: state.intervals ?? '8,12,24' });
  const micInput = h('input', { id: 'dose-mic', size: 4, value: state.mic ?? '1' });
  const doseButton = h('button', { id: 'dose-run', text: 'recommend' });
  const tableEl = h('div', { id: 'dose-table' });
  const loadingEl = h('p', { id: 'dose-loading', class: 'muted' });
  const postEl = h('div', { class: 'chart', id: 'twin-posteriors' });
  const liveEl = h('div', { id: 'vanco-live', 'data-appended': 0 });
  const dg = s.diagnostics;

  root.replaceChildren(
    h('h1', { text: `Vancomycin twin of ${s.patient.id} (${s.method})` }),
    h(
      'p',
      { class: 'muted', id: 'twin-summary', 'data-kind': 'vancomycin' },
      `${s.id} · ${fmt(c.ageYears, 2)} y, ${c.sex}, ${fmt(c.bodyWeightKg, 2)} kg, serum creatinine ${fmt(c.scrMgDl, 2)} mg/dL → CrCL ${fmt(c.crclMlMin)} mL/min (Cockcroft–Gault)${c.dialysis ? ', haemodialysis' : ''} · ${s.data.doses} doses, ${s.data.levelsUsed} of ${s.data.levels} levels fitted${s.data.until ? ` (until ${short(ms(s.data.until))})` : ''} · ${p.draws} posterior draws${dg ? ` (acceptance ${fmt(dg.acceptance)}${dg.ok ? '' : ', diagnostics FAILED'})` : ''} · ${s.model.name}`,
    ),
    h('div', { class: 'card' }, h('h2', { text: 'Concentration–time curve' }), curveEl),
    h(
      'div',
      { class: 'card' },
      h('h2', { text: 'Dose recommendation' }),
      h(
        'p',
        { class: 'muted', text: 'Regimens ranked by the posterior probability of AUC24/MIC in the target (Rybak et al. 2020 consensus: 400–600 with MIC 1 mg/L), then by P(AUC24 > 600 mg·h/L), the acute-kidney-injury risk; infusion at ≤ 1 g/h and ≥ 1 h; doses in 250 mg steps. Click a row to draw it.' },
      ),
      h('label', {}, 'target AUC24/MIC ', targetInput, ' intervals (h) ', intervalsInput, ' MIC (mg/L) ', micInput, ' ', doseButton),
      tableEl,
      loadingEl,
    ),
    h(
      'div',
      { class: 'card' },
      h('h2', { text: 'Estimates (95 % intervals)' }),
      h(
        'table',
        { id: 'vanco-estimates' },
        h('tr', {}, ...['', 'unit', 'MAP', 'posterior mean', '95 % interval'].map((t) => h('th', { text: t }))),
        estimateRow('CL (clearance)', p.CL, 'L/h', p.CL.map),
        estimateRow('V1 (central volume)', p.V1, 'L', p.V1.map),
        estimateRow('V2 (peripheral volume)', p.V2, 'L', p.V2.map),
        estimateRow('Vss = V1 + V2', p.Vss, 'L', p.Vss.map),
        estimateRow(`AUC24 at steady state of ${s.regimen.amountMg} mg q${s.regimen.intervalH}h`, s.auc24, 'mg·h/L'),
        estimateRow(`trough at steady state of ${s.regimen.amountMg} mg q${s.regimen.intervalH}h`, s.trough, 'mg/L'),
      ),
      h('p', { class: 'muted', text: `Recorded regimen: ${s.regimen.source}.${s.data.notes.length > 0 ? ` ${s.data.notes.join(' ')}` : ''}` }),
    ),
    h(
      'div',
      { class: 'card' },
      h('h2', { text: 'Live recalibration' }),
      h('p', {
        class: 'muted',
        text: 'Doses and levels posted to POST /api/twins/:id/observations since the fit: the MAP is re-fitted to every level at once; the curve draws them, while its band and the dose table stay those of the fitted posterior until the twin is re-fitted (twinlab twin fit).',
      }),
      liveEl,
    ),
    h('div', { class: 'card' }, h('h2', { text: 'Parameters: posterior and prior (Goti et al. 2018)' }), postEl),
  );

  const showLive = (l: LiveState) => {
    liveEl.dataset.appended = String(l.appended);
    const parts = [
      h(
        'p',
        { id: 'vanco-live-map' },
        `${l.appended} row${l.appended === 1 ? '' : 's'} posted since the fit (last event ${short(ms(l.lastEventTime))}); MAP of all ${l.levels} levels (${l.levelsInPosterior} in the posterior): CL ${fmt(l.map.CL)} L/h, V1 ${fmt(l.map.V1)} L, V2 ${fmt(l.map.V2)} L` +
          (l.regimen && l.atMap ? ` — ${l.regimen.amountMg} mg q${l.regimen.intervalH}h at steady state: AUC24 ${fmt(l.atMap.auc24)} mg·h/L, trough ${fmt(l.atMap.trough)} mg/L (at the MAP)` : ''),
      ),
    ];
    if (l.newLevels.length > 0) {
      parts.push(
        h(
          'table',
          { id: 'vanco-live-levels' },
          h('tr', {}, ...['posted level', 'measured (mg/L)', 'predicted before it (mg/L, mean [95 %])'].map((t) => h('th', { text: t }))),
          ...l.newLevels.map((n) => h('tr', {}, h('td', { text: short(ms(n.time)) }), h('td', { class: 'num', text: fmt(n.observed) }), h('td', { class: 'num', text: `${fmt(n.mean)} [${fmt(n.lo)}, ${fmt(n.hi)}]` }))),
        ),
      );
    }
    liveEl.replaceChildren(...parts);
  };
  showLive(s.state);

  let regimen = state.regimen;
  const drawCurve = async () => {
    const m = regimen ? /^(\d+)@(\d+(?:\.\d+)?)$/.exec(regimen) : null;
    try {
      const curve = await api.get<Curve>(`${base}/curve${m ? `?dose=${m[1]}&interval=${m[2]}` : ''}`);
      if (signal.aborted) return;
      await mount(curveEl, curveSpec(curve));
      curveEl.dataset.regimen = regimen ?? '';
    } catch (error) {
      curveEl.replaceChildren(errorText(error));
    }
  };

  const loadTable = async (useBest: boolean) => {
    const query = `targetAuc=${enc(targetInput.value.trim())}&intervals=${enc(intervalsInput.value.trim())}&mic=${enc(micInput.value.trim())}`;
    try {
      const table = await api.get<DoseTable>(`${base}/dose?${query}`);
      if (signal.aborted) return;
      const rows = table.regimens.map((r, i) => {
        const key = `${r.doseMg}@${r.intervalH}`;
        const tr = h(
          'tr',
          { 'data-regimen': key, class: key === regimen ? 'selected' : undefined, title: 'draw this regimen on the curve' },
          h('td', { class: 'num', text: String(i + 1) }),
          h('td', { class: 'num', text: `${r.doseMg} mg` }),
          h('td', { class: 'num', text: `q${r.intervalH}h` }),
          h('td', { class: 'num', text: `${hours(r.infusionH)} h` }),
          h('td', { class: 'num', text: `${fmt(r.dailyDoseMg)} mg` }),
          h('td', { class: 'num', text: `${fmt(r.auc24.mean)} [${fmt(r.auc24.lo)}, ${fmt(r.auc24.hi)}]` }),
          h('td', { class: 'num', text: `${fmt(r.trough.mean)} [${fmt(r.trough.lo)}, ${fmt(r.trough.hi)}]` }),
          h('td', { class: 'num', text: pct(r.pTarget) }),
          h('td', { class: 'num', text: pct(r.pAucAbove600) }),
        );
        tr.style.cursor = 'pointer';
        tr.addEventListener('click', () => {
          regimen = key;
          setState({ ...state, targetAuc: targetInput.value, intervals: intervalsInput.value, mic: micInput.value, regimen }, 'replace');
          tableEl.querySelectorAll('tr[data-regimen]').forEach((other) => other.classList.toggle('selected', other === tr));
          void drawCurve();
        });
        return tr;
      });
      tableEl.replaceChildren(
        h(
          'table',
          { id: 'dose-regimens' },
          h('tr', {}, ...['#', 'dose', 'every', 'infusion', 'daily dose', 'AUC24 mg·h/L mean [95 %]', 'trough mg/L mean [95 %]', 'P(target)', 'P(AUC24 > 600)'].map((t) => h('th', { text: t }))),
          ...rows,
        ),
      );
      const ld = table.loadingDose;
      loadingEl.textContent = `Target AUC24 ${table.target.auc24[0]}–${table.target.auc24[1]} mg·h/L (AUC24/MIC ${table.target.aucOverMic[0]}–${table.target.aucOverMic[1]}, MIC ${table.target.mic} mg/L). Loading dose ${ld.mg} mg (${fmt(ld.mgPerKg)} mg/kg of ${fmt(ld.bodyWeightKg, 2)} kg; guideline 20–35 mg/kg = ${ld.rangeMg[0]}–${ld.rangeMg[1]} mg, at most ${ld.capMg} mg).`;
      const best = table.regimens[0];
      if (useBest && best && regimen === undefined) {
        regimen = `${best.doseMg}@${best.intervalH}`;
        tableEl.querySelector(`tr[data-regimen="${regimen}"]`)?.classList.add('selected');
      }
    } catch (error) {
      tableEl.replaceChildren(errorText(error));
      loadingEl.textContent = '';
    }
  };
  doseButton.addEventListener('click', () => {
    setState({ ...state, targetAuc: targetInput.value, intervals: intervalsInput.value, mic: micInput.value, regimen }, 'replace');
    void loadTable(false);
  });

  await loadTable(true);
  if (signal.aborted) return;
  await drawCurve();
  if (signal.aborted) return;
  try {
    const posterior = await api.get<{ parameters: PosteriorParameter[] }>(`${base}/posterior`);
    if (signal.aborted) return;
    await mount(postEl, posteriorSpec(posterior.parameters));
  } catch (error) {
    postEl.replaceChildren(errorText(error));
  }
  if (signal.aborted) return;
  const experiments = await twinExperimentsCard(base);
  if (signal.aborted) return;
  root.append(experiments);

  // posted rows arrive as twin-update: the live state, and the curve redrawn with them
  const socket = connection();
  const onUpdate = (m: { twinId: string; kind?: string; state: LiveState }) => {
    if (m.twinId !== s.id || m.kind !== 'vancomycin' || signal.aborted) return;
    showLive(m.state);
    void drawCurve();
  };
  const subscribe = () =>
    socket.emit(SOCKET_MESSAGES.subscribeTwin, { twinId: s.id }, (ack: { ok: boolean; state?: LiveState }) => {
      if (ack.ok && ack.state && !signal.aborted) showLive(ack.state);
    });
  socket.on(SOCKET_MESSAGES.twinUpdate, onUpdate);
  socket.on('connect', subscribe);
  if (socket.connected) subscribe();
  signal.addEventListener('abort', () => {
    socket.off(SOCKET_MESSAGES.twinUpdate, onUpdate);
    socket.off('connect', subscribe);
    socket.emit(SOCKET_MESSAGES.unsubscribeTwin, { twinId: s.id });
  });
}
