import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TwinlabError } from '../../../engine/errors.js';
import { S, STATE_DIM, T1DModel } from '../../../environments/glucose/model.js';
import { basalRate, dataDir, PUMPS, patientNames, SENSORS } from '../../../environments/glucose/params.js';
import { DEFAULT_RK4_STEP, type PatientOptions, T1DPatient } from '../../../environments/glucose/patient.js';
import { getPatient, getTherapy } from '../../../environments/glucose/patients.js';

/** Run a day (1440 min) with 3 meals and CR boluses; returns BG (Gp/Vg) and Gsub (Gs/Vg) at every minute 0…1440. */
function mealDay(name: string, options: PatientOptions, hard = false): { bg: Float64Array; gs: Float64Array } {
  const p = getPatient(name);
  const cr = getTherapy(name).carbRatio;
  const sim = new T1DPatient(p, options);
  const basal = basalRate(p);
  // "hard": overlapping announcements, a 100 g meal, boluses at the meal minute with a 1 U correction.
  const meals: Record<number, number> = hard ? { 400: 45, 405: 30, 700: 100, 1000: 10, 1150: 80 } : { 420: 50, 720: 70, 1080: 80 };
  const bolus: Record<number, number> = {};
  for (const [t, g] of Object.entries(meals)) bolus[Number(t) + (hard ? 0 : 15)] = g / cr + (hard ? 1 : 0);
  const bg = new Float64Array(1441);
  const gs = new Float64Array(1441);
  for (let t = 0; t < 1440; t++) {
    bg[t] = sim.plasmaGlucose;
    gs[t] = sim.subcutaneousGlucose;
    sim.step(basal + (bolus[t] ?? 0), meals[t] ?? 0);
  }
  bg[1440] = sim.plasmaGlucose;
  gs[1440] = sim.subcutaneousGlucose;
  return { bg, gs };
}

function maxAbsDiff(a: Float64Array, b: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

describe('glucose parameters', () => {
  it('loads 30 patients (10 per group) with 13 initial states and Quest therapy; sensors and pumps', () => {
    expect(patientNames()).toHaveLength(30);
    for (const g of ['adolescent', 'adult', 'child'] as const) expect(patientNames(g)).toHaveLength(10);
    const p = getPatient('adolescent#001');
    expect(p.x0).toHaveLength(STATE_DIM);
    expect(p.BW).toBe(68.706);
    expect(p.x0[S.Gp]).toBe(250.621836); // x0_ 4 header with a space
    expect(p.x0[S.Gp] as number).toBeCloseTo(p.Gb * p.Vg, 5);
    expect(getTherapy('adolescent#001')).toEqual({ carbRatio: 12, correctionFactor: 15.0360283441, age: 18, tdi: 36.7339146827 });
    expect(Object.keys(SENSORS).sort()).toEqual(['Dexcom', 'GuardianRT', 'Navigator']);
    expect(SENSORS.Dexcom?.sampleTime).toBe(3);
    expect(SENSORS.Navigator?.min).toBe(32);
    expect(PUMPS.Insulet?.maxBasal).toBe(30);
    expect(PUMPS.Cozmo?.maxBolus).toBe(75);
  });

  it('finds the data folder next to the source, and from a compiled dist/environments/glucose/ module', () => {
    for (const f of ['vpatient_params.csv', 'Quest.csv', 'sensor_params.csv', 'pump_params.csv', 'README.md']) {
      expect(existsSync(`${dataDir()}${f}`), f).toBe(true);
    }
    const root = new URL('../../../', import.meta.url);
    const compiled = new URL('dist/environments/glucose/params.js', root).href;
    expect(dataDir(compiled)).toBe(dataDir());
    expect(() => dataDir(pathToFileURL('/nonexistent/a/b/params.js').href)).toThrow(/not found/);
  });

  it('unknown patient → NOT_FOUND listing the valid names; copies are independent', () => {
    try {
      getPatient('adult#011');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TwinlabError);
      expect((e as TwinlabError).code).toBe('NOT_FOUND');
      expect((e as TwinlabError).message).toContain("'adult#011'");
      expect((e as TwinlabError).message).toContain('child#010');
    }
    const a = getPatient('adult#001');
    a.x0[S.Gp] = 0;
    a.BW = 1;
    expect(getPatient('adult#001').BW).toBe(102.32);
    expect(getPatient('adult#001').x0[S.Gp]).toBeGreaterThan(0);
  });
});

describe('UVA/Padova T1D model', () => {
  it('every patient rests at Gb for 24 h on basal u2ss·BW/6000 without meals (plasma and subcutaneous)', () => {
    for (const name of patientNames()) {
      const p = getPatient(name);
      const sim = new T1DPatient(p);
      const basal = basalRate(p);
      let worst = 0;
      for (let t = 0; t < 1440; t++) {
        sim.step(basal, 0);
        worst = Math.max(worst, Math.abs(sim.plasmaGlucose - p.Gb), Math.abs(sim.subcutaneousGlucose - p.Gb));
      }
      expect(worst, name).toBeLessThan(1e-6);
    }
  });

  it('the model right-hand side vanishes at the basal state with the basal input', () => {
    for (const name of patientNames()) {
      const p = getPatient(name);
      const m = new T1DModel(p);
      m.insulin = basalRate(p);
      const dx = new Float64Array(STATE_DIM);
      m.rhs(0, Float64Array.from(p.x0), dx);
      // Scale: the largest flux through Gp at basal is k1·Gpb ≈ 10–30 mg/kg/min.
      for (let i = 0; i < STATE_DIM; i++) expect(Math.abs(dx[i] as number), `${name} x${i + 1}`).toBeLessThan(1e-6);
    }
  });

  it('carbohydrate absorbed into plasma, ∫Ra·BW dt over 12 h, equals f × 50 g within 1% for every patient', () => {
    for (const name of patientNames()) {
      const p = getPatient(name);
      const sim = new T1DPatient(p);
      const basal = basalRate(p);
      let absorbed = 0; // mg, trapezoid on the 1-min grid
      let prev = sim.rateOfAppearance;
      for (let t = 0; t < 720; t++) {
        sim.step(basal, t === 0 ? 50 : 0);
        const ra = sim.rateOfAppearance;
        absorbed += 0.5 * (prev + ra) * p.BW;
        prev = ra;
      }
      expect(absorbed / (p.f * 50_000), name).toBeGreaterThan(0.99);
      expect(absorbed / (p.f * 50_000), name).toBeLessThan(1.01);
    }
  });

  it('a 50 g meal is eaten at 5 g/min over exactly 10 minutes; overlapping announcements accumulate', () => {
    const p = getPatient('adult#001');
    const sim = new T1DPatient(p);
    const eaten: number[] = [];
    for (let t = 0; t < 15; t++) {
      sim.step(basalRate(p), t === 2 ? 50 : 0);
      eaten.push(sim.carbsEatenLastStep);
    }
    expect(eaten).toEqual([0, 0, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 0, 0, 0]);
    expect(sim.plannedCarbs).toBe(0);
    // Stomach holds (almost) all 50 g right after the meal: D̄ bookkeeping starts from an empty stomach.
    expect((sim.state[S.Qsto1] as number) + (sim.state[S.Qsto2] as number) + (sim.state[S.Qgut] as number)).toBeGreaterThan(40_000);

    sim.reset();
    const eaten2: number[] = [];
    const planned: number[] = [];
    const announce: Record<number, number> = { 0: 12, 1: 10, 3: 1.5 };
    for (let t = 0; t < 8; t++) {
      sim.step(0, announce[t] ?? 0);
      eaten2.push(sim.carbsEatenLastStep);
      planned.push(sim.plannedCarbs);
    }
    expect(eaten2).toEqual([5, 5, 5, 5, 3.5, 0, 0, 0]);
    expect(planned).toEqual([7, 12, 7, 3.5, 0, 0, 0, 0]);
  });

  it('the default integrator agrees with Dormand–Prince at rtol = atol = 1e-10 to ≤ 0.002 mg/dL on meal days with boluses', () => {
    for (const name of ['adolescent#010', 'adult#001', 'adult#006', 'child#007', 'child#009']) {
      for (const hard of [false, true]) {
        const ref = mealDay(name, { integrator: 'dopri5', rtol: 1e-10, atol: 1e-10 }, hard);
        const rk4 = mealDay(name, {}, hard);
        expect(maxAbsDiff(rk4.bg, ref.bg), `${name} bg hard=${hard}`).toBeLessThan(0.002);
        expect(maxAbsDiff(rk4.gs, ref.gs), `${name} gsub hard=${hard}`).toBeLessThan(0.002);
        // simglucose's setting (dopri5 rtol 1e-6) is itself within 0.01 of the tight solution.
        const dp6 = mealDay(name, { integrator: 'dopri5' }, hard);
        expect(maxAbsDiff(dp6.bg, ref.bg), `${name} dopri5 1e-6`).toBeLessThan(0.01);
      }
    }
  });

  it('a uniform RK4 step of 1 min would not be accurate enough on meal days (why eating minutes get a finer step)', () => {
    const ref = mealDay('adult#006', { integrator: 'dopri5', rtol: 1e-10, atol: 1e-10 });
    const coarse = mealDay('adult#006', { rk4Step: 1, rk4EatingStep: 1 });
    const dflt = mealDay('adult#006', {});
    expect(maxAbsDiff(coarse.bg, ref.bg)).toBeGreaterThan(0.01);
    expect(maxAbsDiff(dflt.bg, ref.bg)).toBeLessThan(maxAbsDiff(coarse.bg, ref.bg) / 50);
    expect(DEFAULT_RK4_STEP).toBeLessThanOrEqual(1);
  });

  it('a meal raises glucose, insulin lowers it (adult#001: 50 g unbolused peaks at 180–260 mg/dL within 1–5 h)', () => {
    const p = getPatient('adult#001');
    const basal = basalRate(p);
    const meal = new T1DPatient(p);
    let peak = 0;
    let peakAt = 0;
    for (let t = 0; t < 480; t++) {
      meal.step(basal, t === 0 ? 50 : 0);
      if (meal.plasmaGlucose > peak) {
        peak = meal.plasmaGlucose;
        peakAt = t + 1;
      }
    }
    expect(peak).toBeGreaterThan(180);
    expect(peak).toBeLessThan(260);
    expect(peakAt).toBeGreaterThan(60);
    expect(peakAt).toBeLessThan(300);

    const bolused = new T1DPatient(p);
    let bolusedPeak = 0;
    for (let t = 0; t < 480; t++) {
      bolused.step(basal + (t === 0 ? 50 / getTherapy(p.name).carbRatio : 0), t === 0 ? 50 : 0);
      bolusedPeak = Math.max(bolusedPeak, bolused.plasmaGlucose);
    }
    expect(bolusedPeak).toBeLessThan(peak - 20);

    const insulin = new T1DPatient(p);
    for (let t = 0; t < 240; t++) insulin.step(basal + (t === 0 ? 2 : 0), 0);
    expect(insulin.plasmaGlucose).toBeLessThan(p.Gb - 10);
    expect(insulin.plasmaInsulin).toBeGreaterThan(p.Ib);

    const noBasal = new T1DPatient(p);
    for (let t = 0; t < 240; t++) noBasal.step(0, 0);
    expect(noBasal.plasmaGlucose).toBeGreaterThan(p.Gb + 5);
  });

  it('getState/setState (through JSON) continues identically, mid-meal', () => {
    const p = getPatient('child#003');
    const basal = basalRate(p);
    const input = (t: number): [number, number] => [basal + (t === 425 ? 2 : 0), t === 420 ? 60 : t === 423 ? 10 : 0];
    const a = new T1DPatient(p);
    for (let t = 0; t < 424; t++) a.step(...input(t));
    const snapshot = JSON.parse(JSON.stringify(a.getState()));
    const b = new T1DPatient(p);
    b.setState(snapshot);
    expect(b.time).toBe(424);
    expect(b.plannedCarbs).toBe(a.plannedCarbs);
    for (let t = 424; t < 700; t++) {
      a.step(...input(t));
      b.step(...input(t));
    }
    expect(Array.from(b.state)).toEqual(Array.from(a.state));
    expect(b.time).toBe(a.time);
    expect(() => b.setState({ ...snapshot, state: [1, 2] })).toThrow(/13 values/);
  });

  it('rejects negative or non-finite inputs and bad options with messages naming them', () => {
    const sim = new T1DPatient(getPatient('adult#002'));
    expect(() => sim.step(-1, 0)).toThrow(/insulin.*-1/);
    expect(() => sim.step(0, Number.NaN)).toThrow(/carbohydrate.*NaN/);
    expect(() => new T1DPatient(getPatient('adult#002'), { rk4Step: 0 })).toThrow(/rk4Step/);
    expect(() => new T1DPatient(getPatient('adult#002'), { integrator: 'euler' as never })).toThrow(/integrator/);
  });
});
