import { samplePatient } from '../../engine/cohort.js';
import { DormandPrince } from '../../engine/ode.js';
import { Rng } from '../../engine/random.js';
import { GOTI, type VancoPk, vancoRhs } from '../../environments/pkpd/vancomycin-model.js';
import { vancoCohortSpec } from '../../environments/pkpd/vancomycin-twin.js';
import { fitMap, type VancoFitData } from './likelihood.js';
import { concentrations, type Dose, kinetics } from './model.js';
import { makeCovariates, pkAt, type VancoCovariates } from './parameters.js';
import { oneCompartmentConcentration, sawchukZaske } from './sawchuk-zaske.js';

/**
 * Validation of the personal vancomycin twin on synthetic patients drawn from the Goti population
 * (environments/pkpd `vancoCohortSpec`: covariates, η ~ N(0, Ω)); their levels come from the
 * population model's own ODE (`vancoRhs`, Dormand–Prince) with Goti's residual error drawn per level.
 *
 * Scenario per patient: 15 mg/kg rounded to 250 mg (500–2,500 mg), every 12 h, infused at ≤ 1 g/h
 * (at least 1 h), 7 doses. Levels: L1 = peak 1 h after the end of the 4th infusion, L2 = trough
 * 0.5 h before the 5th dose, L3 = trough 0.5 h before the 7th dose.
 * Predictions (MAP Bayesian): L2 from L1; L3 from (L1, L2); the steady-state AUC24 of the regimen
 * from L2 alone (one trough) and from (L1, L2) (a peak–trough pair); the Sawchuk–Zaske baseline
 * from (L1, L2): its one-compartment prediction of L3 and its AUC24. The truth AUC24 is the dose
 * rate / true CL (exact at steady state for a linear model).
 */
export interface ErrorStats {
  n: number;
  /** Mean percentage error (bias), %. */
  mpe: number;
  /** Root mean squared percentage error (imprecision), %. */
  rmse: number;
  /** Mean absolute percentage error, %. */
  mape: number;
}

export function errorStats(pred: number[], obs: number[]): ErrorStats {
  let s = 0;
  let s2 = 0;
  let sa = 0;
  for (let i = 0; i < pred.length; i++) {
    const e = (100 * ((pred[i] as number) - (obs[i] as number))) / (obs[i] as number);
    s += e;
    s2 += e * e;
    sa += Math.abs(e);
  }
  const n = pred.length;
  return { n, mpe: s / n, rmse: Math.sqrt(s2 / n), mape: sa / n };
}

/** Observed levels below this are excluded from percentage errors against observations (a typical immunoassay LLOQ). */
export const LLOQ_MG_L = 2;

export interface ValidationResult {
  patients: number;
  /** Against the measured level (levels < LLOQ excluded). */
  nextLevel: { l2FromL1: ErrorStats; l3FromL1L2: ErrorStats; l3SawchukZaske: ErrorStats; l3Population: ErrorStats };
  /** Against the true (noise-free) concentration. */
  nextLevelTrue: { l2FromL1: ErrorStats; l3FromL1L2: ErrorStats; l3SawchukZaske: ErrorStats };
  auc24: { population: ErrorStats; oneTrough: ErrorStats; peakTrough: ErrorStats; sawchukZaske: ErrorStats };
  /** Patients where Sawchuk–Zaske had no estimate (trough ≥ peak after assay error). */
  sawchukZaskeFailures: number;
}

/** The population ODE (vancoRhs) from an empty body, split at every rate change. */
export function truthConcentrations(pk: VancoPk, doses: readonly Dose[], times: readonly number[]): number[] {
  const rhs = vancoRhs(pk);
  const dp = new DormandPrince(3, { rtol: 1e-9, atol: 1e-9 });
  const ev: { t: number; delta: number }[] = [];
  for (const d of doses) ev.push({ t: d.timeH, delta: d.amountMg / d.durationH }, { t: d.timeH + d.durationH, delta: -d.amountMg / d.durationH });
  ev.sort((a, b) => a.t - b.t);
  const y = new Float64Array(3);
  let t = 0;
  let e = 0;
  return [...times].map((target) => {
    while (e < ev.length && (ev[e] as { t: number }).t <= target) {
      const next = ev[e] as { t: number; delta: number };
      if (next.t > t) dp.integrate(rhs.f, y, t, next.t);
      t = next.t;
      rhs.rate += next.delta;
      e++;
    }
    if (target > t) dp.integrate(rhs.f, y, t, target);
    t = target;
    return (y[0] as number) / pk.v1;
  });
}

export interface SyntheticVancoPatient {
  cov: VancoCovariates;
  truePk: VancoPk;
  doses: Dose[];
  intervalH: number;
  times: [number, number, number];
  trueConc: number[];
  observed: number[];
}

export function syntheticVancoPatient(seed: number, index: number): SyntheticVancoPatient {
  const p = samplePatient(vancoCohortSpec(), `${seed}/twin-validation`, index);
  const c = p.covariates;
  const cov = makeCovariates({ ageYears: c.age as number, sex: c.female === 1 ? 'F' : 'M', bodyWeightKg: c.weight as number, scrMgDl: c.scr as number });
  const truePk = pkAt(cov, p.eta);
  const dose = Math.min(2500, Math.max(500, Math.round((15 * cov.bodyWeightKg) / 250) * 250));
  const dur = Math.max(1, dose / 1000);
  const tau = 12;
  const doses: Dose[] = Array.from({ length: 7 }, (_, k) => ({ timeH: k * tau, amountMg: dose, durationH: dur }));
  const times: [number, number, number] = [3 * tau + dur + 1, 4 * tau - 0.5, 6 * tau - 0.5];
  const trueConc = truthConcentrations(truePk, doses, times);
  const noise = Rng.fromSeed(seed).fork(`assay/${index}`);
  const observed = trueConc.map((m) => Math.max(0, m * (1 + GOTI.residual.proportional * noise.normal()) + GOTI.residual.additive * noise.normal()));
  return { cov, truePk, doses, intervalH: tau, times, trueConc, observed };
}

function fitData(p: SyntheticVancoPatient, use: number[]): VancoFitData {
  return { cov: p.cov, originMs: 0, doses: p.doses, levelTimes: use.map((i) => p.times[i] as number), levelConc: use.map((i) => p.observed[i] as number) };
}

export function runVancoValidation(opts: { patients: number; seed: number }): ValidationResult {
  const acc = {
    l2: [[], []] as number[][],
    l3: [[], []] as number[][],
    l3sz: [[], []] as number[][],
    l3pop: [[], []] as number[][],
    l2t: [[], []] as number[][],
    l3t: [[], []] as number[][],
    l3szt: [[], []] as number[][],
    aucPop: [[], []] as number[][],
    auc1: [[], []] as number[][],
    auc2: [[], []] as number[][],
    aucSz: [[], []] as number[][],
  };
  const push = (k: keyof typeof acc, pred: number, obs: number) => {
    acc[k][0]?.push(pred);
    acc[k][1]?.push(obs);
  };
  let szFailures = 0;
  for (let i = 0; i < opts.patients; i++) {
    const p = syntheticVancoPatient(opts.seed, i);
    const [o1, o2, o3] = p.observed as [number, number, number];
    const trueAuc = ((p.doses[0] as Dose).amountMg * (24 / p.intervalH)) / p.truePk.cl;
    const predictAt = (theta: ArrayLike<number>, t: number) => concentrations(kinetics(pkAt(p.cov, theta)), p.doses, [t])[0] as number;
    const pop = new Float64Array(3);
    const fit1 = fitMap(fitData(p, [0])).theta;
    const fit12 = fitMap(fitData(p, [0, 1])).theta;
    const fitTrough = fitMap(fitData(p, [1])).theta;
    const l2 = predictAt(fit1, p.times[1]);
    const l3 = predictAt(fit12, p.times[2]);
    if (o2 >= LLOQ_MG_L) push('l2', l2, o2);
    if (o3 >= LLOQ_MG_L) push('l3', l3, o3);
    if (o3 >= LLOQ_MG_L) push('l3pop', predictAt(pop, p.times[2]), o3);
    push('l2t', l2, p.trueConc[1] as number);
    push('l3t', l3, p.trueConc[2] as number);
    const aucOf = (theta: ArrayLike<number>) => ((p.doses[0] as Dose).amountMg * (24 / p.intervalH)) / pkAt(p.cov, theta).cl;
    push('aucPop', aucOf(pop), trueAuc);
    push('auc1', aucOf(fitTrough), trueAuc);
    push('auc2', aucOf(fit12), trueAuc);
    const sz = sawchukZaske(p.doses[3] as Dose, p.intervalH, { timeH: p.times[0], conc: o1 }, { timeH: p.times[1], conc: o2 });
    if (sz === null) {
      szFailures++;
      continue;
    }
    const szL3 = oneCompartmentConcentration(sz, p.doses, p.times[2]);
    if (o3 >= LLOQ_MG_L) push('l3sz', szL3, o3);
    push('l3szt', szL3, p.trueConc[2] as number);
    push('aucSz', ((p.doses[0] as Dose).amountMg * (24 / p.intervalH)) / sz.cl, trueAuc);
  }
  const st = (k: keyof typeof acc) => errorStats(acc[k][0] as number[], acc[k][1] as number[]);
  return {
    patients: opts.patients,
    nextLevel: { l2FromL1: st('l2'), l3FromL1L2: st('l3'), l3SawchukZaske: st('l3sz'), l3Population: st('l3pop') },
    nextLevelTrue: { l2FromL1: st('l2t'), l3FromL1L2: st('l3t'), l3SawchukZaske: st('l3szt') },
    auc24: { population: st('aucPop'), oneTrough: st('auc1'), peakTrough: st('auc2'), sawchukZaske: st('aucSz') },
    sawchukZaskeFailures: szFailures,
  };
}
