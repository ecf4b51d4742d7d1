import type { View } from 'vega';
import type { TopLevelSpec } from 'vega-lite';
import type { WardStepInfo } from '../../../environments/hospital/env.js';
import { type PatientTracks, patientTracks, type WardStay, type WardTimeline, wardInfoOf, wardTimeline } from '../../../environments/hospital/ward-timeline.js';
import { clockTicks, clockTime } from '../../../experiments/charts.js';
import type { EventMessage } from '../../../server/protocol.js';
import { api, enc } from '../api.js';
import { mount, replace } from '../charts.js';
import { fmt, h } from '../dom.js';
import { followExperiment, type Subscription } from '../live.js';
import { setState, type ViewState } from '../state.js';

/**
 * The ward view of a `hospital/ward-v1` episode (chosen when the env's twin declares `view: 'ward'`):
 * beds over time as a Gantt (a bar per stay coloured by patient class, the outcome the ward reports
 * marked at its end), staff activity (a row per nurse and the pharmacist, bars by task kind, idle and
 * off shift), the admission queue and nurse tasks due, and a click (or the patient list) into a
 * patient's own tracks with units. One time cursor drives every chart: play/pause/step/seek/rewind
 * with the buttons, the slider or the keyboard (← → step, Home/End, space play). A stored episode is
 * replayed (with "verify replay"); a running job's episode is followed live from its
 * `trajectory.frame` events (trial spec `frames: true`), and turns into the stored replay when the
 * job finishes. The data transformation is environments/hospital/ward-timeline.ts.
 */

export interface WardEpisode {
  key: string;
  envId: string;
  seed: number | null;
  length: number;
  totalReward: number;
  hash: string;
  resetInfo?: Record<string, unknown>;
  steps: { step: number; info: Record<string, unknown> }[];
}

export interface WardSource {
  run: string;
  experimentId: string;
  key: string;
  /** Decision steps the episode will have (x axis), known before a live episode ends. */
  horizon: number;
  minutesPerStep: number;
  /** A stored episode, or undefined while following the running job live. */
  stored?: WardEpisode;
}

const CLASS_COLORS = { domain: ['sepsis', 'vancomycin'], range: ['#e76f51', '#2a9d8f'] };
const OUTCOMES = { domain: ['discharged', 'died', 'transferred'], shapes: ['circle', 'cross', 'triangle-right'], colors: ['#166534', '#b91c1c', '#c2410c'] };
const STAFF_STATES = {
  domain: ['admission', 'abx', 'obs', 'vanco-dose', 'level', 'care', 'discharge', 'verify', 'review', 'idle', 'off'],
  // idle is white (a gap in the row), off shift a light grey band
  range: ['#6d28d9', '#dc2626', '#2563eb', '#0d9488', '#0891b2', '#a16207', '#65a30d', '#7c3aed', '#db2777', '#ffffff', '#e2e8f0'],
};

const episodeIndex = (key: string) => Number(/(\d+)$/.exec(key)?.[1] ?? 0);

/** x axis in clock time over [0, horizon] (ticks and labels as the tracks view's). */
function clockAxis(hi: number, title: string | null) {
  const ticks = clockTicks(0, hi);
  return {
    scale: { domain: [0, hi], nice: false, zero: false },
    axis: { title, values: ticks.values, labelExpr: `${JSON.stringify(ticks.labels)}[indexof(${JSON.stringify(ticks.values)}, datum.value)]` },
  };
}

const cursorLayer = {
  data: { name: 'cursor' },
  mark: { type: 'rule', color: '#0f172a', strokeWidth: 1.5 },
  encoding: { x: { field: 't', type: 'quantitative' } },
};

function bedsSpec(beds: number, hi: number, width: number): TopLevelSpec {
  const x = clockAxis(hi, 'clock time');
  const rows = Array.from({ length: beds }, (_, k) => `bed ${k + 1}`);
  const y = { field: 'row', type: 'ordinal', scale: { domain: rows }, axis: { title: null } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Beds: one bar per stay (click a bar for the patient)', anchor: 'start', fontSize: 13 },
    width,
    height: { step: 16 },
    layer: [
      {
        data: { name: 'stays' },
        mark: { type: 'bar', cornerRadius: 2, clip: true, cursor: 'pointer', height: { band: 0.8 } },
        encoding: {
          x: { field: 'x0', type: 'quantitative', ...x },
          x2: { field: 'x1' },
          y,
          color: { field: 'cls', type: 'nominal', scale: CLASS_COLORS, legend: { title: 'patient', orient: 'top' } },
          stroke: { condition: { test: 'datum.sel', value: '#0f172a' }, value: '#ffffff' },
          strokeWidth: { condition: { test: 'datum.sel', value: 2 }, value: 0.5 },
          tooltip: [
            { field: 'label', type: 'nominal', title: 'patient' },
            { field: 'admittedAt', type: 'nominal', title: 'admitted' },
            { field: 'endedAt', type: 'nominal', title: 'until' },
            { field: 'outcome', type: 'nominal', title: 'outcome' },
          ],
        },
      },
      {
        data: { name: 'stays' },
        transform: [{ filter: "datum.outcome === 'discharged' || datum.outcome === 'died' || datum.outcome === 'transferred'" }],
        mark: { type: 'point', filled: true, size: 110, clip: true, stroke: '#ffffff', strokeWidth: 1 },
        encoding: {
          x: { field: 'end', type: 'quantitative' },
          y,
          shape: {
            field: 'outcome',
            type: 'nominal',
            scale: { domain: OUTCOMES.domain, range: OUTCOMES.shapes },
            legend: { title: 'stay ended', orient: 'top' },
          },
          // the same legend as the shape's (same field and title), so the two merge into one
          fill: { field: 'outcome', type: 'nominal', scale: { domain: OUTCOMES.domain, range: OUTCOMES.colors }, legend: { title: 'stay ended', orient: 'top' } },
          tooltip: [
            { field: 'label', type: 'nominal', title: 'patient' },
            { field: 'outcome', type: 'nominal', title: 'outcome' },
            { field: 'endedAt', type: 'nominal', title: 'at' },
          ],
        },
      },
      cursorLayer,
    ],
  } as unknown as TopLevelSpec;
}

function staffSpec(staff: string[], hi: number, width: number): TopLevelSpec {
  const x = clockAxis(hi, 'clock time');
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Staff activity (sampled each step: the task in hand, idle on shift, or off shift)', anchor: 'start', fontSize: 13 },
    width,
    height: { step: 16 },
    layer: [
      {
        data: { name: 'staff' },
        mark: { type: 'bar', clip: true, height: { band: 0.8 } },
        encoding: {
          x: { field: 'start', type: 'quantitative', ...x },
          x2: { field: 'end' },
          y: { field: 'staff', type: 'ordinal', scale: { domain: staff }, axis: { title: null } },
          color: { field: 'state', type: 'nominal', scale: STAFF_STATES, legend: { title: 'task', orient: 'top', columns: 6 } },
          tooltip: [
            { field: 'staff', type: 'nominal' },
            { field: 'state', type: 'nominal', title: 'doing' },
            { field: 'from', type: 'nominal' },
            { field: 'to', type: 'nominal' },
          ],
        },
      },
      cursorLayer,
    ],
  } as unknown as TopLevelSpec;
}

/** Queue and tasks due; the named datasets start with the rows so far (an empty one would have no extent). */
function loadSpec(hi: number, width: number, dueKinds: string[], queue: object[], due: object[]): TopLevelSpec {
  const x = clockAxis(hi, 'clock time');
  const xNoTitle = clockAxis(hi, null);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    vconcat: [
      {
        title: { text: 'Admission queue (patients waiting for a bed)', anchor: 'start', fontSize: 13 },
        width,
        height: 70,
        layer: [
          {
            data: { name: 'queue', values: queue },
            mark: { type: 'line', interpolate: 'step-after', color: '#475569' },
            encoding: {
              x: { field: 'minute', type: 'quantitative', ...xNoTitle },
              y: { field: 'queue', type: 'quantitative', title: null, axis: { tickMinStep: 1, format: 'd' }, scale: { domainMin: 0, nice: true } },
            },
          },
          cursorLayer,
        ],
      },
      {
        title: { text: 'Nurse tasks due (tasks)', anchor: 'start', fontSize: 13 },
        width,
        height: 90,
        layer: [
          {
            data: { name: 'due', values: due },
            mark: { type: 'area', interpolate: 'step-after' },
            encoding: {
              x: { field: 'minute', type: 'quantitative', ...x },
              y: { field: 'count', type: 'quantitative', stack: 'zero', title: null, axis: { tickMinStep: 1, format: 'd' } },
              color: {
                field: 'kind',
                type: 'nominal',
                scale: { domain: dueKinds, range: STAFF_STATES.range.slice(0, dueKinds.length) },
                legend: { title: 'due', orient: 'top', columns: 7 },
              },
              order: { field: 'order', type: 'quantitative' },
            },
          },
          cursorLayer,
        ],
      },
    ],
  } as unknown as TopLevelSpec;
}

/** A patient's own tracks: one panel per quantity group, titled with its unit; categorical as named steps. */
function patientSpec(p: PatientTracks, hi: number, width: number): TopLevelSpec {
  const panels: { name: string; rows: PatientTracks['rows']; categories?: readonly string[]; band?: { lo: number; hi: number; label: string } }[] = [];
  for (const d of p.definitions) {
    let panel = panels.find((x) => x.name === d.panel);
    if (!panel) {
      panel = { name: d.panel, rows: [], categories: d.categories, band: d.band };
      panels.push(panel);
    }
    panel.rows.push(...p.rows.filter((r) => r.field === d.field));
  }
  const vconcat = panels.map((panel, i) => {
    const last = i === panels.length - 1;
    const x = { field: 'minute', type: 'quantitative', ...clockAxis(hi, last ? 'clock time' : null) };
    if (panel.rows.length === 0) {
      return {
        title: { text: panel.name, anchor: 'start', fontSize: 12 },
        width,
        height: 30,
        data: { values: [{ text: panel.name === 'AUC24 (mg·h/L)' ? 'no value yet: AUC24 needs 24 h of this episode’s steps' : 'not observed yet' }] },
        mark: { type: 'text', color: '#64748b', fontSize: 11, align: 'left' },
        encoding: { text: { field: 'text' }, x: { value: 4 }, y: { value: 15 } },
      };
    }
    const yAxis: Record<string, unknown> = { title: null, format: ',.4~r' };
    let yScale: Record<string, unknown> = { zero: false };
    if (panel.rows[0]?.unit === 'count') yAxis.tickMinStep = 1;
    if (panel.categories) {
      yScale = { domain: [-0.5, panel.categories.length - 0.5], nice: false };
      yAxis.values = panel.categories.map((_, k) => k);
      yAxis.labelExpr = `${JSON.stringify(panel.categories)}[datum.value]`;
    }
    const several = new Set(panel.rows.map((r) => r.label)).size > 1;
    const layers: object[] = [];
    if (panel.band) {
      layers.push({
        data: { values: [{ lo: panel.band.lo, hi: panel.band.hi, label: panel.band.label }] },
        mark: { type: 'rect', opacity: 0.12, color: '#16a34a' },
        encoding: { y: { field: 'lo', type: 'quantitative', scale: yScale, axis: yAxis }, y2: { field: 'hi' }, tooltip: { field: 'label' } },
      });
    }
    layers.push({
      data: { values: panel.rows },
      mark: { type: 'line', interpolate: panel.categories ? 'step-after' : 'linear', point: { size: 14 } },
      encoding: {
        x,
        y: { field: 'value', type: 'quantitative', scale: yScale, axis: yAxis },
        ...(several ? { color: { field: 'label', type: 'nominal', legend: { title: null, orient: 'top' } } } : { color: { value: '#334155' } }),
        tooltip: [
          { field: 'label', type: 'nominal' },
          { field: 'value', type: 'quantitative', format: '.4~g' },
          { field: 'unit', type: 'nominal' },
        ],
      },
    });
    layers.push(cursorLayer);
    return { title: { text: panel.name, anchor: 'start', fontSize: 12 }, width, height: 60, layer: layers };
  });
  return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', vconcat, resolve: { scale: { color: 'independent' } } } as unknown as TopLevelSpec;
}

const OUTCOME_TEXT: Record<string, string> = {
  discharged: 'discharged',
  died: 'died',
  transferred: 'transferred to critical care',
  'in bed': 'still in bed at the end',
  unknown: 'left (outcome not recorded)',
};

function stayLabel(s: WardStay): string {
  return `#${s.id} ${s.cls}`;
}

export async function renderWard(root: HTMLElement, state: ViewState, signal: AbortSignal, source: WardSource): Promise<void> {
  const snapshots: WardStepInfo[] = [];
  const live = source.stored === undefined;
  const horizon = Math.max(1, source.stored?.length ?? source.horizon);
  const hi = horizon * source.minutesPerStep;
  const ingest = (info: unknown) => {
    const w = wardInfoOf(info);
    if (w) snapshots.push(w);
  };
  if (source.stored) {
    if (source.stored.resetInfo) ingest(source.stored.resetInfo);
    for (const s of source.stored.steps) ingest(s.info);
  }

  const slider = h('input', { type: 'range', min: 0, max: horizon, value: 0, id: 'seek', 'aria-label': 'time cursor (step)' });
  const position = h('span', { id: 'position' });
  const playBtn = h('button', { id: 'play', class: 'primary', text: '▶ play', title: 'play / pause (space)' });
  const backBtn = h('button', { id: 'step-back', text: '◀ step', title: 'step back (←)' });
  const fwdBtn = h('button', { id: 'step-forward', text: 'step ▶', title: 'step forward (→)' });
  const rewindBtn = h('button', { id: 'rewind', text: '⏮ rewind', title: 'rewind (Home)' });
  const speedSel = h('select', { id: 'speed', 'aria-label': 'speed' }, ...[1, 4, 8, 32].map((s) => h('option', { value: s, text: `${s}×` })));
  speedSel.value = '4';
  const followBox = h('input', { type: 'checkbox', id: 'follow', checked: true });
  const liveLine = h('span', { id: 'live-status', class: 'pill running' });
  const patientSel = h('select', { id: 'patient-select', 'aria-label': 'patient' });
  const details = h('pre', { class: 'step-details', id: 'ward-details', style: 'white-space:pre-wrap;overflow-wrap:anywhere' });
  const bedsEl = h('div', { class: 'chart', id: 'ward-beds' });
  const staffEl = h('div', { class: 'chart', id: 'ward-staff' });
  const loadEl = h('div', { class: 'chart', id: 'ward-load' });
  const patientTitle = h('h2', { id: 'patient-title', text: 'Patient' });
  const patientInfo = h('p', {
    class: 'muted',
    id: 'patient-info',
    text: 'Click a bar in the bed chart, or choose a patient from the list, to see their own tracks.',
  });
  const patientEl = h('div', { class: 'chart', id: 'ward-patient' });
  const verifyBtn = h('button', { id: 'verify', text: 'verify replay' });
  const verifyOut = h('span', { id: 'verify-result', class: 'verify-result' });
  const meta = h('p', { class: 'muted', id: 'ward-meta' });
  root.replaceChildren(
    h('h1', { text: `Ward · ${source.key}` }),
    meta,
    h(
      'div',
      { class: 'controls', role: 'group', 'aria-label': 'player (keys: ← → step, Home/End, space play)' },
      rewindBtn,
      backBtn,
      playBtn,
      fwdBtn,
      'speed',
      speedSel,
      slider,
      position,
    ),
    live
      ? h('div', { class: 'controls' }, liveLine, h('label', {}, followBox, ' follow the latest step'))
      : h('div', { class: 'controls' }, verifyBtn, verifyOut),
    h('div', { class: 'card', 'data-ward': 'beds' }, bedsEl),
    h('div', { class: 'card', 'data-ward': 'staff' }, staffEl),
    h('div', { class: 'card', 'data-ward': 'load' }, loadEl),
    h(
      'div',
      { class: 'card', 'data-ward': 'patient' },
      patientTitle,
      h('div', { class: 'controls' }, h('label', { for: 'patient-select', text: 'patient ' }), patientSel),
      patientInfo,
      patientEl,
    ),
    details,
  );
  const describe = () => {
    const s = source.stored;
    meta.textContent = s
      ? `${s.envId} · seed ${s.seed ?? '—'} · ${s.length} steps · return ${fmt(s.totalReward)} · hash ${s.hash.slice(0, 16)}…`
      : `${source.run} · following live: ${Math.max(0, snapshots.length - 1)} of ${horizon} steps received`;
  };
  describe();

  // live frames may arrive before the charts exist (history first): they are drawn once mounted
  let mounted = false;
  let pending = false;
  let sub: Subscription | undefined;
  if (live) {
    liveLine.textContent = 'waiting for the first step…';
    const k = episodeIndex(source.key);
    let ready: () => void = () => {};
    const first = new Promise<void>((resolve) => {
      ready = resolve;
    });
    const onEvents = (events: EventMessage[]) => {
      let fresh = false;
      for (const m of events) {
        if (m.jobId !== source.run) continue;
        const e = m.event;
        if (e.type === 'trajectory.frame' && e.data.episode === k && e.data.t === snapshots.length) {
          ingest(e.data.info);
          fresh = true;
        } else if (e.type === 'run.finished' || e.type === 'run.failed') {
          liveLine.textContent = e.type === 'run.finished' ? 'finished: opening the stored episode…' : `failed: ${e.data.error}`;
          if (e.type === 'run.finished') setTimeout(() => !signal.aborted && window.dispatchEvent(new PopStateEvent('popstate')), 0);
        }
      }
      if (fresh) {
        ready();
        onData();
      }
    };
    sub = await followExperiment(source.experimentId, onEvents);
    signal.addEventListener('abort', () => sub?.close());
    await Promise.race([first, new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()))]);
    if (signal.aborted) return;
  }
  if (snapshots.length === 0) {
    bedsEl.replaceChildren(h('p', { class: 'error', text: 'This episode has no info.ward (recorded before the ward view existed).' }));
    return;
  }

  // room for the bed/staff labels and the card padding
  const width = Math.max(300, Math.min(1300, (root.clientWidth || 1200) - 170));
  const first = snapshots[0] as WardStepInfo;
  let timeline: WardTimeline = wardTimeline(snapshots);
  const dueKinds = Object.keys(first.due);
  const dueRows = (t: WardTimeline) => t.due.map((d) => ({ ...d, order: dueKinds.indexOf(d.kind) }));
  const [bedsView, staffView, loadView] = await Promise.all([
    mount(bedsEl, bedsSpec(timeline.beds, hi, width)),
    mount(staffEl, staffSpec(timeline.staff, hi, width)),
    mount(loadEl, loadSpec(hi, width, dueKinds, timeline.queue, dueRows(timeline))),
  ]);
  if (signal.aborted) return;
  let patientView: View | undefined;
  let selected: number | undefined = state.patient;
  let cursor = Math.min(Math.max(0, state.cursor ?? (live ? snapshots.length - 1 : 0)), horizon);
  let playing = false;
  let timer: ReturnType<typeof setInterval> | undefined;

  const at = (minute: number) => clockTime(minute);
  const drawData = () => {
    timeline = wardTimeline(snapshots);
    replace(
      bedsView,
      'stays',
      timeline.stays
        .filter((s) => s.bed !== null)
        .map((s) => ({
          ...s,
          row: `bed ${(s.bed as number) + 1}`,
          x0: Math.max(0, s.start),
          x1: Math.max(Math.max(0, s.start) + 1, s.end),
          sel: s.id === selected,
          label: stayLabel(s),
          admittedAt: s.start < 0 ? `${fmt(-s.start / 60)} h before the episode` : at(s.start),
          endedAt: at(s.end),
        })),
    );
    replace(
      staffView,
      'staff',
      timeline.staffIntervals.map((x) => ({ ...x, from: at(x.start), to: at(x.end) })),
    );
    replace(loadView, 'queue', timeline.queue);
    replace(loadView, 'due', dueRows(timeline));
    // the patient list: every stay, by bed
    const options = timeline.stays.map((s) => ({
      value: String(s.id),
      text: `${s.bed === null ? 'no bed (stay < 1 step)' : `bed ${s.bed + 1}`} · ${stayLabel(s)} · ${OUTCOME_TEXT[s.outcome]}`,
    }));
    const current = patientSel.value;
    patientSel.replaceChildren(h('option', { value: '', text: `— ${options.length} stays —` }), ...options.map((o) => h('option', o)));
    patientSel.value = selected !== undefined ? String(selected) : current;
    bedsEl.dataset.stays = String(timeline.stays.filter((s) => s.bed !== null).length);
    bedsEl.dataset.beds = String(timeline.beds);
  };

  const drawPatient = async () => {
    if (selected === undefined) return;
    const p = patientTracks(snapshots, selected);
    const stay = timeline.stays.find((s) => s.id === selected);
    if (!p || !stay) {
      patientTitle.textContent = `Patient #${selected}`;
      patientInfo.textContent = 'Not in a bed during this episode.';
      patientEl.replaceChildren();
      patientView = undefined;
      return;
    }
    patientTitle.textContent = `Patient #${p.id} · ${p.cls}`;
    patientInfo.textContent = `${stay.bed === null ? 'no bed row' : `bed ${stay.bed + 1}`} · admitted ${stay.start < 0 ? 'before the episode' : at(stay.start)} · ${stay.outcome === 'in bed' ? 'still in bed' : `${OUTCOME_TEXT[stay.outcome]} at ${at(stay.end)}`}`;
    patientEl.dataset.patient = String(p.id);
    const view = await mount(patientEl, patientSpec(p, hi, width));
    if (signal.aborted) return;
    patientView = view;
    replace(view, 'cursor', [{ t: (snapshots[Math.min(cursor, snapshots.length - 1)] as WardStepInfo).minute }]);
  };

  const select = (id: number | undefined) => {
    selected = id;
    setState({ ...state, cursor, patient: id }, 'replace');
    drawData();
    void drawPatient();
    show();
  };

  const show = () => {
    const index = Math.min(cursor, snapshots.length - 1);
    const snap = snapshots[index] as WardStepInfo;
    const t = [{ t: snap.minute }];
    replace(bedsView, 'cursor', t);
    replace(staffView, 'cursor', t);
    replace(loadView, 'cursor', t);
    if (patientView) replace(patientView, 'cursor', t);
    slider.value = String(cursor);
    position.textContent = `step ${cursor} / ${horizon}${live ? ` (received ${snapshots.length - 1})` : ''}`;
    position.dataset.cursor = String(cursor);
    const occupied = snap.beds.filter((b) => b !== null).length;
    const busy = Object.entries(snap.staff)
      .filter(([, v]) => v !== 'idle' && v !== 'off')
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    const lines = [
      `${at(snap.minute)}${index < cursor ? ' (latest received)' : ''} · beds ${occupied}/${snap.beds.length} · waiting ${snap.queue} · tasks due ${snap.dueTotal} · nurses busy ${snap.nursesBusy}/${snap.nursesOnShift} on shift`,
      busy ? `busy: ${busy}` : 'no one busy',
      snap.left.length > 0 ? `left since the previous step: ${snap.left.map((l) => `#${l.id} ${l.outcome}`).join(', ')}` : '',
    ];
    const bed = selected === undefined ? undefined : snap.beds.find((b) => b?.id === selected);
    if (bed) {
      const p = patientTracks([snap], bed.id);
      const values = (p?.definitions ?? []).map((d) => {
        const v = bed[d.field];
        const text = typeof v !== 'number' ? '—' : d.categories ? (d.categories[v] ?? fmt(v)) : `${fmt(v)} ${d.unit}`;
        return `${d.label} ${text}`;
      });
      lines.push(`patient #${bed.id}: ${values.join(' · ')}`);
    }
    details.textContent = lines.filter(Boolean).join('\n');
    setState({ ...state, cursor, patient: selected }, 'replace');
  };

  const seek = (to: number) => {
    const max = live ? Math.max(0, snapshots.length - 1) : horizon;
    cursor = Math.min(Math.max(0, Math.round(to)), max);
    if (live) followBox.checked = cursor === max;
    show();
  };
  const stop = () => {
    playing = false;
    playBtn.textContent = '▶ play';
    if (timer) clearInterval(timer);
    timer = undefined;
  };
  const togglePlay = () => {
    if (playing) return stop();
    playing = true;
    playBtn.textContent = '❚❚ pause';
    timer = setInterval(() => {
      const max = live ? snapshots.length - 1 : horizon;
      if (cursor >= max) {
        if (!live) stop();
        return;
      }
      seek(cursor + 1);
    }, 1000 / Number(speedSel.value));
  };
  slider.addEventListener('input', () => seek(Number(slider.value)));
  backBtn.addEventListener('click', () => seek(cursor - 1));
  fwdBtn.addEventListener('click', () => seek(cursor + 1));
  rewindBtn.addEventListener('click', () => seek(0));
  speedSel.addEventListener('change', () => {
    if (playing) {
      stop();
      togglePlay();
    }
  });
  playBtn.addEventListener('click', togglePlay);
  const onKey = (e: KeyboardEvent) => {
    const target = e.target as HTMLElement | null;
    const tag = target?.tagName ?? '';
    if (e.altKey || e.ctrlKey || e.metaKey || tag === 'INPUT' || tag === 'SELECT' || tag === 'TEXTAREA') return;
    if (e.key === 'ArrowRight') seek(cursor + 1);
    else if (e.key === 'ArrowLeft') seek(cursor - 1);
    else if (e.key === 'Home') seek(0);
    else if (e.key === 'End') seek(live ? snapshots.length - 1 : horizon);
    else if ((e.key === ' ' || e.key === 'k') && tag !== 'BUTTON') togglePlay();
    else return;
    e.preventDefault();
  };
  document.addEventListener('keydown', onKey);
  signal.addEventListener('abort', () => {
    document.removeEventListener('keydown', onKey);
    stop();
  });
  patientSel.addEventListener('change', () => select(patientSel.value === '' ? undefined : Number(patientSel.value)));
  bedsView.addEventListener('click', (_event, item) => {
    const datum = (item as { datum?: { id?: unknown } } | null | undefined)?.datum;
    if (datum && typeof datum.id === 'number') select(datum.id);
  });
  verifyBtn.addEventListener('click', async () => {
    verifyBtn.disabled = true;
    verifyOut.className = 'verify-result';
    verifyOut.textContent = 're-executing…';
    try {
      const r = await api.post<{ identical: boolean; step?: number; field?: string }>(`/api/runs/${enc(source.run)}/episodes/${enc(source.key)}/verify`);
      verifyOut.className = `verify-result ${r.identical ? 'identical' : 'diverged'}`;
      verifyOut.textContent = r.identical ? 'identical' : `diverges at step ${r.step} (${r.field})`;
    } catch (error) {
      verifyOut.className = 'verify-result diverged';
      verifyOut.textContent = error instanceof Error ? error.message : String(error);
    } finally {
      verifyBtn.disabled = false;
    }
  });

  // live: new frames redraw the data; the cursor follows the latest step while "follow" is on
  function onData(): void {
    if (pending || !mounted) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      if (signal.aborted) return;
      describe();
      liveLine.textContent = `live · step ${snapshots.length - 1} of ${horizon}`;
      drawData();
      if (followBox.checked) cursor = snapshots.length - 1;
      if (selected !== undefined && snapshots[snapshots.length - 1]?.beds.some((b) => b?.id === selected)) void drawPatient();
      show();
    });
  }
  if (live) liveLine.textContent = `live · step ${snapshots.length - 1} of ${horizon}`;
  mounted = true;
  drawData();
  await drawPatient();
  show();
}
