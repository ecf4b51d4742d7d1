import type { TopLevelSpec } from 'vega-lite';
import type { TrialAnalysis } from './trial-analysis.js';

/**
 * Vega-Lite spec builders shared by the reports (rendered to SVG in Node, see report.ts) and the
 * browser viewer (rendered by vega-embed). Pure data → spec functions with no Node imports. Each spec
 * keeps its rows in a named dataset (`datasets[name]`, `data: { name }`), so a live view can stream
 * rows with `view.change(name, vega.changeset().insert(rows))`.
 */

const WIDTH = 560;

// ---- glucose percentile bands ----------------------------------------------------------------

export interface PercentileBin {
  /** Bin centre, hours since midnight (0–24). */
  t: number;
  p10: number;
  p25: number;
  p50: number;
  p75: number;
  p90: number;
}

export interface ArmBands {
  arm: string;
  bins: PercentileBin[];
}

/**
 * Per-arm percentile bands by time of day from raw samples: samples are grouped by arm and by
 * `binHours`-wide bins of the hour of day (t mod 24), and each bin gets its type-7 10/25/50/75/90th
 * percentiles. Bins without samples are omitted.
 */
export function percentileBands(samples: readonly { arm: string; hour: number; value: number }[], binHours = 1): ArmBands[] {
  const byArm = new Map<string, Map<number, number[]>>();
  for (const s of samples) {
    if (!Number.isFinite(s.value) || !Number.isFinite(s.hour)) continue;
    const hour = ((s.hour % 24) + 24) % 24;
    const bin = Math.min(Math.floor(hour / binHours), Math.ceil(24 / binHours) - 1);
    let bins = byArm.get(s.arm);
    if (bins === undefined) {
      bins = new Map();
      byArm.set(s.arm, bins);
    }
    const values = bins.get(bin);
    if (values === undefined) bins.set(bin, [s.value]);
    else values.push(s.value);
  }
  const q = (sorted: number[], p: number): number => {
    const h = (sorted.length - 1) * p;
    const lo = Math.floor(h);
    const hi = Math.min(sorted.length - 1, lo + 1);
    return (sorted[lo] as number) + (h - lo) * ((sorted[hi] as number) - (sorted[lo] as number));
  };
  return [...byArm].map(([arm, bins]) => ({
    arm,
    bins: [...bins]
      .sort((a, b) => a[0] - b[0])
      .map(([bin, values]) => {
        const sorted = values.sort((a, b) => a - b);
        return { t: (bin + 0.5) * binHours, p10: q(sorted, 0.1), p25: q(sorted, 0.25), p50: q(sorted, 0.5), p75: q(sorted, 0.75), p90: q(sorted, 0.9) };
      }),
  }));
}

/**
 * Glucose by time of day per arm: p10–p90 band (light), p25–p75 band (darker), median line, and the
 * target-range rules (default 70–180 mg/dL, the consensus time-in-range target: Battelino et al. 2019,
 * Diabetes Care 42:1593).
 */
export function glucoseBandsSpec(bands: readonly ArmBands[], options: { title?: string; unit?: string; target?: [number, number] } = {}): TopLevelSpec {
  const rows = bands.flatMap((b) => b.bins.map((bin) => ({ arm: b.arm, ...bin })));
  const target = options.target ?? [70, 180];
  const unit = options.unit ?? 'mg/dL';
  const x = {
    field: 't',
    type: 'quantitative' as const,
    title: 'Time of day (h)',
    scale: { domain: [0, 24] },
    axis: { values: [0, 3, 6, 9, 12, 15, 18, 21, 24] },
  };
  const color = { field: 'arm', type: 'nominal' as const, title: 'Arm' };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: options.title ?? 'Glucose by time of day (median, IQR, 10–90th percentile)',
    width: WIDTH,
    height: 280,
    datasets: { bands: rows, target: target.map((y) => ({ y })) },
    layer: [
      {
        data: { name: 'bands' },
        mark: { type: 'area', opacity: 0.15 },
        encoding: { x, y: { field: 'p10', type: 'quantitative', title: `Glucose (${unit})` }, y2: { field: 'p90' }, color },
      },
      {
        data: { name: 'bands' },
        mark: { type: 'area', opacity: 0.3 },
        encoding: { x, y: { field: 'p25', type: 'quantitative' }, y2: { field: 'p75' }, color },
      },
      { data: { name: 'bands' }, mark: { type: 'line', strokeWidth: 2 }, encoding: { x, y: { field: 'p50', type: 'quantitative' }, color } },
      { data: { name: 'target' }, mark: { type: 'rule', strokeDash: [4, 4], color: '#555' }, encoding: { y: { field: 'y', type: 'quantitative' } } },
    ],
  };
}

// ---- forest plot -----------------------------------------------------------------------------

export interface ForestRow {
  /** Endpoint label with its unit, e.g. "Time in range 70–180 mg/dL (%)". */
  endpoint: string;
  /** The endpoint's unit ('' when it has none); panels group endpoints by unit. */
  unit?: string;
  /** Comparison, e.g. "dqn − basal-bolus". */
  comparison: string;
  estimate: number;
  lower: number;
  upper: number;
  safety?: boolean;
  primary?: boolean;
  favours?: 'arm' | 'reference' | 'neither' | 'n/a';
}

/**
 * Forest rows from a trial analysis: one per (endpoint, arm ≠ reference) with a CI — primary endpoints
 * first, then the others in the analysis order (safety, then the rest as declared).
 */
export function forestRowsFromTrial(trial: TrialAnalysis): ForestRow[] {
  const rows: ForestRow[] = [];
  const endpoints = [...trial.endpoints.filter((e) => e.primary), ...trial.endpoints.filter((e) => !e.primary)];
  for (const e of endpoints) {
    const tags = [e.primary ? 'primary' : '', e.safety ? 'safety' : ''].filter(Boolean).join(', ');
    const label = `${e.label}${e.unit ? ` (${e.unit})` : ''}${tags ? ` [${tags}]` : ''}`;
    for (const c of e.comparisons) {
      if (c.ci === null || c.meanDifference === null) continue;
      rows.push({
        endpoint: label,
        unit: e.unit || (e.kind === 'binary' ? 'risk difference' : ''),
        comparison: `${c.arm} − ${c.reference}`,
        estimate: c.meanDifference,
        lower: c.ci.lower,
        upper: c.ci.upper,
        safety: e.safety,
        primary: e.primary,
        favours: c.favours,
      });
    }
  }
  return rows;
}

const FAVOURS_DOMAIN = ['arm', 'reference', 'neither', 'n/a'];
const FAVOURS_RANGE = ['#2e7d32', '#c62828', '#555555', '#1565c0'];

/**
 * Forest plot of paired differences (arm − reference) with their CIs: one row per endpoint (and
 * comparison, when there are several arms) with its full label, in the order given (primary first);
 * one panel per unit, so each x axis is titled with the difference's unit; a dashed rule at 0.
 */
export function forestPlotSpec(rows: readonly ForestRow[], options: { title?: string; level?: number } = {}): TopLevelSpec {
  const comparisons = new Set(rows.map((r) => r.comparison));
  const data = rows.map((r, i) => ({
    ...r,
    unit: r.unit ?? '',
    panel: r.unit ? r.unit : 'no unit',
    favours: r.favours ?? 'neither',
    row: comparisons.size > 1 ? `${r.endpoint} · ${r.comparison}` : r.endpoint,
    order: i,
  }));
  const units: string[] = [];
  for (const r of data) if (!units.includes(r.panel)) units.push(r.panel);
  const color = { field: 'favours', type: 'nominal' as const, title: 'Favours', scale: { domain: FAVOURS_DOMAIN, range: FAVOURS_RANGE } };
  const pct = Math.round((options.level ?? 0.95) * 100);
  const only = comparisons.size === 1 ? ` ${[...comparisons][0]}` : ' arm − reference';
  const panels = units.map((unit) => {
    const panelRows = data.filter((r) => r.panel === unit);
    const y = {
      field: 'row',
      type: 'nominal' as const,
      title: null,
      sort: panelRows.map((r) => r.row),
      axis: { labelLimit: 1000, labelFontSize: 11 },
    };
    // The domain always includes 0, so the zero rule is on screen and no extent is empty.
    const lo = Math.min(0, ...panelRows.map((r) => r.lower));
    const hi = Math.max(0, ...panelRows.map((r) => r.upper));
    const pad = (hi - lo) * 0.05 || 1;
    const x = {
      type: 'quantitative' as const,
      title: `Difference,${only} (${unit})`,
      scale: { domain: [lo - pad, hi + pad], nice: false, zero: false },
    };
    return {
      width: 360,
      height: { step: 22 },
      transform: [{ filter: { field: 'panel', equal: unit } }],
      layer: [
        { mark: { type: 'rule' as const, strokeDash: [4, 4], color: '#888' }, encoding: { x: { datum: 0, ...x } } },
        { mark: { type: 'rule' as const, strokeWidth: 2 }, encoding: { y, x: { field: 'lower', ...x }, x2: { field: 'upper' }, color } },
        {
          mark: { type: 'point' as const, filled: true, size: 60 },
          encoding: {
            y,
            x: { field: 'estimate', ...x },
            color,
            tooltip: [{ field: 'row' }, { field: 'estimate', format: '.3~g' }, { field: 'lower', format: '.3~g' }, { field: 'upper', format: '.3~g' }, { field: 'favours' }],
          },
        },
      ],
    };
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: options.title ?? `Paired differences vs reference (mean, ${pct}% bootstrap CI)`,
    datasets: { forest: data },
    data: { name: 'forest' },
    vconcat: panels,
    resolve: { scale: { x: 'independent', y: 'independent' } },
  } as TopLevelSpec;
}

// ---- CVGA ------------------------------------------------------------------------------------

export const CVGA_ZONES = ['A', 'Lower B', 'Upper B', 'B', 'Lower C', 'Upper C', 'Lower D', 'Upper D', 'E'] as const;
export type CvgaZone = (typeof CVGA_ZONES)[number];

const CVGA_X = [110, 90, 70, 50]; // minimum BG axis, mg/dL, drawn left to right (reversed)
const CVGA_Y = [110, 180, 300, 400]; // maximum BG axis, mg/dL
const ZONE_GRID: CvgaZone[][] = [
  ['A', 'Lower B', 'Lower C'],
  ['Upper B', 'B', 'Lower D'],
  ['Upper C', 'Upper D', 'E'],
];

/**
 * Control-variability grid analysis zone (Magni et al. 2008, J Diabetes Sci Technol 2:630): columns by
 * minimum BG (≥ 90 | 70–90 | < 70 mg/dL), rows by maximum BG (≤ 180 | 180–300 | > 300 mg/dL).
 */
export function cvgaZone(minBG: number, maxBG: number): CvgaZone {
  const col = minBG >= 90 ? 0 : minBG >= 70 ? 1 : 2;
  const row = maxBG <= 180 ? 0 : maxBG <= 300 ? 1 : 2;
  return (ZONE_GRID[row] as CvgaZone[])[col] as CvgaZone;
}

/** Piecewise-linear position (0–3) on a CVGA axis: each zone band gets the same width; values clipped to the axis ends. */
export function cvgaPosition(value: number, ticks: number[]): number {
  const first = ticks[0] as number;
  const last = ticks[ticks.length - 1] as number;
  const v = Math.min(Math.max(value, Math.min(first, last)), Math.max(first, last));
  for (let i = 0; i < ticks.length - 1; i++) {
    const a = ticks[i] as number;
    const b = ticks[i + 1] as number;
    if ((v - a) * (v - b) <= 0) return i + (v - a) / (b - a);
  }
  return 0;
}

export interface CvgaPoint {
  arm: string;
  patient: string | number;
  minBG: number;
  maxBG: number;
}

/**
 * CVGA scatter (Magni et al. 2008): x = minimum BG on a reversed axis 110 → 50 mg/dL, y = maximum BG
 * 110 → 400 mg/dL, both piecewise linear so the nine zones are equal squares; values beyond the axis
 * ends are clipped onto the border, as in the paper.
 */
export function cvgaSpec(points: readonly CvgaPoint[], options: { title?: string } = {}): TopLevelSpec {
  const colors: Record<string, string> = { A: '#1b7837', B: '#7fbf7b', C: '#fee08b', D: '#fdae61', E: '#d73027' };
  const zones: { x: number; x2: number; y: number; y2: number; zone: string; fill: string }[] = [];
  for (let row = 0; row < 3; row++) {
    for (let col = 0; col < 3; col++) {
      const zone = (ZONE_GRID[row] as CvgaZone[])[col] as CvgaZone;
      zones.push({ x: col, x2: col + 1, y: row, y2: row + 1, zone, fill: colors[zone.slice(-1)] as string });
    }
  }
  const rows = points.map((p) => ({
    ...p,
    zone: cvgaZone(p.minBG, p.maxBG),
    x: cvgaPosition(p.minBG, CVGA_X),
    y: cvgaPosition(p.maxBG, CVGA_Y),
  }));
  const xScale = { domain: [0, 3], nice: false, zero: false };
  const yScale = { domain: [0, 3], nice: false, zero: false };
  const xAxis = { values: [0, 1, 2, 3], labelExpr: `[${CVGA_X.join(',')}][datum.value]`, title: 'Minimum BG (mg/dL)', grid: false };
  const yAxis = { values: [0, 1, 2, 3], labelExpr: `[${CVGA_Y.join(',')}][datum.value]`, title: 'Maximum BG (mg/dL)', grid: false };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: options.title ?? 'Control-variability grid analysis (Magni et al. 2008)',
    width: 360,
    height: 360,
    datasets: { zones, cvga: rows },
    layer: [
      {
        data: { name: 'zones' },
        mark: { type: 'rect', opacity: 0.55, stroke: 'white' },
        encoding: {
          x: { field: 'x', type: 'quantitative', scale: xScale, axis: xAxis },
          x2: { field: 'x2' },
          y: { field: 'y', type: 'quantitative', scale: yScale, axis: yAxis },
          y2: { field: 'y2' },
          fill: { field: 'fill', type: 'nominal', scale: null },
        },
      },
      {
        data: { name: 'zones' },
        transform: [
          { calculate: '(datum.x + datum.x2) / 2', as: 'cx' },
          { calculate: 'datum.y2 - 0.12', as: 'cy' },
        ],
        mark: { type: 'text', fontSize: 11, color: '#333' },
        encoding: { x: { field: 'cx', type: 'quantitative' }, y: { field: 'cy', type: 'quantitative' }, text: { field: 'zone' } },
      },
      {
        data: { name: 'cvga' },
        mark: { type: 'point', filled: true, size: 50, stroke: 'black', strokeWidth: 0.5 },
        encoding: {
          x: { field: 'x', type: 'quantitative' },
          y: { field: 'y', type: 'quantitative' },
          color: { field: 'arm', type: 'nominal', title: 'Arm' },
          shape: { field: 'arm', type: 'nominal' },
          tooltip: [{ field: 'arm' }, { field: 'patient' }, { field: 'minBG', format: '.0f' }, { field: 'maxBG', format: '.0f' }, { field: 'zone' }],
        },
      },
    ],
  };
}

// ---- learning curves -------------------------------------------------------------------------

export interface LearningRun {
  /** Run id (e.g. the job id or "seed 3"). */
  id: string;
  /** Runs with the same group (e.g. a sweep point) are averaged into one band. */
  group: string;
  steps: ArrayLike<number>;
  values: ArrayLike<number>;
}

export interface LearningSeries {
  /** Metric name, e.g. "episode.return". */
  metric: string;
  runs: LearningRun[];
}

export interface SeedBandPoint {
  group: string;
  step: number;
  mean: number;
  sd: number;
  lo: number;
  hi: number;
  n: number;
}

function interpolate(steps: ArrayLike<number>, values: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = steps.length - 1;
  if (x <= (steps[0] as number)) return values[0] as number;
  if (x >= (steps[hi] as number)) return values[hi] as number;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((steps[mid] as number) <= x) lo = mid;
    else hi = mid;
  }
  const s0 = steps[lo] as number;
  const s1 = steps[hi] as number;
  const f = s1 === s0 ? 0 : (x - s0) / (s1 - s0);
  return (values[lo] as number) + f * ((values[hi] as number) - (values[lo] as number));
}

/**
 * Seed bands: for each group, the runs are linearly interpolated onto a common grid of `points` steps
 * spanning the range every run covers, then mean ± sd (sample sd, n − 1) across runs at each grid
 * step. A group with one run gets sd 0.
 */
export function seedBands(runs: readonly LearningRun[], points = 100): SeedBandPoint[] {
  const groups = new Map<string, LearningRun[]>();
  for (const run of runs) {
    if (run.steps.length === 0) continue;
    const list = groups.get(run.group);
    if (list === undefined) groups.set(run.group, [run]);
    else list.push(run);
  }
  const out: SeedBandPoint[] = [];
  for (const [group, list] of groups) {
    const start = Math.max(...list.map((r) => r.steps[0] as number));
    const end = Math.min(...list.map((r) => r.steps[r.steps.length - 1] as number));
    if (!(end >= start)) continue;
    const k = end === start ? 1 : points;
    for (let j = 0; j < k; j++) {
      const step = k === 1 ? start : start + ((end - start) * j) / (k - 1);
      const ys = list.map((r) => interpolate(r.steps, r.values, step));
      const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
      const sd = ys.length > 1 ? Math.sqrt(ys.reduce((a, b) => a + (b - mean) ** 2, 0) / (ys.length - 1)) : 0;
      out.push({ group, step, mean, sd, lo: mean - sd, hi: mean + sd, n: ys.length });
    }
  }
  return out;
}

/** Learning curve of one metric: mean ± sd band across seeds per group, the mean line, and every seed as a thin line. */
export function learningCurveSpec(series: LearningSeries, options: { title?: string; maxPointsPerRun?: number } = {}): TopLevelSpec {
  const maxPoints = options.maxPointsPerRun ?? 400;
  const runRows: { group: string; run: string; step: number; value: number }[] = [];
  for (const run of series.runs) {
    const n = run.steps.length;
    const stride = Math.max(1, Math.ceil(n / maxPoints));
    for (let i = 0; i < n; i += stride) runRows.push({ group: run.group, run: run.id, step: run.steps[i] as number, value: run.values[i] as number });
  }
  const x = { field: 'step', type: 'quantitative' as const, title: 'Environment steps' };
  const color = { field: 'group', type: 'nominal' as const, title: 'Configuration' };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: options.title ?? `${series.metric} (mean ± sd across seeds)`,
    width: WIDTH,
    height: 240,
    datasets: { band: seedBands(series.runs), runs: runRows },
    layer: [
      {
        data: { name: 'band' },
        mark: { type: 'area', opacity: 0.2 },
        encoding: { x, y: { field: 'lo', type: 'quantitative', title: series.metric }, y2: { field: 'hi' }, color },
      },
      {
        data: { name: 'runs' },
        mark: { type: 'line', strokeWidth: 0.6, opacity: 0.4 },
        encoding: { x, y: { field: 'value', type: 'quantitative' }, color, detail: { field: 'run', type: 'nominal' } },
      },
      { data: { name: 'band' }, mark: { type: 'line', strokeWidth: 2 }, encoding: { x, y: { field: 'mean', type: 'quantitative' }, color } },
    ],
  };
}
