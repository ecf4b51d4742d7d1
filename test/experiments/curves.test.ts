import { describe, expect, it } from 'vitest';
import { configLabel, differingKeys, drawnCurve, emaSmooth, eventMetric, flattenConfig, groupBands, thin } from '../../experiments/curves.js';
import { metricRowsForEvent } from '../../experiments/store.js';

describe('run comparison curves (experiments/curves.ts)', () => {
  it("EMA is TensorBoard's debiased form: first point kept, constants stay constant, hand-computed values", () => {
    expect(Array.from(emaSmooth([1, 3], 0.5))).toEqual([1, (0.5 * 0.5 + 0.5 * 3) / (1 - 0.25)]);
    expect(Array.from(emaSmooth([4, 4, 4, 4], 0.9)).map((v) => Number(v.toFixed(12)))).toEqual([4, 4, 4, 4]);
    expect(Array.from(emaSmooth([1, 2, 3], 0))).toEqual([1, 2, 3]);
    expect(Array.from(emaSmooth([1, Number.NaN, 3], 0))).toEqual([1, 1, 3]);
    expect(() => emaSmooth([1], 1)).toThrow(/\[0, 1\)/);
  });

  it('smooths the full series before thinning: each drawn value is the full-series EMA at that point', () => {
    const n = 10_000;
    const steps = Array.from({ length: n }, (_, i) => i * 7);
    const values = Array.from({ length: n }, (_, i) => Math.sin(i / 50) + ((i * 7919) % 13) / 13);
    const full = emaSmooth(values, 0.95);
    const curve = drawnCurve(steps, values, 0.95, 500);
    expect(curve.length).toBe(501);
    expect(curve[0]?.step).toBe(0);
    expect(curve[curve.length - 1]).toMatchObject({ step: steps[n - 1], value: full[n - 1] });
    for (const p of curve) expect(p.value).toBe(full[p.step / 7]);
    // thinning a smoothed series is not smoothing a thinned one
    const thinnedFirst = emaSmooth(
      thin(steps, values, values, 500).map((p) => p.value),
      0.95,
    );
    expect(thinnedFirst[250]).not.toBeCloseTo(curve[250]?.value as number, 3);
    // envelope: the raw range of each bucket
    expect(curve[1]?.min).toBe(Math.min(...values.slice(1, 20)));
    expect(drawnCurve(steps, values, 0.95, 500)).toEqual(curve);
    expect(drawnCurve(steps.slice(0, 3), values.slice(0, 3), 0, 500).map((p) => p.value)).toEqual(values.slice(0, 3));
  });

  it('group bands at the leading edge use only the seeds that reached the step', () => {
    const a = { group: 'g', steps: [0, 50, 100], smoothed: [0, 10, 20] };
    const b = { group: 'g', steps: [0, 50], smoothed: [2, 30] };
    const bands = groupBands([a, b], 3);
    expect(bands.map((p) => p.step)).toEqual([0, 50, 100]);
    expect(bands[0]).toMatchObject({ mean: 1, n: 2, complete: true });
    expect(bands[1]).toMatchObject({ mean: 20, n: 2, complete: true });
    expect(bands[1]?.sd).toBeCloseTo(Math.SQRT2 * 10, 12);
    // only a has reached step 100: its value, not b's last one carried forward
    expect(bands[2]).toMatchObject({ mean: 20, sd: 0, n: 1, complete: false });
  });

  it('labels name every differing key, not a truncated JSON of the first', () => {
    const configs = [
      { lr: 0.001, gamma: 0.99, net: [64, 64] },
      { lr: 0.001, gamma: 0.9, net: [64, 64] },
      { lr: 0.0005, gamma: 0.99, net: [256, 256] },
    ].map((c) => flattenConfig(c));
    const keys = differingKeys(configs);
    expect(keys).toEqual(['gamma', 'lr', 'net']);
    const labels = configs.map((c) => configLabel(c, keys));
    expect(new Set(labels).size).toBe(3);
    expect(labels[1]).toBe('gamma=0.9 · lr=0.001 · net=[64,64]');
    expect(configLabel(flattenConfig({ a: { x: 1 }, b: { x: 2 } }), ['a.x', 'b.x'])).toBe('a.x=1 · b.x=2');
  });

  it('eventMetric names values as the store names its metric rows', () => {
    const event = {
      type: 'episode.ended' as const,
      step: 9,
      data: { episode: 1, return: 4.5, length: 3, terminated: false, metrics: { tir: 0.7, nested: { x: 2 } } },
    };
    for (const row of metricRowsForEvent(event as never)) expect(eventMetric(event, row.name)).toBe(row.value);
    expect(eventMetric(event, 'eval.meanReturn')).toBeUndefined();
    expect(eventMetric(event, 'episode.metrics')).toBeUndefined();
  });
});
