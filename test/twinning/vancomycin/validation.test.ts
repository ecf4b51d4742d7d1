import { describe, expect, it } from 'vitest';
import { concentrations, kinetics } from '../../../twinning/vancomycin/model.js';
import { oneCompartmentConcentration, sawchukZaske } from '../../../twinning/vancomycin/sawchuk-zaske.js';
import { runVancoValidation, syntheticVancoPatient } from '../../../twinning/vancomycin/validation.js';

describe('Sawchuk–Zaske baseline', () => {
  it('is exact for a one-compartment patient at steady state', () => {
    // one compartment: ke = 0.1 /h, V = 50 L → CL = 5 L/h; 1 g over 1 h q12h, 40 doses
    const ke = 0.1;
    const v = 50;
    const doses = Array.from({ length: 40 }, (_, k) => ({ timeH: 12 * k, amountMg: 1000, durationH: 1 }));
    const c = (t: number) => oneCompartmentConcentration({ ke, v, cl: ke * v }, doses, t);
    const fit = sawchukZaske(
      doses[38] as (typeof doses)[number],
      12,
      { timeH: 12 * 38 + 2, conc: c(12 * 38 + 2) },
      { timeH: 12 * 38 + 11.5, conc: c(12 * 38 + 11.5) },
    );
    expect(fit?.ke).toBeCloseTo(ke, 10);
    expect(fit?.v).toBeCloseTo(v, 6);
    expect(fit?.cl).toBeCloseTo(5, 6);
    expect(sawchukZaske(doses[0] as (typeof doses)[number], 12, { timeH: 2, conc: 5 }, { timeH: 11, conc: 6 })).toBeNull();
  });
});

describe('validation on synthetic Goti patients (200, BSV and residual error)', () => {
  it('draws levels from the population ODE that agree with the closed form', () => {
    const p = syntheticVancoPatient(7, 0);
    const exact = concentrations(kinetics(p.truePk), p.doses, p.times);
    p.trueConc.forEach((c, i) => expect(Math.abs(c - (exact[i] as number)) / c).toBeLessThan(1e-6));
  });

  it('Bayesian AUC24 from one trough or a peak–trough pair beats the population prior and Sawchuk–Zaske; next levels beat the prior', () => {
    const r = runVancoValidation({ patients: 200, seed: 7 });
    expect(r.auc24.peakTrough.n).toBe(200);
    // bias within ±10 %, imprecision below the prior's and the two-level method's
    expect(Math.abs(r.auc24.peakTrough.mpe)).toBeLessThan(10);
    expect(Math.abs(r.auc24.oneTrough.mpe)).toBeLessThan(10);
    expect(r.auc24.oneTrough.rmse).toBeLessThan(0.8 * r.auc24.population.rmse);
    expect(r.auc24.peakTrough.rmse).toBeLessThan(r.auc24.sawchukZaske.rmse);
    expect(r.auc24.peakTrough.rmse).toBeLessThan(40);
    // Sawchuk–Zaske ignores the distribution phase: it underestimates AUC (overestimates CL)
    expect(r.auc24.sawchukZaske.mpe).toBeLessThan(-10);
    expect(r.nextLevel.l3FromL1L2.mape).toBeLessThan(r.nextLevel.l3Population.mape);
    expect(r.nextLevelTrue.l3FromL1L2.mape).toBeLessThan(r.nextLevelTrue.l2FromL1.mape);
    expect(r.nextLevelTrue.l3FromL1L2.mape).toBeLessThan(r.nextLevelTrue.l3SawchukZaske.mape);
  }, 60_000);
});
