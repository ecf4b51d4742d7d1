import { describe, expect, it } from 'vitest';
import { T1DPatient } from '../../../environments/glucose/patient.js';
import { expm, FAST_STATE_DIM, FastModel, StomachTrack, stomachOutflow } from '../../../twinning/glucose/fast-model.js';
import { glucoseTwinPriors, patientForTheta } from '../../../twinning/glucose/parameters.js';
import { initialStateFromCgm, simulateSlots, type SlotInputs, slotInsulin } from '../../../twinning/glucose/simulate.js';

const ctx = { group: 'adult' as const, bodyWeightKg: 72, basalUPerH: 0.9 };

function mealDays(days: number): SlotInputs & { basalUPerH: Float64Array; bolusU: Float64Array; carbsG: Float64Array } {
  const n = days * 288;
  const basalUPerH = new Float64Array(n).fill(0.9);
  const bolusU = new Float64Array(n);
  const carbsG = new Float64Array(n);
  for (let d = 0; d < days; d++) {
    for (const [h, c, b] of [
      [7, 45, 4],
      [12.5, 70, 6.5],
      [18, 80, 7],
      [22, 0, 1.5],
    ] as const) {
      const k = d * 288 + Math.round(h * 12);
      carbsG[k] = c;
      bolusU[k] = b;
    }
    basalUPerH.fill(1.2, d * 288 + 48, d * 288 + 84); // dawn-phenomenon temp basal
  }
  return { basalUPerH, bolusU, carbsG };
}

describe('fast model of a personal glucose twin', () => {
  const theta = glucoseTwinPriors('adult').map((p, i) => p.mean + (i === 0 ? 0.3 : i === 2 ? -0.4 : 0));
  const p = patientForTheta(theta, ctx);
  if (p === undefined) throw new Error('prior mean must have a steady state');
  const inputs = mealDays(2);
  const n = inputs.carbsG.length;

  it('matches the glucose twin (T1DPatient, Dormand–Prince rtol 1e-10) within 0.1 mg/dL over two meal days with boluses', () => {
    const x0 = initialStateFromCgm(p, 160);
    const ref = new Float64Array(n);
    const patient = new T1DPatient(p, { integrator: 'dopri5', rtol: 1e-10, atol: 1e-10, initialState: x0 });
    for (let k = 0; k < n; k++) {
      ref[k] = patient.subcutaneousGlucose;
      const u = slotInsulin(inputs, k);
      patient.step(u, inputs.carbsG[k] as number);
      for (let m = 1; m < 5; m++) patient.step(u, 0);
    }
    const model = new FastModel(p);
    const state = model.fromFullState(x0, new Float64Array(FAST_STATE_DIM));
    const outflow = stomachOutflow(p, inputs.carbsG, n);
    let worst = 0;
    for (let k = 0; k < n; k++) {
      worst = Math.max(worst, Math.abs(model.gsub(state) - (ref[k] as number)));
      model.stepSlot(state, slotInsulin(inputs, k), outflow, 5 * k);
    }
    expect(worst).toBeLessThan(0.1);
    expect(Math.max(...ref) - Math.min(...ref)).toBeGreaterThan(50); // a real excursion was compared
  });

  it('delivers exactly the logged insulin and carbohydrate, whatever the integration step (ReplayBG issue #58 class)', () => {
    let insulin = 0;
    for (let k = 0; k < n; k++) insulin += 5 * slotInsulin(inputs, k);
    const logged = inputs.bolusU.reduce((s, v) => s + v, 0) + inputs.basalUPerH.reduce((s, v) => s + v / 12, 0);
    expect(insulin).toBeCloseTo(logged, 9);
    // mass balance of the stomach: what left it plus what is still in it (or not yet eaten) = what was logged
    const stomach = new StomachTrack(p);
    const outflow = new Float64Array(5 * n);
    for (let k = 0; k < n; k++) stomach.advanceSlot(inputs.carbsG[k] as number, outflow, 5 * k);
    const emptied = outflow.reduce((s, v) => s + v, 0);
    expect((emptied + stomach.contentMg) / 1000).toBeCloseTo(
      inputs.carbsG.reduce((s, v) => s + v, 0),
      9,
    );
    // and the twin's reference integrator gives the same glucose at two different step sizes
    const x0 = initialStateFromCgm(p, 160);
    const a = new Float64Array(n);
    simulateSlots(p, inputs, 0, n, x0, a);
    const fine = new T1DPatient(p, { rk4Step: 0.1, rk4EatingStep: 0.01, initialState: x0 });
    let worst = 0;
    for (let k = 0; k < n; k++) {
      worst = Math.max(worst, Math.abs(fine.subcutaneousGlucose - (a[k] as number)));
      const u = slotInsulin(inputs, k);
      fine.step(u, inputs.carbsG[k] as number);
      for (let m = 1; m < 5; m++) fine.step(u, 0);
    }
    expect(worst).toBeLessThan(0.01);
  });

  it('expm: exp of a diagonal and of a nilpotent matrix are exact', () => {
    const d = expm(new Float64Array([-2, 0, 0, 0.5]), 2);
    expect(d[0]).toBeCloseTo(Math.exp(-2), 14);
    expect(d[3]).toBeCloseTo(Math.exp(0.5), 14);
    const n2 = expm(new Float64Array([0, 3, 0, 0]), 2); // exp([[0,3],[0,0]]) = [[1,3],[0,1]]
    expect(Array.from(n2)).toEqual([1, 3, 0, 1]);
  });
});
