import type { TopLevelSpec } from 'vega-lite';
import { api } from '../api.js';
import { h, link, statusPill } from '../dom.js';
import { toSearch } from '../state.js';

/**
 * Charts and helpers every personal-twin page shares (views/twin.ts type 1, twin-t2d.ts type 2,
 * twin-vancomycin.ts): clock time on x in UTC (`time (UTC)`), units in every axis title.
 */
export interface PosteriorParameter {
  name: string;
  label: string;
  unit: string;
  map: number;
  draws: number[];
  priorDensity: { x: number; density: number }[];
}
export interface ForecastRow {
  origin: string;
  horizonMin: number;
  mean: number | null;
  lo: number | null;
  hi: number | null;
}
export interface ReplayResult {
  rows: { time: string; mean: number | null; lo: number | null; hi: number | null }[];
  endpoints: Record<string, { mean: number; lo: number; hi: number; unit: string }>;
}
export const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
export const GLUCOSE = { type: 'quantitative', title: 'glucose (mg/dL)', scale: { zero: false } } as const;
/** Clock time, drawn and labelled in UTC (the API's times are UTC). */
export const TIME = { field: 't', type: 'temporal', title: 'time (UTC)', scale: { type: 'utc' } } as const;

export const ms = (iso: string) => Date.parse(iso);
export const isoMinute = (t: number) => `${new Date(t).toISOString().slice(0, 16)}:00Z`;
export const short = (t: number) => `${new Date(t).toISOString().slice(0, 16).replace('T', ' ')}Z`;
/** Round down to the 5-minute grid. */
export const onGrid = (t: number) => Math.floor(t / 300_000) * 300_000;

/** Histogram of the draws as a density (bins over the prior's plotted range), the prior density, the MAP. */
export function posteriorSpec(parameters: PosteriorParameter[]): TopLevelSpec {
  return {
    $schema: SCHEMA,
    title: 'Posterior draws (bars) beside the prior (orange line); dashed: MAP',
    columns: 4,
    concat: parameters.map((p) => {
      const xs = p.priorDensity.map((d) => d.x);
      const lo = Math.min(...xs);
      const hi = Math.max(...xs);
      const bins = 24;
      const width = (hi - lo) / bins;
      const counts = new Array<number>(bins).fill(0);
      for (const v of p.draws) counts[Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / width)))] += 1;
      const histogram = p.draws.length >= 5 ? counts.map((c, i) => ({ x0: lo + i * width, x1: lo + (i + 1) * width, density: c / (p.draws.length * width) })) : [];
      return {
        width: 220,
        height: 120,
        title: { text: `${p.name} (${p.unit})`, subtitle: p.draws.length < 5 ? 'MAP only' : `${p.draws.length} draws`, fontSize: 12 },
        // no histogram layer without draws (a MAP fit): an empty layer makes vega warn of an infinite extent
        layer: [
          ...(histogram.length > 0
            ? [{ data: { values: histogram }, mark: { type: 'rect', opacity: 0.55, color: '#2563eb' }, encoding: { x: { field: 'x0', type: 'quantitative' }, x2: { field: 'x1' }, y: { field: 'density', type: 'quantitative' } } }]
            : []),
          { data: { values: p.priorDensity }, mark: { type: 'line', color: '#d97706', strokeWidth: 1.6 }, encoding: { x: { field: 'x', type: 'quantitative', title: `${p.name} (${p.unit})`, scale: { zero: false } }, y: { field: 'density', type: 'quantitative', title: p.unit === '–' || p.unit === '1' || p.unit.startsWith('×') ? 'density' : `density (per ${p.unit})` } } },
          { data: { values: [{ map: p.map }] }, mark: { type: 'rule', color: '#dc2626', strokeDash: [4, 3] }, encoding: { x: { field: 'map', type: 'quantitative' } } },
        ],
      };
    }),
    resolve: { scale: { x: 'independent', y: 'independent' } },
  } as TopLevelSpec;
}

/** Cone rows: the reading at the origin, then mean and band at each horizon, per origin. */
export function coneRows(rows: ForecastRow[], cgmAt: (t: number) => number | null | undefined, label = (o: string) => short(ms(o))) {
  const out: { t: number; origin: string; mean: number; lo: number; hi: number }[] = [];
  const origins = [...new Set(rows.map((r) => r.origin))];
  for (const o of origins) {
    const t0 = ms(o);
    const y = cgmAt(t0);
    if (typeof y === 'number') out.push({ t: t0, origin: label(o), mean: y, lo: y, hi: y });
    for (const r of rows) {
      if (r.origin !== o || r.mean === null || r.lo === null || r.hi === null) continue;
      out.push({ t: t0 + r.horizonMin * 60_000, origin: label(o), mean: r.mean, lo: r.lo, hi: r.hi });
    }
  }
  return out;
}

export function conesSpec(title: string, observedName: string, coneName: string, observed?: object[], cones?: object[], height = 260): TopLevelSpec {
  return {
    $schema: SCHEMA,
    title,
    width: 'container',
    height,
    layer: [
      { data: { name: observedName, ...(observed ? { values: observed } : {}) }, mark: { type: 'point', filled: true, size: 10, color: '#0f172a' }, encoding: { x: TIME, y: { field: 'cgm', ...GLUCOSE } } },
      { data: { name: coneName, ...(cones ? { values: cones } : {}) }, mark: { type: 'area', opacity: 0.2 }, encoding: { x: TIME, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color: { field: 'origin', type: 'nominal', title: 'origin' } } },
      { data: { name: coneName, ...(cones ? { values: cones } : {}) }, mark: { type: 'line', point: true, strokeWidth: 1.5 }, encoding: { x: TIME, y: { field: 'mean', type: 'quantitative' }, color: { field: 'origin', type: 'nominal' } } },
    ],
  } as TopLevelSpec;
}

export function replaySpec(values: object[], observed: object[]): TopLevelSpec {
  return {
    $schema: SCHEMA,
    title: 'What-if replays: mean and 95 % band of each therapy (dots: the CGM that was recorded, not used)',
    width: 'container',
    height: 280,
    layer: [
      { data: { values: observed }, mark: { type: 'point', filled: true, size: 6, color: '#64748b', opacity: 0.6 }, encoding: { x: TIME, y: { field: 'cgm', ...GLUCOSE } } },
      { data: { values }, mark: { type: 'area', opacity: 0.18 }, encoding: { x: TIME, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color: { field: 'therapy', type: 'nominal', title: 'what-if', legend: { labelLimit: 600, orient: 'top' } } } },
      { data: { values }, mark: { type: 'line', strokeWidth: 1.6 }, encoding: { x: TIME, y: { field: 'mean', type: 'quantitative' }, color: { field: 'therapy', type: 'nominal' } } },
    ],
  } as TopLevelSpec;
}

export function errorText(error: unknown): HTMLElement {
  return h('p', { class: 'error', text: error instanceof Error ? error.message : String(error) });
}


interface TwinExperiment {
  id: string;
  kind: string;
  name: string;
  status: string;
  createdAt: string;
  draws: number | null;
  offset: number;
}

/**
 * Trials and training runs on this twin's posterior draws (`GET /api/twins/:id/experiments`: specs
 * whose `cohort.personal` is the twin's directory), each linking to its trial or experiment page.
 */
export async function twinExperimentsCard(base: string): Promise<HTMLElement> {
  const card = h('div', { class: 'card', id: 'twin-experiments' }, h('h2', { text: 'Trials and training on this twin' }));
  try {
    const rows = await api.get<TwinExperiment[]>(`${base}/experiments`);
    if (rows.length === 0) {
      card.append(h('p', { class: 'muted', text: 'None yet: a spec with cohort { twin, personal: DIR, draws } (DIR: this twin’s directory) runs a trial on its posterior draws (twinlab run SPEC).' }));
      return card;
    }
    card.append(
      h(
        'table',
        {},
        h('tr', {}, ...['experiment', 'kind', 'posterior draws', 'status', 'created'].map((t) => h('th', { text: t }))),
        ...rows.map((e) =>
          h(
            'tr',
            { 'data-experiment': e.id },
            h('td', {}, link(e.name || e.id, toSearch({ view: e.kind === 'trial' ? 'trial' : 'experiment', id: e.id }))),
            h('td', { text: e.kind }),
            h('td', { class: 'num', text: e.draws === null ? '—' : `${e.offset}–${e.offset + e.draws - 1}` }),
            h('td', {}, statusPill(e.status)),
            h('td', { text: new Date(e.createdAt).toLocaleString() }),
          ),
        ),
      ),
    );
  } catch (error) {
    card.append(errorText(error));
  }
  return card;
}
