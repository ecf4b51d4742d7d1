import { describe, expect, it } from 'vitest';
import { DormandPrince } from '../../../engine/ode.js';
import { individualPk, type VancoPk, vancoRhs } from '../../../environments/pkpd/vancomycin-model.js';
import { aucBetween, concentrations, type Dose, kinetics, steadyState } from '../../../twinning/vancomycin/model.js';

/** The population model's own ODE (environments/pkpd vancoRhs), Dormand–Prince at rtol 1e-12, split at every rate change. */
function odeConcentrations(pk: VancoPk, doses: Dose[], times: number[]): { c: number[]; auc: number[] } {
  const rhs = vancoRhs(pk);
  const dp = new DormandPrince(3, { rtol: 1e-12, atol: 1e-12 });
  const ev: { t: number; delta: number; bolus: boolean }[] = [];
  for (const d of doses) {
    if (d.durationH > 0)
      ev.push({ t: d.timeH, delta: d.amountMg / d.durationH, bolus: false }, { t: d.timeH + d.durationH, delta: -d.amountMg / d.durationH, bolus: false });
    else ev.push({ t: d.timeH, delta: d.amountMg, bolus: true });
  }
  ev.sort((a, b) => a.t - b.t);
  const y = new Float64Array(3);
  let t = 0;
  let e = 0;
  const c: number[] = [];
  const auc: number[] = [];
  for (const target of [...times].sort((a, b) => a - b)) {
    while (e < ev.length && (ev[e] as { t: number }).t <= target) {
      const next = ev[e] as { t: number; delta: number; bolus: boolean };
      if (next.t > t) dp.integrate(rhs.f, y, t, next.t);
      t = next.t;
      if (next.bolus) y[0] = (y[0] as number) + next.delta;
      else rhs.rate += next.delta;
      e++;
    }
    if (target > t) dp.integrate(rhs.f, y, t, target);
    t = target;
    c.push((y[0] as number) / pk.v1);
    auc.push(y[2] as number);
  }
  return { c, auc };
}

const patients: VancoPk[] = [
  individualPk(120, 70, false, { cl: 0, v1: 0, v2: 0 }),
  individualPk(40, 95, false, { cl: -0.5, v1: 0.8, v2: -0.4 }),
  individualPk(10, 60, true, { cl: 0.3, v1: -1.2, v2: 0.7 }),
];

describe('closed-form two-compartment infusion solution', () => {
  const doses: Dose[] = [
    { timeH: 0, amountMg: 2000, durationH: 2 },
    { timeH: 12, amountMg: 1000, durationH: 1 },
    { timeH: 24, amountMg: 1250, durationH: 1.25 },
    { timeH: 24.5, amountMg: 500, durationH: 0 }, // bolus during an infusion
    { timeH: 36, amountMg: 1500, durationH: 3 }, // overlaps nothing, long
    { timeH: 37, amountMg: 750, durationH: 1 }, // overlapping infusions add
  ];
  const times = [0.5, 1, 2, 5, 11.99, 12, 12.5, 24.25, 24.5, 25, 36.5, 37.5, 40, 60, 100];
  it.each(patients.map((p, i) => [i, p] as const))('matches the population ODE within 1e-6 relative (patient %i)', (_i, pk) => {
    const ode = odeConcentrations(pk, doses, times);
    const exact = concentrations(kinetics(pk), doses, times);
    for (let j = 0; j < times.length; j++) {
      expect(Math.abs((exact[j] as number) - (ode.c[j] as number)) / (ode.c[j] as number)).toBeLessThan(1e-6);
    }
    const auc = aucBetween(kinetics(pk), doses, 0, 100);
    expect(Math.abs(auc - (ode.auc[times.length - 1] as number)) / auc).toBeLessThan(1e-6);
    const part = aucBetween(kinetics(pk), doses, 12, 40);
    const odePart = (ode.auc[times.indexOf(40)] as number) - (ode.auc[times.indexOf(12)] as number);
    expect(Math.abs(part - odePart) / odePart).toBeLessThan(1e-6);
  });

  it('is independent of the order of the requested times', () => {
    const kin = kinetics(patients[1] as VancoPk);
    const a = concentrations(kin, doses, times);
    const b = concentrations(kin, doses, [...times].reverse());
    expect(Array.from(b).reverse()).toEqual(Array.from(a));
  });

  it('steady state equals the limit of repeated dosing (300 days), and AUC24 = daily dose / CL', () => {
    for (const pk of patients) {
      const kin = kinetics(pk);
      const reps: Dose[] = Array.from({ length: 600 }, (_, k) => ({ timeH: 12 * k, amountMg: 1250, durationH: 1.25 }));
      const ss = steadyState(kin, 1250, 12, 1.25);
      const [trough, peak] = concentrations(kin, reps, [12 * 599, 12 * 599 + 1.25]) as unknown as [number, number];
      expect(Math.abs(ss.trough - trough) / trough).toBeLessThan(1e-6);
      expect(Math.abs(ss.peak - peak) / peak).toBeLessThan(1e-6);
      expect(ss.auc24).toBeCloseTo((1250 * 2) / pk.cl, 9);
      const auc = aucBetween(kin, reps, 12 * 597, 12 * 599);
      expect(Math.abs(auc - ss.auc24) / ss.auc24).toBeLessThan(1e-6);
    }
  });

  it('reproduces the published Goti exponents at CrCL 120 (α = 0.316, β = 0.0412 /h)', () => {
    const kin = kinetics(patients[0] as VancoPk);
    expect(-kin.l1).toBeCloseTo(0.316, 3);
    expect(-kin.l2).toBeCloseTo(0.0412, 4);
  });
});
