import { describe, expect, it } from 'vitest';
import {
  basalFromParams,
  basalState,
  DM2007_NORMAL,
  DM2007_T2D,
  DM2007Model,
  type DM2007Params,
  T2D,
  T2D_STATE_DIM,
  withBasal,
} from '../../../environments/glucose-t2d/model.js';
import { T2DPatient } from '../../../environments/glucose-t2d/patient.js';

interface Course {
  glucose: number[];
  insulin: number[];
}

/** Minute-by-minute plasma glucose and insulin after a meal eaten from minute 0. */
function course(p: DM2007Params, carbsG: number, eatRateGPerMin: number, minutes: number, absorption = 1): Course {
  const pt = new T2DPatient(p);
  pt.eat({ carbsG, eatRateGPerMin, absorption });
  const glucose: number[] = [];
  const insulin: number[] = [];
  for (let t = 0; t <= minutes; t++) {
    glucose.push(pt.plasmaGlucose);
    insulin.push(pt.plasmaInsulin);
    pt.step();
  }
  return { glucose, insulin };
}

function peak(xs: number[]): { value: number; at: number } {
  let at = 0;
  for (let i = 1; i < xs.length; i++) if ((xs[i] as number) > (xs[at] as number)) at = i;
  return { value: xs[at] as number, at };
}

describe('Dalla Man, Rizza & Cobelli 2007 (IEEE TBME 54:1740), Table 1 parameter sets', () => {
  it('derives the basal state from each set: normal ≈ the GIM defaults (Gb 91.76, Ib 25.49, EGPb 1.92)', () => {
    const n = basalFromParams(DM2007_NORMAL);
    expect(n.Gb).toBeCloseTo(91.8, 1);
    expect(n.Ib).toBeCloseTo(25.59, 2);
    expect(n.EGPb).toBeCloseTo(1.916, 3);
    expect(n.Sb).toBeCloseTo((0.6471 - 0.6) / 0.0304, 12);
    const t = basalFromParams(DM2007_T2D);
    expect(t.Gb).toBeCloseTo(159.2, 1);
    expect(t.Ib).toBeCloseTo(59.85, 2);
    expect(t.EGPb).toBeCloseTo(1.992, 3);
    // fasting plasma glucose ≥ 126 mg/dL is diagnostic of diabetes (ADA); the normal set is < 100
    expect(t.Gb).toBeGreaterThanOrEqual(126);
    expect(n.Gb).toBeLessThan(100);
  });

  it('every derivative is ≈ 0 at the basal state of both sets, and 24 h without food stay there', () => {
    for (const p of [DM2007_NORMAL, DM2007_T2D]) {
      const b = basalFromParams(p);
      const m = new DM2007Model(p, b);
      const x = basalState(b);
      const dx = new Float64Array(T2D_STATE_DIM);
      m.rhs(0, x, dx);
      for (let i = 0; i < T2D_STATE_DIM; i++) expect(Math.abs(dx[i] as number)).toBeLessThan(1e-12);
      const pt = new T2DPatient(p);
      pt.advance(1440);
      expect(Math.abs(pt.plasmaGlucose - b.Gb)).toBeLessThan(1e-9);
      expect(Math.abs(pt.plasmaInsulin - b.Ib)).toBeLessThan(1e-9);
    }
  });

  it('withBasal re-derives kp1 and Vm0 (the steady-state identities) and reproduces Table 1 at the derived basal', () => {
    for (const p of [DM2007_NORMAL, DM2007_T2D]) {
      const b = basalFromParams(p);
      const { params } = withBasal(p, b.Gb, b.EGPb);
      expect(params.kp1).toBeCloseTo(p.kp1, 10);
      expect(params.Vm0).toBeCloseTo(p.Vm0, 10);
    }
    const { params, basal } = withBasal(DM2007_T2D, 180, 2.2);
    const pt = new T2DPatient(params, { basal });
    pt.advance(600);
    expect(pt.plasmaGlucose).toBeCloseTo(180, 9);
    expect(() => withBasal(DM2007_T2D, 180, 0.5)).toThrow(/EGPb > Fcns/);
  });

  it('mixed meal (1 g carbohydrate/kg, the paper\'s meal size): T2D peaks higher and later, insulin is delayed and its early response blunted', () => {
    const n = course(DM2007_NORMAL, DM2007_NORMAL.BW, 5, 420);
    const t = course(DM2007_T2D, DM2007_T2D.BW, 5, 420);
    const gn = peak(n.glucose);
    const gt = peak(t.glucose);
    const inN = peak(n.insulin);
    const inT = peak(t.insulin);
    // normal: a modest excursion that is back near basal by 4–5 h (model: 158 mg/dL at 74 min, README)
    expect(gn.value).toBeGreaterThan(130);
    expect(gn.value).toBeLessThan(180);
    expect(gn.at).toBeGreaterThanOrEqual(30);
    expect(gn.at).toBeLessThanOrEqual(90);
    expect(Math.abs((n.glucose[300] as number) - (n.glucose[0] as number))).toBeLessThan(10);
    // T2D: higher and later glucose peak (model: 296 mg/dL at 130 min), still above basal at 5 h
    expect(gt.value).toBeGreaterThan(gn.value + 80);
    expect(gt.at).toBeGreaterThan(gn.at + 30);
    expect(t.glucose[300] as number).toBeGreaterThan((t.glucose[0] as number) + 15);
    // insulin: T2D peak later; early response per glucose rise (insulinogenic index ΔI30/ΔG30) blunted
    expect(inT.at).toBeGreaterThan(inN.at + 30);
    const igi = (c: Course): number => ((c.insulin[30] as number) - (c.insulin[0] as number)) / ((c.glucose[30] as number) - (c.glucose[0] as number));
    expect(igi(t)).toBeLessThan(0.7 * igi(n));
    // normal insulin peaks within the first 2 h, several-fold over basal
    expect(inN.at).toBeLessThanOrEqual(120);
    expect(inN.value).toBeGreaterThan(5 * (n.insulin[0] as number));
  });

  it('OGTT, 75 g glucose drunk in 5 min: 2-h plasma glucose < 140 mg/dL (normal) and ≥ 200 mg/dL (T2D), ADA criteria', () => {
    const n = course(DM2007_NORMAL, 75, 15, 120);
    const t = course(DM2007_T2D, 75, 15, 120);
    expect(n.glucose[120] as number).toBeLessThan(140);
    expect(t.glucose[120] as number).toBeGreaterThanOrEqual(200);
  });

  it('meal mass balance: the rate of appearance integrates to f·D, whatever the absorption multiplier', () => {
    for (const p of [DM2007_NORMAL, DM2007_T2D]) {
      for (const absorption of [0.5, 1, 1.5]) {
        const pt = new T2DPatient(p);
        pt.eat({ carbsG: 60, absorption });
        let absorbed = 0;
        // Ra·BW is f·kabs·Qgut; integrate it exactly over each minute as the difference of gut contents
        for (let t = 0; t < 3000; t++) {
          const before = pt.state[T2D.Qsto1]! + pt.state[T2D.Qsto2]! + pt.state[T2D.Qgut]!;
          const eatenNow = Math.min(5, 60 - pt.ingestedMg / 1000) * 1000;
          pt.step();
          const after = pt.state[T2D.Qsto1]! + pt.state[T2D.Qsto2]! + pt.state[T2D.Qgut]!;
          absorbed += p.f * (before + eatenNow - after);
        }
        expect(pt.ingestedMg).toBe(60_000);
        expect(absorbed / (p.f * 60_000)).toBeCloseTo(1, 6);
        // and the trapezoid of Ra itself agrees
        const q = new T2DPatient(p);
        q.eat({ carbsG: 60, absorption });
        let ra = 0;
        for (let t = 0; t < 3000; t++) {
          const r0 = q.rateOfAppearance;
          q.step();
          ra += 0.5 * (r0 + q.rateOfAppearance) * p.BW;
        }
        expect(ra / (p.f * 60_000)).toBeCloseTo(1, 3);
      }
    }
  });

  it('the default RK4 step (0.5 min) is within 1e-3 mg/dL of a 0.01-min solution over a 4-meal day', () => {
    for (const p of [DM2007_NORMAL, DM2007_T2D]) {
      const a = new T2DPatient(p);
      const b = new T2DPatient(p, { rk4Step: 0.01 });
      let worst = 0;
      for (let t = 0; t < 1440; t++) {
        for (const pt of [a, b]) {
          if (t === 420) pt.eat({ carbsG: 50, absorption: 1.3 });
          if (t === 720) pt.eat({ carbsG: 70, absorption: 0.6 });
          if (t === 760) pt.eat({ carbsG: 20 });
          if (t === 1080) pt.eat({ carbsG: 80 });
        }
        a.step();
        b.step();
        worst = Math.max(worst, Math.abs(a.plasmaGlucose - b.plasmaGlucose));
      }
      expect(worst).toBeLessThan(1e-3);
    }
  });

  it('getState/setState resumes bit for bit', () => {
    const a = new T2DPatient(DM2007_T2D);
    a.eat({ carbsG: 40 });
    a.advance(3);
    const saved = a.getState();
    a.advance(200);
    const b = new T2DPatient(DM2007_T2D);
    b.setState(JSON.parse(JSON.stringify(saved)));
    b.advance(200);
    expect(Array.from(b.state)).toEqual(Array.from(a.state));
    expect(() => b.setState({ ...saved, state: [1, 2] })).toThrow(/state.state/);
  });
});
