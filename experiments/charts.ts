import type { TopLevelSpec } from 'vega-lite';
import type { TrackClock, TrackDefinition, TwinTracks } from '../engine/twin.js';
import type { AgpProfile } from './agp.js';
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
  /** The arm's ambulatory glucose profile; when every arm has one, glucoseBandsSpec draws the AGP (agpSpec). */
  agp?: AgpProfile;
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
  if (bands.length > 0 && bands.every((b) => b.agp !== undefined)) return agpSpec(bands.map((b) => ({ name: b.arm, profile: b.agp as AgpProfile })));
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

// ---- ambulatory glucose profile -------------------------------------------------------------

/** Range colours of the consensus AGP report (Battelino et al. 2019, figure 2): very low → very high. */
const RANGE_COLORS = ['#8b0000', '#e53935', '#43a047', '#fdd835', '#fb8c00'];

/**
 * Ambulatory glucose profile, one row per profile (trial arm or person): the modal day with the
 * 5–95th (light) and 25–75th (dark) percentile bands, the median, the 70 and 180 mg/dL target lines
 * (Battelino et al., Diabetes Care 2019;42:1593), and beside it the time-in-ranges bar (< 54, 54–69,
 * 70–180, 181–250, > 250 mg/dL) with each range's percentage. Profiles come from experiments/agp.ts.
 */
export function agpSpec(profiles: readonly { name: string; profile: AgpProfile }[], options: { title?: string; width?: number } = {}): TopLevelSpec {
  const hours = [0, 3, 6, 9, 12, 15, 18, 21, 24];
  const x = {
    field: 'hour',
    type: 'quantitative' as const,
    title: 'time of day',
    scale: { domain: [0, 24], nice: false },
    axis: { values: hours, labelExpr: `${JSON.stringify(hours.map((h) => `${String(h % 24).padStart(2, '0')}:00`))}[indexof(${JSON.stringify(hours)}, datum.value)]` },
  };
  const allBins = profiles.flatMap((p) => p.profile.bins);
  const yMax = Math.max(300, ...allBins.map((b) => b.p95));
  const y = { type: 'quantitative' as const, title: 'glucose (mg/dL)', scale: { domain: [0, Math.ceil(yMax / 50) * 50], nice: false } };
  const rows = profiles.map(({ name, profile }) => {
    const bins = profile.bins.map((b) => ({ hour: b.centre / 60, p5: b.p5, p25: b.p25, p50: b.p50, p75: b.p75, p95: b.p95 }));
    const ranges = [...profile.ranges].reverse();
    const tir = ranges.map((r, i) => ({ label: `${r.label} mg/dL: ${(100 * r.fraction).toFixed(1)} %`, pos: 90 - 20 * i }));
    let top = 0;
    const segments = profile.ranges.map((r, i) => {
      const seg = { id: r.id, y: 100 * top, y2: 100 * (top + r.fraction), color: RANGE_COLORS[i] as string };
      top += r.fraction;
      return seg;
    });
    const summary = `${name}: ${profile.readings} readings · mean ${profile.mean.toFixed(0)} mg/dL · GMI ${profile.gmi.toFixed(1)} % · CV ${profile.cv.toFixed(1)} %`;
    return {
      title: { text: summary, anchor: 'start' as const, fontSize: 12 },
      hconcat: [
        {
          width: options.width ?? 480,
          height: 220,
          layer: [
            { data: { values: bins }, mark: { type: 'area', color: '#90caf9', opacity: 0.45 }, encoding: { x, y: { field: 'p5', ...y }, y2: { field: 'p95' } } },
            { data: { values: bins }, mark: { type: 'area', color: '#1565c0', opacity: 0.45 }, encoding: { x, y: { field: 'p25', ...y }, y2: { field: 'p75' } } },
            { data: { values: bins }, mark: { type: 'line', color: '#0d47a1', strokeWidth: 2 }, encoding: { x, y: { field: 'p50', ...y } } },
            { data: { values: [{ g: 70 }, { g: 180 }] }, mark: { type: 'rule', color: '#43a047', strokeDash: [4, 3] }, encoding: { y: { field: 'g', ...y } } },
          ],
        },
        {
          width: 190,
          height: 220,
          layer: [
            {
              data: { values: segments },
              mark: { type: 'rect', stroke: 'white' },
              encoding: {
                x: { value: 0 },
                x2: { value: 28 },
                y: { field: 'y', type: 'quantitative' as const, title: 'time in ranges (%)', scale: { domain: [0, 100], nice: false }, axis: { grid: false } },
                y2: { field: 'y2' },
                fill: { field: 'color', type: 'nominal' as const, scale: null },
              },
            },
            { data: { values: tir }, mark: { type: 'text', align: 'left', baseline: 'middle', fontSize: 11 }, encoding: { x: { value: 36 }, y: { field: 'pos', type: 'quantitative' as const }, text: { field: 'label' } } },
          ],
        },
      ],
    };
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: options.title ?? `Ambulatory glucose profile (median, 25–75th and 5–95th percentiles; ${profiles[0]?.profile.binMinutes ?? 15}-min bins)`,
    vconcat: rows,
    resolve: { scale: { y: 'independent' } },
  } as TopLevelSpec;
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
 * Endpoints in reading order: the primary ones first — in `primaryOrder` (the spec's
 * `endpoints.primary`, so the first declared primary endpoint leads) when given, else as analysed —,
 * then the others in the analysis order (safety, then the rest as declared).
 */
export function endpointsInOrder<E extends { id: string; primary: boolean }>(endpoints: readonly E[], primaryOrder: readonly string[] = []): E[] {
  const rank = (e: E) => {
    const i = primaryOrder.indexOf(e.id);
    return i >= 0 ? i : primaryOrder.length;
  };
  const primary = endpoints.filter((e) => e.primary);
  const ordered = primary.map((e, i) => ({ e, i })).sort((a, b) => rank(a.e) - rank(b.e) || a.i - b.i);
  return [...ordered.map((o) => o.e), ...endpoints.filter((e) => !e.primary)];
}

/**
 * Forest rows from a trial analysis: one per (endpoint, arm ≠ reference) with a CI, endpoints in
 * `endpointsInOrder` (primary first, in `primaryOrder` when given).
 */
export function forestRowsFromTrial(trial: TrialAnalysis, primaryOrder: readonly string[] = []): ForestRow[] {
  const rows: ForestRow[] = [];
  const endpoints = endpointsInOrder(trial.endpoints, primaryOrder);
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
  // legend above the panels: beside them it widened the plot past an 800 px page
  const color = {
    field: 'favours',
    type: 'nominal' as const,
    title: 'Favours',
    scale: { domain: FAVOURS_DOMAIN, range: FAVOURS_RANGE },
    legend: { orient: 'top' as const, direction: 'horizontal' as const },
  };
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
      // a difference of two percentages is in percentage points
      title: `Difference,${only} (${unit === '%' ? 'percentage points' : unit})`,
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

// ---- episode tracks ------------------------------------------------------------------------------

/** A stored step as the viewer and the reports read it (episode-log.ts / the episode API). */
export interface TrackStep {
  step: number;
  action: number | ArrayLike<number>;
  reward: number;
  observation: ArrayLike<number>;
  info: Record<string, unknown>;
}

function numeric(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return null;
}

/**
 * A track's value at a step (see TrackDefinition.field): `info.a.b` walks the info object, `obs.<label>`
 * or `obs.<index>` reads the observation, `action` the (first) action component, `reward` the reward;
 * null when absent or not a finite number (booleans read as 0/1).
 */
export function trackValue(step: TrackStep, field: string, observationLabels: readonly string[] = []): number | null {
  if (field === 'reward') return numeric(step.reward);
  if (field === 'action') return numeric(typeof step.action === 'number' ? step.action : step.action[0]);
  if (field.startsWith('obs.')) {
    const key = field.slice(4);
    const at = observationLabels.indexOf(key);
    const index = at >= 0 ? at : /^\d+$/.test(key) ? Number(key) : -1;
    return index >= 0 && index < step.observation.length ? numeric(step.observation[index]) : null;
  }
  if (field.startsWith('info.')) {
    let v: unknown = step.info;
    for (const part of field.slice(5).split('.')) {
      if (v === null || typeof v !== 'object') return null;
      v = (v as Record<string, unknown>)[part];
    }
    return numeric(v);
  }
  return null;
}

const FIELD_MINUTES = { minute: 1, hour: 60, day: 1440 } as const;

/**
 * Clock time of a stored step, minutes after midnight of day 1: the step's state is the one at the
 * end of its decision interval, so step k (0-based) is at start + (k + 1)·minutesPerStep — or the
 * declared time field when the step carries it.
 */
export function stepClockMinute(clock: TrackClock, step: TrackStep): number {
  if (clock.timeField) {
    const v = trackValue(step, clock.timeField);
    if (v !== null) return v * FIELD_MINUTES[clock.fieldUnit ?? 'minute'] + (clock.fieldIncludesStart ? 0 : clock.startMinute);
  }
  return clock.startMinute + (step.step + 1) * clock.minutesPerStep;
}

/**
 * The tracks of a twin without declarations: every numeric info field (nested objects one level deep),
 * every observation component, the action and the reward, each its own continuous track labelled by
 * its field, without unit or band (at most `max`).
 */
export function genericTracks(steps: readonly TrackStep[], observationLabels: readonly string[] = [], max = 40): TrackDefinition[] {
  const fields: string[] = [];
  const seen = new Set<string>();
  const add = (f: string) => {
    if (!seen.has(f)) {
      seen.add(f);
      fields.push(f);
    }
  };
  for (const s of steps) {
    for (const [k, v] of Object.entries(s.info ?? {})) {
      if (typeof v === 'number' && Number.isFinite(v)) add(`info.${k}`);
      else if (v && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v)) {
        for (const [k2, v2] of Object.entries(v as Record<string, unknown>)) if (typeof v2 === 'number' && Number.isFinite(v2)) add(`info.${k}.${k2}`);
      }
    }
  }
  const width = steps[0]?.observation.length ?? 0;
  for (let i = 0; i < width; i++) add(`obs.${observationLabels[i] ?? i}`);
  add('action');
  add('reward');
  return fields.slice(0, max).map((field) => ({ field, label: field, unit: '', kind: 'continuous' as const, panel: field }));
}

const TICK_MINUTES = [5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2 * 1440, 7 * 1440, 14 * 1440, 28 * 1440, 56 * 1440, 91 * 1440, 182 * 1440, 364 * 1440];
const pad2 = (n: number) => String(n).padStart(2, '0');

/** hh:mm within a day; "day N" at midnight (day 1 = the episode's first day). */
export function clockLabel(minute: number, wholeDays = false): string {
  const day = Math.floor(minute / 1440) + 1;
  const inDay = ((minute % 1440) + 1440) % 1440;
  if (wholeDays || inDay === 0) return `day ${day}`;
  return `${pad2(Math.floor(inDay / 60))}:${pad2(Math.round(inDay % 60))}`;
}

/** "day N hh:mm" (day 1 = the episode's first day). */
export function clockTime(minute: number): string {
  const inDay = ((minute % 1440) + 1440) % 1440;
  return `day ${Math.floor(minute / 1440) + 1} ${pad2(Math.floor(inDay / 60))}:${pad2(Math.round(inDay % 60))}`;
}

/** Tick positions (at most ~8, at whole clock intervals) and labels for a clock axis over [lo, hi] minutes. */
export function clockTicks(lo: number, hi: number, maxTicks = 8): { values: number[]; labels: string[] } {
  const span = Math.max(1, hi - lo);
  const step = TICK_MINUTES.find((m) => span / m <= maxTicks) ?? Math.ceil(span / maxTicks / 1440) * 1440;
  const values: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) values.push(v);
  return { values, labels: values.map((v) => clockLabel(v, step >= 1440)) };
}

export interface EpisodeTracksOptions {
  /** Plot width in pixels (per panel). */
  width: number;
  /** Steps on the x axis (default: the episode's); a longer side-by-side episode widens both. */
  length?: number;
  observationLabels?: readonly string[];
  /**
   * Episodes drawn beside this one (side by side): each continuous or dose/event panel's y domain then
   * spans the values of all of them (and the panel's band), so the panes share their y scales.
   */
  shareY?: readonly (readonly TrackStep[])[];
}

export interface EpisodeTracksChart {
  spec: TopLevelSpec;
  /** x position of each step (clock minutes, or the 1-based step number without a clock); the viewer's cursor uses it. */
  x: number[];
  tracks: readonly TrackDefinition[];
  clock?: TrackClock;
}

const BAND_COLOR = '#16a34a';

/**
 * Synchronised episode tracks: one panel per declared panel, sharing the x axis (clock time when the
 * twin declares a clock, integer steps otherwise) and a time cursor (dataset `cursor`, rows `{ t }`).
 * continuous → line with the unit in the axis title and the band (shaded, labelled) when declared;
 * categorical → step line on an axis labelled with the category names; dose → bars over the step's
 * interval where non-zero; event → markers where non-zero. Without declarations: genericTracks.
 */
export function episodeTracksSpec(declared: TwinTracks | undefined, steps: readonly TrackStep[], options: EpisodeTracksOptions): EpisodeTracksChart {
  const labels = options.observationLabels ?? [];
  const tracks = declared?.tracks.length ? declared.tracks : genericTracks(steps, labels);
  const clock = declared?.clock;
  const x = steps.map((s) => (clock ? stepClockMinute(clock, s) : s.step + 1));
  const rows = steps.map((s, i) => {
    const t = x[i] as number;
    // dose bars span the step's decision interval (clock) or ±0.4 around the step number
    const row: Record<string, number | null> = clock ? { t, t0: i === 0 ? t - clock.minutesPerStep : (x[i - 1] as number), t1: t } : { t, t0: t - 0.4, t1: t + 0.4 };
    tracks.forEach((track, k) => {
      row[`v${k}`] = trackValue(s, track.field, labels);
    });
    return row;
  });
  // a categorical track is a step-after line, so its last value would have no width (an OPC episode's
  // final state — "done", locoregional control — sat under the cursor at the last step): one more row
  // half a step on carries the last values of the categorical tracks only
  const lastRow = rows[rows.length - 1];
  if (lastRow && tracks.some((t) => t.kind === 'categorical')) {
    const t = (lastRow.t as number) + (clock ? clock.minutesPerStep / 2 : 0.5);
    const extra: Record<string, number | null> = { t, t0: null, t1: null };
    tracks.forEach((track, k) => {
      extra[`v${k}`] = track.kind === 'categorical' ? lastRow[`v${k}`] ?? null : null;
    });
    rows.push(extra);
  }
  let lo: number;
  let hi: number;
  if (clock) {
    // from the reset (one step before the first stored step) to the last step or `length` steps
    const first = x[0] ?? clock.startMinute + clock.minutesPerStep;
    lo = first - clock.minutesPerStep;
    const lastX = x[x.length - 1] ?? first;
    hi = Math.max(lastX, lo + (options.length ?? steps.length) * clock.minutesPerStep);
    // room for the categorical tracks' last half step (above)
    if (tracks.some((t) => t.kind === 'categorical')) hi = Math.max(hi, lastX + clock.minutesPerStep / 2);
  } else {
    lo = 1;
    hi = Math.max(2, options.length ?? steps.length);
  }
  const xAxis = clock
    ? (() => {
        const ticks = clockTicks(lo, hi);
        return {
          title: 'clock time',
          values: ticks.values,
          labelExpr: `${JSON.stringify(ticks.labels)}[indexof(${JSON.stringify(ticks.values)}, datum.value)]`,
        };
      })()
    : { title: 'step', tickMinStep: 1, format: 'd' };
  const xScale = { domain: [clock ? lo : 0.5, clock ? hi : hi + 0.5], nice: false, zero: false };
  const panels: { name: string; members: { track: TrackDefinition; index: number }[] }[] = [];
  tracks.forEach((track, index) => {
    let panel = panels.find((p) => p.name === track.panel);
    if (!panel) {
      panel = { name: track.panel, members: [] };
      panels.push(panel);
    }
    panel.members.push({ track, index });
  });
  // side by side: one y domain per panel over every episode shown (values, the band, 0 for doses/events)
  const sharedDomain = (members: readonly { track: TrackDefinition; index: number }[]): [number, number] | undefined => {
    if (!options.shareY || options.shareY.length === 0) return undefined;
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (const episode of [steps, ...options.shareY]) {
      for (const s of episode) {
        for (const { track } of members) {
          const v = trackValue(s, track.field, labels);
          if (v === null || ((track.kind === 'dose' || track.kind === 'event') && v === 0)) continue;
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
      }
    }
    for (const { track } of members) {
      if (track.band) {
        lo = Math.min(lo, track.band.low);
        hi = Math.max(hi, track.band.high);
      }
      if (track.kind === 'dose' || track.kind === 'event') lo = Math.min(lo, 0);
    }
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) return undefined;
    return lo === hi ? [lo - 1, hi + 1] : [lo, hi];
  };
  const vconcat = panels.map((panel, p) => {
    const axis = p === panels.length - 1 ? xAxis : { ...xAxis, title: null };
    const xOf = (field: string) => ({ field, type: 'quantitative' as const, scale: xScale, axis });
    const first = (panel.members[0] as { track: TrackDefinition }).track;
    const single = panel.members.length === 1;
    const unit = first.unit;
    const categories = panel.members.map((m) => m.track.categories).find((c) => c && c.length > 0);
    const categorical = panel.members.every((m) => m.track.kind === 'categorical') && categories !== undefined;
    const yTitle = `${single ? first.label : panel.name}${unit ? ` (${unit})` : ''}`;
    const band = panel.members.map((m) => m.track.band).find((b) => b !== undefined);
    // the panel's title names the quantity and unit (an axis title would be cut to the panel height);
    // ',.4~r': no '1.000000' ticks when a track is constant, no exponents for cell counts
    const yAxis: Record<string, unknown> = { title: null, format: ',.4~r' };
    let yScale: Record<string, unknown> = { zero: false };
    if (categorical) {
      const n = (categories as readonly string[]).length;
      yScale = { domain: [-0.5, n - 0.5], nice: false, zero: false };
      yAxis.values = Array.from({ length: n }, (_, i) => i);
      yAxis.labelExpr = `${JSON.stringify(categories)}[datum.value]`;
      yAxis.grid = true;
    } else if (panel.members.some((m) => m.track.kind === 'dose' || m.track.kind === 'event')) {
      yScale = { zero: true };
    }
    const shared = categorical ? undefined : sharedDomain(panel.members);
    if (shared) yScale = { ...yScale, domain: shared, nice: true };
    if (unit === 'count') yAxis.tickMinStep = 1;
    // a track without a value to draw (no dose given, an absent field) gets no layer: vega warns on empty extents
    const drawn = panel.members.filter(({ track, index }) => rows.some((r) => r[`v${index}`] !== null && (r[`v${index}`] !== 0 || (track.kind !== 'dose' && track.kind !== 'event'))));
    if (drawn.length === 0 && !categorical && !band) yScale = { domain: [0, 1], nice: false };
    const color = (label: string) => (single ? {} : { color: { datum: label, type: 'nominal' as const, legend: { title: null, orient: 'top' as const, labelLimit: 260 } } });
    const layers: object[] = [];
    if (drawn.length === 0 && !categorical && !band) {
      layers.push({ data: { values: [{ y: 0.5, text: `no ${panel.members.map((m) => m.track.label).join(' or ')} in this episode` }] }, mark: { type: 'text', color: '#64748b', fontSize: 11 }, encoding: { x: { value: options.width / 2 }, y: { field: 'y', type: 'quantitative', scale: yScale, axis: yAxis }, text: { field: 'text' } } });
    }
    if (band) {
      layers.push({
        data: { values: [{ lo: band.low, hi: band.high }] },
        mark: { type: 'rect', opacity: 0.12, color: BAND_COLOR },
        encoding: { y: { field: 'lo', type: 'quantitative', scale: yScale, axis: yAxis }, y2: { field: 'hi' } },
      });
      layers.push({
        data: { values: [{ y: band.high, text: band.label }] },
        mark: { type: 'text', align: 'left', baseline: 'top', dx: 4, dy: 2, fontSize: 10, color: '#15803d' },
        encoding: { x: { value: 0 }, y: { field: 'y', type: 'quantitative' }, text: { field: 'text' } },
      });
    }
    for (const { track, index } of drawn) {
      const v = `v${index}`;
      const y = { field: v, type: 'quantitative' as const, scale: yScale, axis: yAxis };
      const tooltip = [
        { field: 't', type: 'quantitative' as const, title: clock ? 'minute' : 'step' },
        { field: v, type: 'quantitative' as const, title: `${track.label}${track.unit ? ` (${track.unit})` : ''}`, format: '.4~g' },
      ];
      if (track.kind === 'dose') {
        layers.push({
          data: { name: 'rows' },
          transform: [{ filter: `isValid(datum.${v}) && datum.${v} != 0` }],
          mark: { type: 'rect', ...(single ? { color: '#7c3aed' } : {}) },
          encoding: { x: xOf('t0'), x2: { field: 't1' }, y, y2: { datum: 0 }, tooltip, ...color(track.label) },
        });
      } else if (track.kind === 'event') {
        layers.push({
          data: { name: 'rows' },
          transform: [{ filter: `isValid(datum.${v}) && datum.${v} != 0` }],
          mark: { type: 'point', filled: true, size: 40, ...(single ? { color: '#ea580c' } : {}) },
          encoding: { x: xOf('t'), y, tooltip, ...color(track.label) },
        });
      } else {
        layers.push({
          data: { name: 'rows' },
          mark: { type: 'line', strokeWidth: 1.4, ...(track.kind === 'categorical' ? { interpolate: 'step-after', clip: true } : {}) },
          encoding: { x: xOf('t'), y, tooltip, ...color(track.label) },
        });
      }
    }
    layers.push({ data: { name: 'cursor' }, mark: { type: 'rule', color: '#dc2626', strokeWidth: 1.5 }, encoding: { x: xOf('t') } });
    return {
      title: { text: yTitle, anchor: 'start' as const, fontSize: 12, fontWeight: 'bold' as const, offset: 4 },
      width: options.width,
      height: categorical ? Math.max(44, 18 * (categories as readonly string[]).length) : band ? 140 : 80,
      layer: layers,
    };
  });
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    datasets: { rows, cursor: [{ t: x[0] ?? 1 }] },
    vconcat,
    spacing: 8,
    resolve: { scale: { x: 'shared', color: 'independent', y: 'independent' } },
  } as TopLevelSpec;
  return { spec, x, tracks, clock };
}
