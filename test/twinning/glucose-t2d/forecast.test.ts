import { describe, expect, it } from 'vitest';
import type { GlucoseDataset } from '../../../datasets/types.js';
import { fitT2DTwin } from '../../../twinning/glucose-t2d/fit.js';
import { t2dForecastSeries, t2dReplay } from '../../../twinning/glucose-t2d/replay.js';
import { syntheticT2DPerson } from '../../../twinning/glucose-t2d/synthetic.js';
import { parseSwap, parseT2DTherapy } from '../../../twinning/glucose-t2d/therapy.js';
import type { ForecastRow } from '../../../twinning/glucose/replay.js';

const DAY = 86_400_000;
const parseTime = (s: string) => {
  const t = Date.parse(s);
  return Number.isFinite(t) ? t : 'is not an ISO 8601 time';
};

describe('forecasts and what-if replays of a personal type 2 twin', async () => {
  const people = [0, 1].map((index) => syntheticT2DPerson({ seed: 33, index, days: 4 }));
  const twins = await Promise.all(
    people.map((p) => fitT2DTwin(p.dataset, { method: 'map', seed: 2, codeVersion: 'test', untilMs: p.dataset.startMs + 3 * DAY })),
  );
  const rows = (i: number, d: GlucoseDataset, from: number, every: number): ForecastRow[] => {
    const out: ForecastRow[] = [];
    t2dForecastSeries(twins[i] as never, d, from, [30, 60, 120], every, 3, (r) => out.push(r));
    return out;
  };

  it('no peeking: changing the data after an origin changes no forecast made at that origin', () => {
    const d = people[0]?.dataset as GlucoseDataset;
    const origin = d.startMs + 3 * DAY + 12 * 3600_000;
    const k = (origin - d.startMs) / 300_000;
    const changed: GlucoseDataset = { ...d, cgm: d.cgm.slice(), carbsG: d.carbsG.slice() };
    for (let j = k + 1; j < d.cgm.length; j++) {
      changed.cgm[j] = 250;
      changed.carbsG[j] = j % 30 === 0 ? 60 : 0;
    }
    const a = rows(0, d, origin, 60).filter((r) => r.originMs === origin);
    const b = rows(0, changed, origin, 60).filter((r) => r.originMs === origin);
    expect(a).toHaveLength(3);
    expect(b).toEqual(a);
    expect(rows(0, changed, origin + 3600_000, 60)[0]?.mean).not.toBe(rows(0, d, origin + 3600_000, 60)[0]?.mean);
  }, 120_000);

  it('on a held-out day, beats persistence at 30 and 60 min and its 95 % bands cover 90–98 % of readings', () => {
    const stats = new Map<number, { se: number; pe: number; hit: number; n: number }>();
    people.forEach((p, i) => {
      const d = p.dataset;
      for (const r of rows(i, d, d.startMs + 3 * DAY, 15)) {
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

  it('what-if: the logged day replays near the readings; a lower-GI swap lowers the meal’s peak, fewer carbs lower mean glucose', () => {
    const d = people[0]?.dataset as GlucoseDataset;
    const from = d.startMs + 3 * DAY;
    const origin = 3 * 288;
    let meal = origin + 1;
    while (!((d.carbsG[meal] as number) > 0)) meal++;
    const mealMs = d.startMs + meal * 300_000;
    const asLogged = t2dReplay(twins[0] as never, d, from, { ...parseT2DTherapy(undefined), swaps: [] });
    expect(asLogged.rows).toHaveLength(288 - 1);
    let se = 0;
    for (const r of asLogged.rows) se += (r.mean - (d.cgm[(r.timeMs - d.startMs) / 300_000] as number)) ** 2;
    expect(Math.sqrt(se / asLogged.rows.length)).toBeLessThan(25); // a day ahead, no readings used
    const grams = d.carbsG[meal] as number;
    // the same grams as lentils (GI 32) instead of the logged GI 55
    const servings = grams / 24; // lentils: 24 g available carbohydrate per serving (foods.ts)
    const swap = parseSwap(`${new Date(mealMs).toISOString()}=lentils:${servings.toFixed(3)}`, parseTime);
    expect(swap.carbsG).toBeCloseTo(grams, 1);
    const lowGi = t2dReplay(twins[0] as never, d, from, { ...parseT2DTherapy(undefined), swaps: [swap] });
    const peak = (rs: typeof asLogged.rows) => Math.max(...rs.filter((r) => r.timeMs > mealMs && r.timeMs <= mealMs + 3 * 3600_000).map((r) => r.mean));
    expect(peak(lowGi.rows)).toBeLessThan(peak(asLogged.rows) - 3);
    const fewer = t2dReplay(twins[0] as never, d, from, { ...parseT2DTherapy('carbs=0.5'), swaps: [] });
    expect(fewer.endpoints.mean_glucose?.mean).toBeLessThan((asLogged.endpoints.mean_glucose?.mean as number) - 5);
    expect(fewer.endpoints.time_above_180?.mean).toBeLessThanOrEqual(asLogged.endpoints.time_above_180?.mean as number);
    // a swap where nothing is logged is refused
    const empty = parseSwap(`${new Date(from + 5 * 60_000).toISOString()}=lentils`, parseTime);
    expect(() => t2dReplay(twins[0] as never, d, from, { ...parseT2DTherapy(undefined), swaps: [empty] })).toThrow(
      /--swap .*: no meal is logged in that 5-min slot/,
    );
  });

  it('what-if grammar errors name the field', () => {
    const field = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as { details?: { field?: string } }).details?.field;
      }
      return undefined;
    };
    expect(field(() => parseT2DTherapy('gi=200'))).toBe('therapy.gi');
    expect(field(() => parseT2DTherapy('basal=1.2'))).toBe('therapy.basal');
    expect(() => parseT2DTherapy('carb-ratio=0.8')).toThrow(/has no insulin input/);
    expect(field(() => parseT2DTherapy('walk=30'))).toBe('therapy');
    expect(field(() => parseT2DTherapy('carbs=-1'))).toBe('therapy.carbs');
    expect(field(() => parseSwap('2026-01-08T12:00:00Z=pizza', parseTime))).toBe('swap');
    expect(() => parseSwap('2026-01-08T12:00:00Z=olive-oil', parseTime)).toThrow(/has no carbohydrate/);
    expect(() => parseSwap('lentils', parseTime)).toThrow(/must be TIME=FOOD\[:SERVINGS\]/);
    expect(() => parseSwap('2026-01-08T12:00:00Z=lentils:0', parseTime)).toThrow(/servings must be in \(0, 10\]/);
  });
});
