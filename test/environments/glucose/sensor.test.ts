import { describe, expect, it } from 'vitest';
import { Rng } from '../../../engine/random.js';
import { SENSORS } from '../../../environments/glucose/params.js';
import { CgmSensor, splineWeights } from '../../../environments/glucose/sensor.js';

function noiseStats(name: string, spline: 'not-a-knot' | 'natural' = 'not-a-knot', n = 200_000) {
  const s = new CgmSensor(SENSORS[name] as (typeof SENSORS)[string], { spline });
  s.reset(Rng.fromSeed(1).fork('sensor'));
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = s.nextNoise();
  let mean = 0;
  for (const v of x) mean += v;
  mean /= n;
  let v2 = 0;
  let c = 0;
  for (let i = 0; i < n; i++) {
    const d = (x[i] as number) - mean;
    v2 += d * d;
    if (i > 0) c += d * ((x[i - 1] as number) - mean);
  }
  return { mean, sd: Math.sqrt(v2 / n), lag1: c / v2 };
}

describe('cubic spline weights', () => {
  it('interpolate the knots exactly (sampling every 15 min returns the knots)', () => {
    const w = splineWeights(11, 15, 15, 10, 'not-a-knot');
    for (let j = 0; j < 10; j++) for (let i = 0; i < 11; i++) expect(w[j * 11 + i]).toBeCloseTo(i === j + 1 ? 1 : 0, 12);
  });

  it('not-a-knot reproduces a cubic exactly; natural reproduces a line', () => {
    const cubic = (t: number) => 2 - 0.3 * t + 0.01 * t * t + 1e-4 * t ** 3;
    const line = (t: number) => 3 + 0.7 * t;
    for (const [kind, fn] of [
      ['not-a-knot', cubic],
      ['natural', line],
    ] as const) {
      const w = splineWeights(11, 15, 5, 30, kind);
      for (let j = 0; j < 30; j++) {
        let s = 0;
        for (let i = 0; i < 11; i++) s += (w[j * 11 + i] as number) * fn(i * 15);
        expect(s).toBeCloseTo(fn((j + 1) * 5), 9);
      }
    }
  });
});

describe('CGM noise (Breton & Kovatchev 2008, simglucose parameters) at seed 1, 200 000 readings', () => {
  it('GuardianRT: mean ≈ +0.87, sd ≈ 11.6 mg/dL, lag-1 autocorrelation ≈ 0.954', () => {
    const s = noiseStats('GuardianRT');
    expect(Math.abs(s.mean - 0.87)).toBeLessThan(0.3);
    expect(Math.abs(s.sd - 11.6)).toBeLessThan(0.4);
    expect(Math.abs(s.lag1 - 0.954)).toBeLessThan(0.004);
  });

  it('Dexcom (3 min) lag-1 ≈ 0.983 and Navigator (1 min) ≈ 0.998', () => {
    expect(Math.abs(noiseStats('Dexcom').lag1 - 0.983)).toBeLessThan(0.003);
    expect(Math.abs(noiseStats('Navigator', 'not-a-knot', 100_000).lag1 - 0.998)).toBeLessThan(0.001);
  });

  it('the natural spline is smoother than scipy interp1d cubic (not-a-knot), which the published 0.954 matches', () => {
    expect(noiseStats('GuardianRT', 'natural').lag1).toBeGreaterThan(0.958);
  });
});

describe('CgmSensor readings', () => {
  const guardian = SENSORS.GuardianRT as (typeof SENSORS)[string];

  it('clips to [39, 600] (GuardianRT) and [32, 600] (Navigator)', () => {
    const quiet = new CgmSensor(guardian, { noise: false });
    quiet.reset(Rng.fromSeed(1));
    expect(quiet.measure(20, 0)).toBe(39);
    expect(quiet.measure(700, 5)).toBe(600);
    expect(quiet.measure(123.4, 10)).toBe(123.4);
    const nav = new CgmSensor(SENSORS.Navigator as (typeof SENSORS)[string], { noise: false });
    nav.reset(Rng.fromSeed(1));
    expect(nav.measure(10, 0)).toBe(32);
    const noisy = new CgmSensor(guardian);
    noisy.reset(Rng.fromSeed(2));
    for (let t = 0; t < 5000; t += 5) {
      const low = noisy.measure(40, t);
      expect(low).toBeGreaterThanOrEqual(39);
      expect(noisy.measure(595, t + 5)).toBeLessThanOrEqual(600);
    }
  });

  it('produces a new value only when minute % sampleTime == 0 and holds it in between', () => {
    const s = new CgmSensor(guardian);
    s.reset(Rng.fromSeed(3));
    const readings: number[] = [];
    for (let t = 0; t < 60; t++) readings.push(s.measure(150 + t, t));
    for (let t = 1; t < 60; t++) {
      if (t % 5 === 0) expect(readings[t]).not.toBe(readings[t - 1]);
      else expect(readings[t]).toBe(readings[t - 1]);
    }
  });

  it('the same stream gives the same noise; save/restore continues identically', () => {
    const a = new CgmSensor(guardian);
    const b = new CgmSensor(guardian);
    a.reset(Rng.fromSeed(9).fork('sensor'));
    b.reset(Rng.fromSeed(9).fork('sensor'));
    for (let i = 0; i < 47; i++) expect(a.nextNoise()).toBe(b.nextNoise());
    const saved = JSON.parse(JSON.stringify(a.getState()));
    const c = new CgmSensor(guardian);
    c.setState(saved);
    for (let i = 0; i < 100; i++) expect(c.nextNoise()).toBe(a.nextNoise());
    const other = new CgmSensor(guardian);
    other.reset(Rng.fromSeed(10).fork('sensor'));
    expect(other.nextNoise()).not.toBe(b.nextNoise());
  });

  it('reading before reset is refused', () => {
    expect(() => new CgmSensor(guardian).measure(100, 0)).toThrow(/reset/);
  });
});
