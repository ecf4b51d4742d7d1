import { describe, expect, it, vi } from 'vitest';
import { TwinlabError } from '../../engine/errors.js';
import { timeAbove180, timeAbove250, timeBelow54, timeBelow70, timeInRange } from '../../environments/glucose/endpoints.js';
import { ambulatoryGlucoseProfile, glucoseRangeOf, timeInRanges } from '../../experiments/agp.js';
import { glucoseBandsSpec, percentileBands } from '../../experiments/charts.js';
import { renderSvg } from '../../experiments/report.js';

describe('ambulatory glucose profile', () => {
  it('gives type-7 5/25/50/75/95th percentiles per 15-min bin of the modal day', () => {
    // one reading per minute, value = minute of day: bin 0 holds 0..14, bin 95 holds 1425..1439
    const readings = Array.from({ length: 1440 }, (_, m) => ({ minute: m, value: m }));
    const agp = ambulatoryGlucoseProfile(readings);
    expect(agp.bins).toHaveLength(96);
    const [first] = agp.bins;
    expect(first).toMatchObject({ start: 0, centre: 7.5, n: 15 });
    expect(first?.p5).toBeCloseTo(0.7, 12);
    expect(first?.p25).toBeCloseTo(3.5, 12);
    expect(first?.p50).toBe(7);
    expect(first?.p75).toBeCloseTo(10.5, 12);
    expect(first?.p95).toBeCloseTo(13.3, 12);
    expect(agp.bins[95]?.p50).toBe(1432);
  });

  it('folds several days onto one day and leaves empty bins out', () => {
    // day 1 and day 3 at 08:10, day 2 at 08:20: one 30-min bin (08:00–08:30) with three readings
    const agp = ambulatoryGlucoseProfile(
      [
        { minute: 8 * 60 + 10, value: 100 },
        { minute: 1440 + 8 * 60 + 20, value: 140 },
        { minute: 2 * 1440 + 8 * 60 + 10, value: 120 },
        { minute: 3 * 1440, value: Number.NaN },
      ],
      { binMinutes: 30 },
    );
    expect(agp.readings).toBe(3);
    expect(agp.bins).toEqual([{ start: 480, centre: 495, n: 3, p5: 102, p25: 110, p50: 120, p75: 130, p95: 138 }]);
  });

  it('smooths each percentile over neighbouring bins, wrapping at midnight', () => {
    // 60-min bins at 00:00, 01:00 and 23:00 with constant values 10, 20, 60: with k = 1 every bin's
    // neighbours (wrapping) are the other two, so every percentile becomes (10 + 20 + 60) / 3 = 30
    const readings = [
      { minute: 10, value: 10 },
      { minute: 70, value: 20 },
      { minute: 23 * 60 + 5, value: 60 },
    ];
    const raw = ambulatoryGlucoseProfile(readings, { binMinutes: 60 });
    expect(raw.bins.map((b) => b.p50)).toEqual([10, 20, 60]);
    const smooth = ambulatoryGlucoseProfile(readings, { binMinutes: 60, smoothBins: 1 });
    for (const b of smooth.bins) for (const p of [b.p5, b.p25, b.p50, b.p75, b.p95]) expect(p).toBeCloseTo(30, 12);
  });

  it('puts readings in the five consensus ranges with the twin endpoints\' boundaries', () => {
    expect([53.9, 54, 69.9, 70, 180, 180.1, 250, 250.1].map(glucoseRangeOf)).toEqual(['veryLow', 'low', 'low', 'target', 'target', 'high', 'high', 'veryHigh']);
    const values = [40, 53.9, 54, 65, 70, 100, 180, 181, 250, 251, 400, 120];
    const ranges = Object.fromEntries(timeInRanges(values).map((r) => [r.id, 100 * r.fraction]));
    expect(ranges.target).toBeCloseTo(timeInRange(values), 12);
    expect(ranges.veryLow).toBeCloseTo(timeBelow54(values), 12);
    expect(ranges.veryLow + ranges.low).toBeCloseTo(timeBelow70(values), 12);
    expect(ranges.high + ranges.veryHigh).toBeCloseTo(timeAbove180(values), 12);
    expect(ranges.veryHigh).toBeCloseTo(timeAbove250(values), 12);
    expect(timeInRanges(values).map((r) => r.label)).toEqual(['< 54', '54–69', '70–180', '181–250', '> 250']);
  });

  it('reports mean, CV and GMI', () => {
    const agp = ambulatoryGlucoseProfile([
      { minute: 0, value: 100 },
      { minute: 5, value: 200 },
    ]);
    expect(agp.mean).toBe(150);
    expect(agp.cv).toBeCloseTo((100 * Math.SQRT2 * 50) / 150, 10);
    expect(agp.gmi).toBeCloseTo(3.31 + 0.02392 * 150, 12);
  });

  it('refuses a bin width that does not divide the day', () => {
    expect(() => ambulatoryGlucoseProfile([], { binMinutes: 7 })).toThrow(TwinlabError);
    expect(() => ambulatoryGlucoseProfile([], { binMinutes: 7 })).toThrow(/binMinutes/);
  });
});

describe('AGP chart', () => {
  it('draws one profile per arm with its time-in-ranges bar, without vega warnings', async () => {
    const warnings: string[] = [];
    vi.spyOn(console, 'warn').mockImplementation((...a: unknown[]) => void warnings.push(a.map(String).join(' ')));
    try {
      const arm = (name: string, offset: number) => {
        const readings = Array.from({ length: 288 * 3 }, (_, i) => ({ minute: i * 5, value: 140 + offset + 60 * Math.sin((2 * Math.PI * i) / 288) + ((i * 37) % 41) - 20 }));
        const [bands] = percentileBands(readings.map((r) => ({ arm: name, hour: r.minute / 60, value: r.value })));
        return { ...(bands as NonNullable<typeof bands>), agp: ambulatoryGlucoseProfile(readings) };
      };
      const svg = await renderSvg(glucoseBandsSpec([arm('dqn', 0), arm('basal-bolus', 40)]));
      const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1] ?? '');
      expect(texts.some((t) => t.startsWith('Ambulatory glucose profile'))).toBe(true);
      expect(texts.filter((t) => t.startsWith('dqn: 864 readings'))).toHaveLength(1);
      expect(texts.filter((t) => t.startsWith('basal-bolus: 864 readings'))).toHaveLength(1);
      for (const r of ['&lt; 54 mg/dL', '54–69 mg/dL', '70–180 mg/dL', '181–250 mg/dL', '&gt; 250 mg/dL']) expect(texts.filter((t) => t.startsWith(r))).toHaveLength(2);
      expect(texts).toContain('12:00');
      expect(warnings).toEqual([]);
    } finally {
      vi.restoreAllMocks();
    }
  });
});
