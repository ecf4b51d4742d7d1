import { describe, expect, it } from 'vitest';
import type { GlucoseDataset } from '../../../datasets/types.js';
import { fitGlucoseTwin } from '../../../twinning/glucose/fit.js';
import { type ForecastRow, forecastSeries, replay } from '../../../twinning/glucose/replay.js';
import { syntheticPerson } from '../../../twinning/glucose/synthetic.js';
import { parseTherapy } from '../../../twinning/glucose/therapy.js';

const DAY = 86_400_000;

function rows(twin: Awaited<ReturnType<typeof fitGlucoseTwin>>, d: GlucoseDataset, from: number, every: number): ForecastRow[] {
  const out: ForecastRow[] = [];
  forecastSeries(twin, d, from, [30, 60, 120], every, 3, (r) => out.push(r));
  return out;
}

describe('forecasts of a personal glucose twin (living profile)', async () => {
  const people = [0, 1].map((index) => syntheticPerson({ seed: 33, index, days: 4 }));
  const twins = await Promise.all(
    people.map((p) => fitGlucoseTwin(p.dataset, { method: 'map', seed: 2, codeVersion: 'test', untilMs: p.dataset.startMs + 3 * DAY })),
  );

  it('no peeking: changing the data after an origin changes no forecast made at that origin', () => {
    const d = people[0]?.dataset as GlucoseDataset;
    const origin = d.startMs + 3 * DAY + 12 * 3600_000;
    const k = (origin - d.startMs) / 300_000;
    const changed: GlucoseDataset = { ...d, cgm: d.cgm.slice(), bolusU: d.bolusU.slice(), carbsG: d.carbsG.slice(), basalUPerH: d.basalUPerH.slice() };
    for (let j = k + 1; j < d.cgm.length; j++) {
      changed.cgm[j] = 250;
      changed.carbsG[j] = j % 30 === 0 ? 60 : 0;
      changed.bolusU[j] = j % 40 === 0 ? 5 : 0;
      changed.basalUPerH[j] = 2;
    }
    const a = rows(twins[0] as never, d, origin, 60).filter((r) => r.originMs === origin);
    const b = rows(twins[0] as never, changed, origin, 60).filter((r) => r.originMs === origin);
    expect(a).toHaveLength(3);
    expect(b).toEqual(a);
    const later = rows(twins[0] as never, changed, origin + 3600_000, 60)[0];
    expect(later?.mean).not.toBe(rows(twins[0] as never, d, origin + 3600_000, 60)[0]?.mean); // the change is visible once it is in the past
  }, 120_000);

  it('on a held-out day, beats persistence at 30 and 60 min and its 95 % bands cover 90–98 % of readings', () => {
    const stats = new Map<number, { se: number; pe: number; hit: number; n: number }>();
    people.forEach((p, i) => {
      const d = p.dataset;
      for (const r of rows(twins[i] as never, d, d.startMs + 3 * DAY, 15)) {
        const k = (r.originMs - d.startMs) / 300_000;
        const target = k + r.horizonMin / 5;
        const y = d.cgm[target] as number;
        if (!(target < d.cgm.length) || !Number.isFinite(y)) continue;
        const s = stats.get(r.horizonMin) ?? { se: 0, pe: 0, hit: 0, n: 0 };
        s.se += (r.mean - y) ** 2;
        s.pe += ((d.cgm[k] as number) - y) ** 2;
        s.hit += y >= r.lo && y <= r.hi ? 1 : 0;
        s.n++;
        stats.set(r.horizonMin, s);
      }
    });
    for (const h of [30, 60]) {
      const s = stats.get(h) as { se: number; pe: number; hit: number; n: number };
      expect(Math.sqrt(s.se / s.n), `RMSE at ${h} min vs persistence ${Math.sqrt(s.pe / s.n)}`).toBeLessThan(Math.sqrt(s.pe / s.n));
    }
    for (const h of [30, 60, 120]) {
      const s = stats.get(h) as { hit: number; n: number };
      expect(s.hit / s.n, `coverage at ${h} min`).toBeGreaterThanOrEqual(0.9);
      expect(s.hit / s.n, `coverage at ${h} min`).toBeLessThanOrEqual(0.98);
    }
  });

  it('a file that opens mid-meal still forecasts, from its first reading, with a warning that says so', () => {
    const d = people[0]?.dataset as GlucoseDataset;
    let meal = 3 * 288;
    while (!((d.carbsG[meal] as number) > 0)) meal++;
    const cut: GlucoseDataset = {
      ...d,
      startMs: d.startMs + meal * 300_000,
      cgm: d.cgm.slice(meal),
      basalUPerH: d.basalUPerH.slice(meal),
      bolusU: d.bolusU.slice(meal),
      carbsG: d.carbsG.slice(meal),
    };
    const warnings: string[] = [];
    const out: ForecastRow[] = [];
    forecastSeries(
      twins[0] as never,
      cut,
      cut.startMs + 3600_000,
      [30],
      60,
      1,
      (r) => out.push(r),
      (m) => warnings.push(m),
    );
    expect(out.length).toBeGreaterThan(5);
    expect(out.every((r) => Number.isFinite(r.mean) && r.lo < r.hi)).toBe(true);
    expect(warnings).toEqual([expect.stringMatching(/^no steady-state start .* the twin's state starts at the first reading, /)]);
  });

  it('what-if replay: more insulin per gram lowers glucose; endpoints come with intervals; a bad therapy key names itself', () => {
    const d = people[1]?.dataset as GlucoseDataset;
    const from = d.startMs + 3 * DAY;
    const base = replay(twins[1] as never, d, from);
    const more = replay(twins[1] as never, d, from, parseTherapy('carb-ratio=0.7'));
    expect(base.rows).toHaveLength(287);
    const meanOf = (r: typeof base) => r.rows.reduce((s, x) => s + x.mean, 0) / r.rows.length;
    expect(meanOf(more)).toBeLessThan(meanOf(base) - 5);
    const tir = base.endpoints.time_in_range_70_180 as { mean: number; lo: number; hi: number };
    expect(tir.lo).toBeLessThanOrEqual(tir.mean);
    expect(tir.hi).toBeGreaterThanOrEqual(tir.mean);
    expect(() => parseTherapy('carb_ratio=0.8')).toThrow(/unknown key "carb_ratio"/);
    expect(() => parseTherapy('basal=-1')).toThrow(/--therapy basal: must be a factor in \(0, 10\]/);
  });
});
