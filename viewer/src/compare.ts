import { changeset, type View } from 'vega';
import type { TopLevelSpec } from 'vega-lite';
import {
  type CurvePoint,
  type GroupPoint,
  configLabel,
  differingKeys,
  thin,
  emaSmooth,
  eventMetric,
  flattenConfig,
  formatValue,
  groupBands,
} from '../../experiments/curves.js';
import type { EventMessage, StatusMessage } from '../../server/protocol.js';
import { enc } from './api.js';
import { mount } from './charts.js';
import { fmt, h } from './dom.js';
import { followExperiment, type Subscription } from './live.js';

/**
 * Run comparison, used by the runs page (runs of any experiments) and the experiment page (its own
 * runs). For each run the **full** stored series of a metric is read (GET …/metrics/NAME/points, never
 * downsampled) together with the seq it runs through; live events after that seq are appended in
 * (step, seq) order, so the points held live are exactly the points a reload reads. What is drawn is
 * experiments/curves.ts `drawnCurve` (EMA over every point, then thinned) or, grouped by a config key,
 * `groupBands` (mean ± sd over the seeds that reached each step): a pure function of those points.
 */

export interface RunInfo {
  id: string;
  experimentId: string;
  experimentName: string;
  index: number;
  seed: number;
  status: string;
  /** Flat config: experiment, env, agent settings, seed (experiments/curves.ts flattenConfig). */
  config: Record<string, string | number | boolean | null>;
}

interface JobJson {
  id: string;
  index: number;
  kind: string;
  status: string;
  seed: number;
  config: unknown;
}

/** Config keys that are bookkeeping rather than settings, left out of legends and tables. */
const HIDDEN = new Set(['kind', 'replicate', 'gridPoint', 'agent', 'twinId']);

export function runInfo(experiment: { id: string; name: string }, job: JobJson): RunInfo {
  const raw = (job.config ?? {}) as Record<string, unknown>;
  const config: Record<string, string | number | boolean | null> = { experiment: experiment.name || experiment.id };
  for (const [k, v] of Object.entries(raw)) {
    if (HIDDEN.has(k)) continue;
    // agent settings by their own names (lr, gamma, …), the rest under their config key
    if (k === 'agentConfig') flattenConfig(v, '', config);
    else flattenConfig(v, k, config);
  }
  config.seed = job.seed;
  return {
    id: job.id,
    experimentId: experiment.id,
    experimentName: experiment.name || experiment.id,
    index: job.index,
    seed: job.seed,
    status: job.status,
    config,
  };
}

/** Legend labels: the differing config keys (seed last, only when needed to tell runs apart). */
export function runLabels(runs: readonly RunInfo[]): { labels: Map<string, string>; keys: string[] } {
  const keys = differingKeys(runs.map((r) => r.config)).filter((k) => k !== 'seed');
  const labels = new Map<string, string>();
  for (const r of runs) labels.set(r.id, keys.length > 0 ? configLabel(r.config, keys) : '');
  const counts = new Map<string, number>();
  for (const l of labels.values()) counts.set(l, (counts.get(l) ?? 0) + 1);
  for (const r of runs) {
    const l = labels.get(r.id) as string;
    if ((counts.get(l) ?? 0) > 1 || l === '') labels.set(r.id, l ? `${l} · seed ${r.seed}` : `${r.experimentName} run ${r.index} · seed ${r.seed}`);
  }
  return { labels, keys };
}

/** A finished run's curve as the server drew it (GET …/curve): the series itself is not sent. */
interface ServerCurve {
  curve: CurvePoint[];
  /** Stored points the curve stands for. */
  points: number;
  /** The last raw value. */
  last: number | undefined;
}

class Series {
  /** Set for a finished run read as its drawn curve (then steps and values stay empty). */
  drawn?: ServerCurve;
  /** The stored points as read (typed arrays); copied to plain arrays on the first live point. */
  steps: ArrayLike<number> & Iterable<number> = new Float64Array(0);
  values: ArrayLike<number> & Iterable<number> = new Float64Array(0);
  constructor(public throughSeq: number) {}
  /** Appends in (step, seq) order: live events come in seq order, so only an earlier step moves back. */
  add(step: number, value: number): void {
    if (!Array.isArray(this.steps)) {
      this.steps = Array.from(this.steps);
      this.values = Array.from(this.values);
    }
    const steps = this.steps as number[];
    const values = this.values as number[];
    let i = steps.length;
    while (i > 0 && (steps[i - 1] as number) > step) i--;
    if (i === steps.length) {
      steps.push(step);
      values.push(value);
    } else {
      steps.splice(i, 0, step);
      values.splice(i, 0, value);
    }
  }
}

export async function fetchPoints(runId: string, metric: string): Promise<{ steps: Float64Array; values: Float64Array; throughSeq: number }> {
  const res = await fetch(`/api/runs/${enc(runId)}/metrics/${enc(metric)}/points`);
  if (!res.ok) throw new Error(`points of ${runId} ${metric}: HTTP ${res.status}`);
  const n = Number(res.headers.get('x-points'));
  const all = new Float64Array(await res.arrayBuffer());
  return { steps: all.subarray(0, n), values: all.subarray(n, 2 * n), throughSeq: Number(res.headers.get('x-through-seq')) };
}

/** Run ids per batched request (keeps the URL well under Node's 16 kB header limit). */
export const RUNS_PER_REQUEST = 100;

/**
 * Finished runs' drawn curves computed by the server from their full stored series (experiments/curves.ts
 * `drawnCurve(steps, values, ema, maxPoints)`, the function `draw` applies to a live run's points), in
 * one request per 100 runs (GET /api/curves): ≈ 19 kB instead of 1.6 MB per 10^5-point run.
 */
export async function fetchCurves(runIds: readonly string[], metric: string, ema: number, maxPoints: number): Promise<Map<string, ServerCurve & { throughSeq: number }>> {
  const out = new Map<string, ServerCurve & { throughSeq: number }>();
  const chunks: string[][] = [];
  for (let i = 0; i < runIds.length; i += RUNS_PER_REQUEST) chunks.push(runIds.slice(i, i + RUNS_PER_REQUEST));
  await Promise.all(
    chunks.map(async (chunk) => {
      const res = await fetch(`/api/curves?metric=${enc(metric)}&ema=${ema}&maxPoints=${maxPoints}&runs=${chunk.map(enc).join(',')}`);
      if (!res.ok) throw new Error(`curves of ${chunk.length} runs, ${metric}: HTTP ${res.status}`);
      const bytes = await res.arrayBuffer();
      const metaLength = new DataView(bytes).getUint32(0, true);
      const meta = JSON.parse(new TextDecoder().decode(new Uint8Array(bytes, 4, metaLength))) as {
        run: string;
        points: number;
        drawn: number;
        last: number | null;
        throughSeq: number;
      }[];
      let at = 8 * Math.ceil((4 + metaLength) / 8);
      for (const c of meta) {
        const m = c.drawn;
        const all = new Float64Array(bytes, at, 4 * m);
        at += 32 * m;
        const curve: CurvePoint[] = new Array(m);
        for (let i = 0; i < m; i++) curve[i] = { step: all[i] as number, value: all[m + i] as number, min: all[2 * m + i] as number, max: all[3 * m + i] as number };
        out.set(c.run, { curve, points: c.points, last: c.last ?? undefined, throughSeq: c.throughSeq });
      }
    }),
  );
  return out;
}

/** Job statuses after which a run's series no longer changes. */
const SETTLED = new Set(['finished', 'failed', 'cancelled']);

export interface ComparisonOptions {
  metric: string;
  /** EMA weight in [0, 1). */
  ema: number;
  /** Config key to group by (mean ± sd across the runs sharing its value), or undefined: each run. */
  groupBy?: string;
  /** With groupBy: also draw each run thinly. */
  showRuns?: boolean;
  title?: string;
  height?: number;
  /** Points drawn per run at most (after smoothing). */
  maxPoints?: number;
  /** Called after every redraw with the number of stored + live points held. */
  onPoints?: (points: number) => void;
  /** A status message of an experiment with live runs (job statuses included); run statuses are updated before. */
  onStatus?: (message: StatusMessage) => void;
}

export interface RunSummary {
  run: RunInfo;
  label: string;
  points: number;
  last?: number;
  smoothedLast?: number;
  best?: number;
  worst?: number;
}

export interface Comparison {
  /** The drawn curve per run (what a test compares live vs reload). */
  curves(): Map<string, CurvePoint[]>;
  summaries(): RunSummary[];
  labels: Map<string, string>;
  keys: string[];
  /**
   * Another EMA weight on the same chart: finished runs' curves asked of the server again, the others
   * smoothed here, the same vega view given the new rows and title (no new spec).
   */
  setEma(ema: number): Promise<void>;
  close(): void;
}

/**
 * Band rows split into contiguous pieces where every seed of the group has reached the step (solid)
 * or only some have (dashed, at the leading edge); a boundary point belongs to both pieces so the
 * line is unbroken.
 */
function bandPieces(points: readonly GroupPoint[]): object[] {
  const rows: object[] = [];
  let piece = 0;
  let prev: GroupPoint | undefined;
  for (const p of points) {
    if (prev && (prev.group !== p.group || prev.complete !== p.complete)) {
      piece++;
      if (prev.group === p.group) rows.push(bandRow(prev, piece, p.complete));
    }
    rows.push(bandRow(p, piece, p.complete));
    prev = p;
  }
  return rows;
}

const bandRow = (p: GroupPoint, piece: number, complete: boolean) => ({
  ...p,
  label: p.group,
  piece: `${p.group}#${piece}`,
  seeds: complete ? 'every seed' : 'seeds that reached the step',
});

const nice = (metric: string) =>
  metric
    .replace(/^episode\.metrics\./, '')
    .replace(/^episode\.return$/, 'episode return')
    .replace(/^eval\.meanReturn$/, 'greedy evaluation (mean return)');

const TITLE_SIGNAL = 'chartTitle';

const comparisonTitle = (o: ComparisonOptions, ema: number, grouped: boolean, colorTitle: string) =>
  o.title ?? `${nice(o.metric)}${ema > 0 ? ` (EMA ${ema})` : ''}${grouped ? ` — mean ± sd by ${colorTitle}` : ''}`;

function overlaySpec(o: ComparisonOptions, grouped: boolean, colorTitle: string, domain: string[]): TopLevelSpec {
  const x = { field: 'step', type: 'quantitative' as const, title: 'env steps', axis: { format: '~s', tickCount: 8 }, scale: { zero: true } };
  // ',.4~r': a one-point chart gets '10,000', not '10,000.000000'
  const y = { type: 'quantitative' as const, title: nice(o.metric), scale: { zero: false }, axis: { format: ',.4~r' } };
  const color = {
    field: 'label',
    type: 'nominal' as const,
    title: colorTitle,
    scale: { domain },
    legend: { orient: 'bottom' as const, columns: 1, labelLimit: 1200, symbolType: 'stroke', symbolOpacity: 1, symbolStrokeWidth: 2 },
  };
  const layer: object[] = [];
  if (grouped) {
    layer.push({ data: { name: 'bands' }, mark: { type: 'area', opacity: 0.2 }, encoding: { x, y: { ...y, field: 'lo' }, y2: { field: 'hi' }, color } });
    if (o.showRuns)
      layer.push({
        data: { name: 'curves' },
        mark: { type: 'line', strokeWidth: 0.7, opacity: 0.45, aria: false },
        encoding: { x, y: { ...y, field: 'value' }, color, detail: { field: 'run', type: 'nominal' } },
      });
    layer.push({
      data: { name: 'bands' },
      mark: { type: 'line', strokeWidth: 2 },
      encoding: {
        x,
        y: { ...y, field: 'mean' },
        color,
        detail: { field: 'piece', type: 'nominal' },
        strokeDash: {
          field: 'seeds',
          type: 'nominal',
          scale: {
            domain: ['every seed', 'seeds that reached the step'],
            range: [
              [1, 0],
              [4, 3],
            ],
          },
          legend: { orient: 'bottom', title: 'mean over' },
        },
        tooltip: [
          { field: 'label' },
          { field: 'step', format: ',' },
          { field: 'mean', format: '.4~g' },
          { field: 'sd', format: '.3~g' },
          { field: 'n', title: 'seeds' },
        ],
      },
    });
  } else {
    layer.push({
      data: { name: 'curves' },
      // aria: false — no per-point ARIA description (vega-lite formats each point's step and value
      // into one at every encode: ≈ 40 ms of a 20 × 600-point draw); the chart keeps its own
      mark: { type: 'line', strokeWidth: 1.6, aria: false },
      encoding: {
        x,
        y: { ...y, field: 'value' },
        color,
        detail: { field: 'run', type: 'nominal' },
        // the run only: a line is one SVG path whose tooltip is its first point's, so a formatted step and
        // value per point (two d3-format calls on each of 20 × 600 points at every encode, ≈ 80 ms of a
        // 20-run draw) showed the first point's numbers wherever the line was hovered
        tooltip: [{ field: 'label' }],
      },
    });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    // the title is a signal, so another EMA weight changes it on the same view
    params: [{ name: TITLE_SIGNAL, value: comparisonTitle(o, o.ema, grouped, colorTitle) }],
    title: { text: { expr: TITLE_SIGNAL } },
    width: 'container',
    height: o.height ?? 260,
    layer,
  } as TopLevelSpec;
}

/**
 * Mounts the overlay chart of `metric` for `runs` into `el` and keeps it live. The chart is created
 * on the first point (an empty chart would warn about infinite extents).
 */
export async function mountComparison(el: HTMLElement, runs: readonly RunInfo[], o: ComparisonOptions, signal: AbortSignal): Promise<Comparison> {
  const { labels, keys } = runLabels(runs);
  const groupOf = (r: RunInfo) =>
    o.groupBy
      ? o.groupBy === '*'
        ? configLabel(
            r.config,
            keys.filter((k) => k !== 'seed'),
          ) || 'all runs'
        : `${o.groupBy}=${formatValue(r.config[o.groupBy])}`
      : (labels.get(r.id) as string);
  const series = new Map<string, Series>();
  const maxPoints = o.maxPoints ?? 1000;
  let ema = o.ema;
  // A settled run is read as the curve the server draws from its full series; a live run (whose events
  // keep coming) as its full series, and so is every run of a grouped chart (the bands need each run's
  // smoothed value at any step).
  const serverDrawn = (r: RunInfo) => !o.groupBy && SETTLED.has(r.status);
  performance.mark('compare:fetch');
  const [curves, fetched] = await Promise.all([
    fetchCurves(
      runs.filter(serverDrawn).map((r) => r.id),
      o.metric,
      ema,
      maxPoints,
    ),
    Promise.all(runs.filter((r) => !serverDrawn(r)).map((r) => fetchPoints(r.id, o.metric).then((p) => [r, p] as const))),
  ]);
  for (const r of runs) {
    const c = curves.get(r.id);
    if (!c) continue;
    const s = new Series(c.throughSeq);
    s.drawn = c;
    series.set(r.id, s);
  }
  for (const [r, p] of fetched) {
    const s = new Series(p.throughSeq);
    s.steps = p.steps;
    s.values = p.values;
    series.set(r.id, s);
  }
  performance.mark('compare:fetched');
  const domain = [...new Set(runs.map(groupOf))];
  const colorTitle = o.groupBy ? (o.groupBy === '*' ? 'config' : o.groupBy) : keys.length ? keys.join(' · ') : 'run';
  let view: View | undefined;
  let drawn = new Map<string, CurvePoint[]>();
  let mounting: Promise<void> | undefined;
  const draw = async () => {
    drawn = new Map();
    const curveRows: object[] = [];
    const bandInput: { group: string; steps: ArrayLike<number>; smoothed: Float64Array }[] = [];
    let points = 0;
    for (const r of runs) {
      const s = series.get(r.id) as Series;
      let curve: CurvePoint[];
      if (s.drawn) {
        points += s.drawn.points;
        curve = s.drawn.curve;
      } else {
        points += s.steps.length;
        const smoothed = emaSmooth(s.values, ema);
        curve = thin(s.steps, smoothed, s.values, maxPoints); // = drawnCurve(steps, values, ema, maxPoints)
        if (o.groupBy) bandInput.push({ group: groupOf(r), steps: s.steps, smoothed });
      }
      drawn.set(r.id, curve);
      const label = groupOf(r);
      if (!o.groupBy || o.showRuns) for (const p of curve) curveRows.push({ run: r.id, label, step: p.step, value: p.value });
    }
    const bandRows = o.groupBy ? bandPieces(groupBands(bandInput)) : [];
    performance.mark('compare:curves');
    el.dataset.points = String(points);
    o.onPoints?.(points);
    if (points === 0) {
      if (!view) el.replaceChildren(h('p', { class: 'muted', text: `No ${nice(o.metric)} points yet.` }));
      return;
    }
    if (!view) {
      el.replaceChildren();
      const spec = overlaySpec(o, !!o.groupBy, colorTitle, domain);
      (spec as { datasets?: object }).datasets = { curves: curveRows, bands: bandRows };
      view = await mount(el, spec);
      performance.mark('compare:drawn');
      return;
    }
    const v = view;
    v.signal(TITLE_SIGNAL, comparisonTitle(o, ema, !!o.groupBy, colorTitle));
    // only the datasets the spec draws exist in the view (grouped without seeds has no 'curves')
    if (!o.groupBy || o.showRuns)
      v.change(
        'curves',
        changeset()
          .remove(() => true)
          .insert(curveRows),
      );
    if (o.groupBy)
      v.change(
        'bands',
        changeset()
          .remove(() => true)
          .insert(bandRows),
      );
    await v.runAsync();
  };
  await draw();

  // Live: experiments with unfinished runs stream their events after the seq each run was read through.
  const subs: Subscription[] = [];
  // Redraws are spaced by four times the last redraw's duration (30–500 ms; leading edge: a lone
  // event is drawn at once), so small runs are drawn within a frame or two and 10^6-point runs do not
  // redraw back to back; `twinlab:chart` fires once the messages that changed this chart are drawn on
  // it (bench/server.ts times it).
  let pending = false;
  let lastDraw = 0;
  let gap = 30;
  let drawnMessages: EventMessage[] = [];
  const schedule = () => {
    if (pending || signal.aborted) return;
    pending = true;
    setTimeout(
      () => {
        pending = false;
        const detail = drawnMessages;
        drawnMessages = [];
        lastDraw = Date.now();
        mounting = (mounting ?? Promise.resolve())
          .then(draw)
          .then(() => {
            gap = Math.min(500, Math.max(30, 4 * (Date.now() - lastDraw)));
            window.dispatchEvent(new CustomEvent('twinlab:chart', { detail }));
          })
          .catch((error: unknown) => {
            if (!signal.aborted) console.error('twinlab: redraw failed', error);
          });
      },
      Math.max(0, gap - (Date.now() - lastDraw)),
    );
  };
  const byExperiment = new Map<string, RunInfo[]>();
  for (const r of runs)
    if (r.status === 'running' || r.status === 'pending') byExperiment.set(r.experimentId, [...(byExperiment.get(r.experimentId) ?? []), r]);
  for (const [experimentId, list] of byExperiment) {
    const ids = new Set(list.map((r) => r.id));
    const after = Math.min(...list.map((r) => (series.get(r.id) as Series).throughSeq));
    const sub = await followExperiment(
      experimentId,
      (messages: EventMessage[]) => {
        let changed = false;
        for (const m of messages) {
          if (!m.jobId || !ids.has(m.jobId)) continue;
          const s = series.get(m.jobId) as Series;
          if (m.seq <= s.throughSeq) continue;
          const v = eventMetric(m.event, o.metric);
          if (v === undefined) continue;
          s.add(Number.isFinite(m.event.step) ? m.event.step : 0, v);
          changed = true;
        }
        if (changed) {
          drawnMessages.push(...messages);
          schedule();
        }
      },
      (m) => {
        for (const r of runs) {
          const job = m.jobs.find((j) => j.id === r.id);
          if (job) (r as { status: string }).status = job.status;
        }
        o.onStatus?.(m);
      },
      { afterSeq: after },
    );
    subs.push(sub);
  }
  const close = () => {
    for (const s of subs) s.close();
  };
  signal.addEventListener('abort', close);

  const setEma = (weight: number): Promise<void> => {
    const next = (mounting ?? Promise.resolve()).then(async () => {
      const settled = runs.filter((r) => (series.get(r.id) as Series).drawn !== undefined).map((r) => r.id);
      const again = await fetchCurves(settled, o.metric, weight, maxPoints);
      for (const [id, c] of again) (series.get(id) as Series).drawn = c;
      ema = weight;
      await draw();
    });
    mounting = next.catch(() => undefined);
    return next;
  };

  return {
    curves: () => drawn,
    labels,
    keys,
    setEma,
    close,
    summaries: () =>
      runs.map((r) => {
        const s = series.get(r.id) as Series;
        const curve = drawn.get(r.id) ?? [];
        let best: number | undefined;
        let worst: number | undefined;
        // a server-drawn curve's bucket minima and maxima cover every raw value
        for (const v of s.drawn ? curve.map((p) => p.max) : s.values) if (best === undefined || v > best) best = v;
        for (const v of s.drawn ? curve.map((p) => p.min) : s.values) if (worst === undefined || v < worst) worst = v;
        return {
          run: r,
          label: labels.get(r.id) as string,
          points: s.drawn ? s.drawn.points : s.steps.length,
          last: s.drawn ? s.drawn.last : s.values[s.values.length - 1],
          smoothedLast: curve[curve.length - 1]?.value,
          best,
          worst,
        };
      }),
  };
}

// ---- hyperparameter table and parallel coordinates ------------------------------------------------

export type SortKey = string;

const METRIC_COLS: Record<string, true> = { points: true, 'final (smoothed)': true, best: true };

/** Sortable table: run, status, the differing keys, points and final metrics. `sort` is a column name, `-name` descending. */
export function hparamTable(
  summaries: readonly RunSummary[],
  keys: readonly string[],
  metric: string,
  sort: string | undefined,
  onSort: (sort: string) => void,
): HTMLTableElement {
  const cols: { name: string; num: boolean; get: (s: RunSummary) => unknown }[] = [
    { name: 'run', num: false, get: (s) => s.label },
    { name: 'status', num: false, get: (s) => s.run.status },
    ...keys.map((k) => ({
      name: k,
      num: summaries.every((s) => typeof s.run.config[k] === 'number' || s.run.config[k] === null),
      get: (s: RunSummary) => s.run.config[k],
    })),
    { name: 'seed', num: true, get: (s) => s.run.seed },
    { name: 'points', num: true, get: (s) => s.points },
    { name: `final ${metric}`, num: true, get: (s) => s.last },
    { name: 'final (smoothed)', num: true, get: (s) => s.smoothedLast },
    { name: 'best', num: true, get: (s) => s.best },
  ];
  const desc = sort?.startsWith('-') ?? false;
  const by = sort?.replace(/^-/, '');
  const col = cols.find((c) => c.name === by);
  const rows = [...summaries];
  if (col) {
    rows.sort((a, b) => {
      const x = col.get(a);
      const y = col.get(b);
      if (x === undefined || x === null) return 1;
      if (y === undefined || y === null) return -1;
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return desc ? -c : c;
    });
  }
  const head = h(
    'tr',
    {},
    ...cols.map((c) => {
      const th = h('th', { 'data-col': c.name, class: c.num ? 'num sortable' : 'sortable', title: 'sort' }, c.name, c.name === by ? (desc ? ' ▼' : ' ▲') : '');
      th.addEventListener('click', () => onSort(c.name === by && !desc ? `-${c.name}` : c.name));
      return th;
    }),
  );
  return h(
    'table',
    { id: 'hparams' },
    head,
    ...rows.map((s) =>
      h(
        'tr',
        { 'data-run': s.run.id },
        ...cols.map((c) =>
          h('td', { class: c.num ? 'num' : '', text: c.name in METRIC_COLS || c.name === `final ${metric}` ? fmt(c.get(s)) : formatValue(c.get(s)) }),
        ),
      ),
    ),
  );
}

/**
 * Parallel coordinates: one axis per differing config key and one for the final smoothed metric, each
 * scaled to its own [min, max] (categorical keys by their sorted values); one line per run, coloured
 * by the final metric. Normalisation is done here, so the spec has no empty or zero-width extents.
 */
export function parallelSpec(summaries: readonly RunSummary[], keys: readonly string[], metric: string): TopLevelSpec | undefined {
  const finalKey = `final ${nice(metric)}`;
  const axes = [...keys.filter((k) => k !== 'seed'), finalKey];
  const value = (s: RunSummary, k: string): unknown => (k === finalKey ? s.smoothedLast : s.run.config[k]);
  const lines: object[] = [];
  const ticks: object[] = [];
  for (const k of axes) {
    const vals = summaries.map((s) => value(s, k)).filter((v) => v !== undefined && v !== null);
    if (vals.length === 0) continue;
    const numeric = vals.every((v) => typeof v === 'number');
    const cats = numeric ? [] : [...new Set(vals.map((v) => formatValue(v)))].sort();
    const nums = vals as number[];
    const lo = numeric ? Math.min(...nums) : 0;
    const hi = numeric ? Math.max(...nums) : cats.length - 1;
    const norm = (v: unknown) => {
      const x = numeric ? (v as number) : cats.indexOf(formatValue(v));
      return hi > lo ? (x - lo) / (hi - lo) : 0.5;
    };
    for (const s of summaries) {
      const v = value(s, k);
      if (v === undefined || v === null) continue;
      lines.push({ run: s.label, axis: k, y: norm(v), value: formatValue(v), final: s.smoothedLast ?? null });
    }
    if (numeric) {
      ticks.push({ axis: k, y: 1, text: formatValue(hi) }, { axis: k, y: 0, text: hi > lo ? formatValue(lo) : '' });
    } else cats.forEach((c) => ticks.push({ axis: k, y: norm(cats.length === 1 ? c : c), text: c, cat: true }));
  }
  if (lines.length === 0) return undefined;
  const x = {
    field: 'axis',
    type: 'nominal' as const,
    sort: axes,
    title: null,
    axis: { orient: 'bottom' as const, labelAngle: 0, labelLimit: 160, labelPadding: 10, domain: false, ticks: false, labelFontWeight: 'bold' as const },
  };
  const y = { field: 'y', type: 'quantitative' as const, axis: null, scale: { domain: [0, 1] } };
  const hasFinal = summaries.some((s) => s.smoothedLast !== undefined);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Parallel coordinates (each axis scaled to its range)', anchor: 'start' },
    width: 'container',
    height: 220,
    datasets: { lines, ticks, axes: axes.map((axis) => ({ axis, y0: 0, y1: 1 })) },
    layer: [
      { data: { name: 'axes' }, mark: { type: 'rule', color: '#cbd5e1' }, encoding: { x, y: { ...y, field: 'y0' }, y2: { field: 'y1' } } },
      {
        data: { name: 'lines' },
        mark: { type: 'line', strokeWidth: 1.8, opacity: 0.8 },
        encoding: {
          x,
          y,
          detail: { field: 'run', type: 'nominal' },
          color: hasFinal ? { field: 'final', type: 'quantitative', title: finalKey, scale: { scheme: 'viridis' } } : { value: '#2563eb' },
          tooltip: [{ field: 'run' }, { field: 'axis' }, { field: 'value' }],
        },
      },
      { data: { name: 'ticks' }, mark: { type: 'text', align: 'left', dx: 4, fontSize: 10, color: '#475569' }, encoding: { x, y, text: { field: 'text' } } },
    ],
  } as TopLevelSpec;
}
