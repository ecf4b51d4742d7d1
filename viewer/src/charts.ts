import { changeset, type View } from 'vega';
import embed from 'vega-embed';
import type { TopLevelSpec } from 'vega-lite';

/** vega-lite specs of the viewer and a helper to embed them and stream rows into named datasets. */
export async function mount(el: HTMLElement, spec: TopLevelSpec): Promise<View> {
  const result = await embed(el, spec, { actions: { export: true, source: false, compiled: false, editor: false }, renderer: 'svg' });
  return result.view;
}

export function insert(view: View, dataset: string, rows: object[]): void {
  if (rows.length === 0) return;
  view.change(dataset, changeset().insert(rows)).run();
}

export function replace(view: View, dataset: string, rows: object[]): void {
  view.change(dataset, changeset().remove(() => true).insert(rows)).run();
}

export interface CurvePoint {
  run: string;
  group: string;
  step: number;
  value: number;
}

/**
 * Learning curve: each run's raw values (thin, optional), its moving average over `smooth`
 * points, and per group the mean ± one standard deviation across runs (seeds) in step bins.
 */
export function learningCurveSpec(title: string, yTitle: string, smooth: number, showRuns: boolean, by: 'group' | 'run'): TopLevelSpec {
  const layers: object[] = [];
  const smoothed = { window: [{ op: 'mean', field: 'value', as: 'smoothed' }], frame: [-Math.max(0, smooth - 1), 0], groupby: ['run'], sort: [{ field: 'step' }] };
  if (showRuns) layers.push({ mark: { type: 'line', opacity: 0.25, strokeWidth: 1 }, encoding: { detail: { field: 'run' }, color: { field: by, type: 'nominal' }, y: { field: 'value', type: 'quantitative', title: yTitle } } });
  if (by === 'group') {
    layers.push({
      transform: [smoothed, { bin: { maxbins: 60 }, field: 'step', as: ['bin_start', 'bin_end'] }],
      mark: { type: 'errorband', extent: 'stdev', opacity: 0.25 },
      encoding: { x: { field: 'bin_start', type: 'quantitative', title: 'env steps' }, y: { field: 'smoothed', type: 'quantitative', title: yTitle }, color: { field: 'group', type: 'nominal' } },
    });
    layers.push({
      transform: [smoothed, { bin: { maxbins: 60 }, field: 'step', as: ['bin_start', 'bin_end'] }],
      mark: { type: 'line', strokeWidth: 2 },
      encoding: { x: { field: 'bin_start', type: 'quantitative' }, y: { aggregate: 'mean', field: 'smoothed', type: 'quantitative' }, color: { field: 'group', type: 'nominal', title: 'config' } },
    });
  } else {
    layers.push({ transform: [smoothed], mark: { type: 'line', strokeWidth: 1.8 }, encoding: { y: { field: 'smoothed', type: 'quantitative', title: yTitle }, color: { field: 'run', type: 'nominal' } } });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 'container',
    height: 260,
    data: { name: 'points' },
    encoding: { x: { field: 'step', type: 'quantitative', title: 'env steps' } },
    layer: layers,
  } as TopLevelSpec;
}

/** A downsampled metric series with its min/max envelope. */
export function seriesSpec(title: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 'container',
    height: 200,
    data: { name: 'series' },
    encoding: { x: { field: 'step', type: 'quantitative', title: 'env steps' } },
    layer: [
      { mark: { type: 'area', opacity: 0.25 }, encoding: { y: { field: 'min', type: 'quantitative', title: title }, y2: { field: 'max' } } },
      { mark: { type: 'line', strokeWidth: 1.5 }, encoding: { y: { field: 'value', type: 'quantitative' } } },
    ],
  } as TopLevelSpec;
}
