import { describe, expect, it } from 'vitest';
import type { EpisodeLog } from '../../../engine/episode-log.js';
import {
  bgRisk,
  cvGlucose,
  cvga,
  GLUCOSE_ENDPOINTS,
  gmi,
  hbgi,
  lbgi,
  meanGlucose,
  sdGlucose,
  timeAbove180,
  timeAbove250,
  timeBelow54,
  timeBelow70,
  timeInRange,
} from '../../../environments/glucose/endpoints.js';

// Boundary values 54, 70, 180, 250 and their neighbours; hand-computed expectations below.
const TRACE = [54, 70, 180, 250, 53.9, 180.1, 250.1, 100];

describe('consensus CGM metrics (Battelino 2019) on a fixed trace', () => {
  it('time in ranges with the documented boundary conventions', () => {
    expect(timeInRange(TRACE)).toBe(37.5); // 70, 180, 100 — both ends inclusive
    expect(timeBelow70(TRACE)).toBe(25); // 54, 53.9
    expect(timeBelow54(TRACE)).toBe(12.5); // 53.9 only: 54 is not < 54
    expect(timeAbove180(TRACE)).toBe(37.5); // 250, 180.1, 250.1
    expect(timeAbove250(TRACE)).toBe(12.5); // 250.1 only
    expect(timeInRange(TRACE) + timeBelow70(TRACE) + timeAbove180(TRACE)).toBe(100);
  });

  it('mean, sample SD, CV and GMI', () => {
    expect(meanGlucose(TRACE)).toBeCloseTo(1138.1 / 8, 12); // 142.2625
    expect(sdGlucose(TRACE)).toBeCloseTo(83.40801498828344, 9);
    expect(cvGlucose(TRACE)).toBeCloseTo(58.62965643671625, 9);
    expect(gmi(TRACE)).toBeCloseTo(3.31 + 0.02392 * 142.2625, 12); // 6.712919
    expect(gmi([154])).toBeCloseTo(6.99368, 5); // 154 mg/dL ≈ GMI 7.0 %
    expect(sdGlucose([120])).toBe(0);
  });

  it('LBGI/HBGI average rl/rh over all readings (Kovatchev)', () => {
    expect(lbgi(TRACE)).toBeCloseTo(5.656580903949874, 9);
    expect(hbgi(TRACE)).toBeCloseTo(7.546500763126341, 9);
    expect(lbgi([200, 250])).toBe(0);
    expect(hbgi([60, 80])).toBe(0);
  });

  it('risk is ≈0 at 112.5 mg/dL, symmetric 70 ↔ 180, capped at 100 below 20', () => {
    expect(bgRisk(112.5)).toBeLessThan(1e-5);
    expect(bgRisk(70)).toBeCloseTo(7.755205570609446, 9);
    expect(bgRisk(180)).toBeCloseTo(7.729311510542555, 9);
    expect(bgRisk(40)).toBeCloseTo(36.41754676619226, 9);
    expect(bgRisk(20)).toBe(100);
    expect(bgRisk(5)).toBe(100);
    expect(bgRisk(600)).toBeCloseTo(99.948, 3);
    expect(bgRisk(900)).toBe(bgRisk(600));
  });

  it('rejects empty and non-positive series naming the metric', () => {
    expect(() => timeInRange([])).toThrow(/tir.*empty/);
    expect(() => meanGlucose([100, Number.NaN])).toThrow(/glucose\[1\]/);
  });
});

describe('CVGA (Magni et al. 2008)', () => {
  const zone = (min: number, max: number) => cvga([min, (min + max) / 2, max]).zone;
  it('places (min, max) in the nine zones', () => {
    expect(zone(95, 170)).toBe('A');
    expect(zone(80, 170)).toBe('Lower B');
    expect(zone(95, 250)).toBe('Upper B');
    expect(zone(80, 250)).toBe('B');
    expect(zone(60, 170)).toBe('Lower C');
    expect(zone(95, 350)).toBe('Upper C');
    expect(zone(60, 250)).toBe('Lower D');
    expect(zone(80, 350)).toBe('Upper D');
    expect(zone(60, 350)).toBe('E');
  });
  it('boundaries: min 90 and 70 belong to the better band, max 180 and 300 too', () => {
    expect(zone(90, 180)).toBe('A');
    expect(zone(89.9, 180.1)).toBe('B');
    expect(zone(70, 300)).toBe('B');
    expect(zone(69.9, 300.1)).toBe('E');
    expect(cvga([70, 300]).grade).toBe(2);
    expect(cvga([60, 350]).grade).toBe(5);
  });
});

function fakeLog(bg: number[], cgm: number[], termination = ''): EpisodeLog {
  return {
    version: 1,
    envId: 'glucose/t1d-v1',
    seed: 1,
    initialObservation: [],
    resetInfo: { bg: 140, cgm: 140 },
    steps: bg.map((g, i) => ({
      step: i,
      action: 2,
      reward: 0,
      observation: [],
      terminated: i === bg.length - 1 && termination !== '',
      truncated: false,
      info: { bg: g, cgm: cgm[i], insulinU: 0.1, termination: i === bg.length - 1 ? termination : '' },
    })),
    keyframes: [],
    totalReward: 0,
    length: bg.length,
    terminated: termination !== '',
    truncated: false,
    hash: '',
  };
}

describe('endpoint definitions on an episode log', () => {
  const byId = (id: string) => {
    const e = GLUCOSE_ENDPOINTS.find((d) => d.id === id);
    if (!e) throw new Error(`no endpoint ${id}`);
    return e;
  };
  it('compute from step infos (true glucose and CGM separately), excluding the reset value', () => {
    const cgm = TRACE.map((g) => g + 20);
    const log = fakeLog(TRACE, cgm);
    expect(byId('tir').compute(log)).toBe(37.5);
    expect(byId('tbr54').compute(log)).toBe(12.5);
    expect(byId('tir_cgm').compute(log)).toBe(timeInRange(cgm));
    expect(byId('mean_bg').compute(log)).toBeCloseTo(142.2625, 10);
    expect(byId('cvga_grade').compute(log)).toBe(4); // min 53.9, max 250.1: Lower D
    expect(byId('cvga_ab').compute(log)).toBe(0);
    expect(byId('total_insulin').compute(log)).toBeCloseTo(0.8, 12);
    expect(byId('severe_hypo').compute(log)).toBe(0);
    expect(byId('severe_hypo').compute(fakeLog([100, 38], [100, 40], 'hypoglycaemia'))).toBe(1);
  });
  it('declares ids once, safety endpoints flagged, binary endpoints binary', () => {
    const ids = GLUCOSE_ENDPOINTS.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ['tbr70', 'tbr54', 'severe_hypo', 'lbgi']) expect(byId(id).safety).toBe(true);
    expect(byId('cvga_ab').kind).toBe('binary');
  });
});
