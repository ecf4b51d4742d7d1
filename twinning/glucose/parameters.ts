import type { Reparametrization } from '../mcmc/index.js';
import { TwinlabError } from '../../engine/errors.js';
import type { CgmErrorParams } from './cgm-error.js';
import type { AgeGroup, PatientParams } from '../../environments/glucose/params.js';
import { groupFit, patientFromFreeValues, rejectionReason } from '../../environments/glucose/virtual-patients.js';

/**
 * What a personal glucose twin estimates, and its priors.
 *
 * The twin is the UVA/Padova S2008 model of the glucose twin (environments/glucose/model.ts) with
 * the population's typical values (geometric means of the age group's distributed patients) for
 * every parameter, except those below, estimated from the person's own data. The choice follows
 * ReplayBG (Cappon et al., IEEE TBME 70(11), 2023: insulin sensitivity, glucose effectiveness /
 * basal glucose, meal absorption rate and bioavailability, subcutaneous insulin absorption) mapped
 * onto the UVA/Padova parameters, plus the four parameters of the CGM error model (cgm-error.ts: a
 * sensor component and a slow model-discrepancy component, each an AR(1) process).
 *
 * All estimates live on an unconstrained scale with a normal prior there (log-normal on the natural
 * scale, logit-normal for φ):
 *
 * | name    | natural meaning                                                  | transform | prior (mean, sd on that scale) |
 * |---------|------------------------------------------------------------------|-----------|--------------------------------|
 * | logSI   | multiplier on Vmx and kp3 (peripheral and hepatic insulin action) | log       | 0, sd of log Vmx in the group (Ω) |
 * | logGb   | basal plasma glucose at the person's basal rate, mg/dL           | log       | log 141, 0.173 (100–200 mg/dL as ±2 sd) |
 * | logKabs | intestinal absorption rate kabs, 1/min                           | log       | log of the group's kabs, its Ω sd |
 * | logF    | meal bioavailability f × carb-count accuracy                     | log       | log 0.9, 0.2 |
 * | logKa   | multiplier on kd, ka1, ka2 (subcutaneous insulin absorption)     | log       | 0, sd of log kd in the group (Ω) |
 * | logSigma| marginal SD of the sensor error, mg/dL                           | log       | log 10, 0.5 |
 * | logitPhi| lag-1 (5-min) autocorrelation of the sensor error                | logit     | logit 0.8, 0.75 |
 * | logSigmaModel | marginal SD of the model discrepancy, mg/dL                | log       | log 15, 0.7 |
 * | logTauModel   | time constant of the model discrepancy, min (φ = e^(−5/τ)) | log       | log 240, 0.8 |
 *
 * Sources: f = 0.9 and the population values, Dalla Man et al. 2007 (IEEE TBME 54(10)) via the
 * simglucose S2008 parameter set; carb-count error of adults with T1D ≈ 20 % (Brazeau et al.,
 * J Acad Nutr Diet 113(7), 2013) sets the sd of logF; CGM MARD ≈ 9–10 % (e.g. Dexcom G6, Shah et
 * al., Diabetes Technol Ther 20(6), 2018) sets σ ≈ 10 mg/dL; the CGM error is autocorrelated
 * (Breton & Kovatchev 2008, JDST 2(5): PACF 0.7 per 15 min ⇒ ≈ 0.9 per 5 min; prior centre 0.8,
 * τ ≈ 22 min); the model discrepancy is what a mis-counted meal or an unlogged snack leaves — an
 * excursion that, with no endogenous insulin to correct it, decays over hours (glucose effectiveness
 * of ≈ 0.01–0.02/min and insulin action of hours: Dalla Man et al. 2007), hence τ ≈ 4 h (48 min – 20 h
 * at ±2 sd) and an SD of the order of the 10–20 mg/dL fit RMSE ReplayBG reports on real data (Cappon et
 * al. 2023) with a wide prior (4–60 mg/dL at ±2 sd). The discrepancy must be the slower component:
 * θ with τ_model ≤ τ_sensor has zero prior density (an ordering constraint, so the two components
 * cannot swap labels). Gb: the 30 S2008 patients rest at
 * 133–153 mg/dL; the prior allows the 100–200 mg/dL range environments/glucose accepts for
 * generated patients.
 */
export const GLUCOSE_TWIN_PARAMETERS = ['logSI', 'logGb', 'logKabs', 'logF', 'logKa', 'logSigma', 'logitPhi', 'logSigmaModel', 'logTauModel'] as const;
export type GlucoseTwinParameter = (typeof GLUCOSE_TWIN_PARAMETERS)[number];
export const GLUCOSE_TWIN_DIM = GLUCOSE_TWIN_PARAMETERS.length;
/** Index of each parameter in θ. */
export const P = Object.fromEntries(GLUCOSE_TWIN_PARAMETERS.map((n, i) => [n, i])) as { [K in GlucoseTwinParameter]: number };
/** The physiological parameters (the rest describe the sensor error). */
export const PHYSIOLOGY_DIM = 5;

export interface NormalPrior {
  mean: number;
  sd: number;
}

export interface GlucoseTwinContext {
  group: AgeGroup;
  /** kg */
  bodyWeightKg: number;
  /** Basal rate the person is at steady state on at the start of the fit window, U/h. */
  basalUPerH: number;
}

export function logit(p: number): number {
  return Math.log(p / (1 - p));
}
export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

function omegaSd(group: AgeGroup, name: string): number {
  const fit = groupFit(group);
  const i = fit.parameters.indexOf(name);
  if (i < 0) throw new TwinlabError('INTERNAL', `group fit has no parameter ${name}`);
  return Math.sqrt((fit.omega[i] as number[])[i] as number);
}

/** The priors of θ for an age group, in GLUCOSE_TWIN_PARAMETERS order. */
export function glucoseTwinPriors(group: AgeGroup): NormalPrior[] {
  const pop = groupFit(group).thetaPop;
  return [
    { mean: 0, sd: omegaSd(group, 'Vmx') },
    { mean: Math.log(141), sd: 0.173 },
    { mean: Math.log(pop.kabs as number), sd: omegaSd(group, 'kabs') },
    { mean: Math.log(0.9), sd: 0.2 },
    { mean: 0, sd: omegaSd(group, 'kd') },
    { mean: Math.log(10), sd: 0.5 },
    { mean: logit(0.8), sd: 0.75 },
    { mean: Math.log(15), sd: 0.7 },
    { mean: Math.log(240), sd: 0.8 },
  ];
}

/** Natural-scale value of each parameter, for reports. */
export function naturalValues(
  theta: ArrayLike<number>,
): Record<GlucoseTwinParameter | 'SI' | 'Gb' | 'kabs' | 'f' | 'kaScale' | 'sigma' | 'phi' | 'sigmaModel' | 'tauModel', number> {
  return {
    logSI: theta[P.logSI] as number,
    logGb: theta[P.logGb] as number,
    logKabs: theta[P.logKabs] as number,
    logF: theta[P.logF] as number,
    logKa: theta[P.logKa] as number,
    logSigma: theta[P.logSigma] as number,
    logitPhi: theta[P.logitPhi] as number,
    logSigmaModel: theta[P.logSigmaModel] as number,
    logTauModel: theta[P.logTauModel] as number,
    SI: Math.exp(theta[P.logSI] as number),
    Gb: Math.exp(theta[P.logGb] as number),
    kabs: Math.exp(theta[P.logKabs] as number),
    f: Math.exp(theta[P.logF] as number),
    kaScale: Math.exp(theta[P.logKa] as number),
    sigma: Math.exp(theta[P.logSigma] as number),
    phi: sigmoid(theta[P.logitPhi] as number),
    sigmaModel: Math.exp(theta[P.logSigmaModel] as number),
    tauModel: Math.exp(theta[P.logTauModel] as number),
  };
}

/** Natural-scale names and units of the reported parameters. */
export const NATURAL_PARAMETERS = [
  { name: 'SI', unit: '× population', from: 'logSI', label: 'insulin sensitivity (× population Vmx, kp3)' },
  { name: 'Gb', unit: 'mg/dL', from: 'logGb', label: 'basal glucose' },
  { name: 'kabs', unit: '1/min', from: 'logKabs', label: 'meal absorption rate' },
  { name: 'f', unit: '–', from: 'logF', label: 'meal bioavailability × carb-count accuracy' },
  { name: 'kaScale', unit: '× population', from: 'logKa', label: 'insulin absorption (× population kd, ka1, ka2)' },
  { name: 'sigma', unit: 'mg/dL', from: 'logSigma', label: 'CGM sensor error SD' },
  { name: 'phi', unit: '–', from: 'logitPhi', label: 'CGM sensor error autocorrelation (5 min)' },
  { name: 'sigmaModel', unit: 'mg/dL', from: 'logSigmaModel', label: 'model discrepancy SD' },
  { name: 'tauModel', unit: 'min', from: 'logTauModel', label: 'model discrepancy time constant' },
] as const;

/**
 * The coordinates the MCMC walkers move in (twinning/mcmc/ensemble.ts `Reparametrization`): θ with
 * (log σ_s, log σ_d) replaced by (½·log(σ_s² + σ_d²), log σ_s − log σ_d). The data pin the total
 * error variance far better than its split between the sensor and the discrepancy, so in θ the
 * posterior lies along the curved ridge σ_s² + σ_d² ≈ const, which the affine-invariant moves follow
 * slowly; in these coordinates it is nearly axis-aligned. The map has unit Jacobian determinant
 * (∂(v, w)/∂(a, b) = [[p, 1 − p], [1, −1]], det = −1), so no density correction is needed. On one
 * synthetic week (32 walkers × 2,000 steps): max R-hat 1.13 vs 1.27, min ESS 558 vs 434.
 */
export const ERROR_SD_SPLIT: Reparametrization = {
  toSampling(theta, out) {
    out.set(theta);
    const a = theta[P.logSigma] as number;
    const b = theta[P.logSigmaModel] as number;
    const hi = Math.max(a, b);
    out[P.logSigma] = hi + 0.5 * Math.log(Math.exp(2 * (a - hi)) + Math.exp(2 * (b - hi)));
    out[P.logSigmaModel] = a - b;
  },
  fromSampling(u, out) {
    out.set(u);
    const v = u[P.logSigma] as number;
    const w = u[P.logSigmaModel] as number;
    // b = v − ½·log(1 + e^{2w}), computed without overflow
    const b = v - (w > 0 ? w + 0.5 * Math.log1p(Math.exp(-2 * w)) : 0.5 * Math.log1p(Math.exp(2 * w)));
    out[P.logSigma] = b + w;
    out[P.logSigmaModel] = b;
  },
};

/** The CGM error model's parameters for θ (cgm-error.ts); undefined when they break the ordering constraint. */
export function cgmErrorParamsForTheta(theta: ArrayLike<number>): CgmErrorParams | undefined {
  const sensorPhi = sigmoid(theta[P.logitPhi] as number);
  const modelPhi = Math.exp(-5 / Math.exp(theta[P.logTauModel] as number));
  if (!(modelPhi > sensorPhi && modelPhi < 1)) return undefined;
  const sensorSd = Math.exp(theta[P.logSigma] as number);
  const modelSd = Math.exp(theta[P.logSigmaModel] as number);
  if (!(sensorSd > 0 && modelSd > 0 && Number.isFinite(sensorSd) && Number.isFinite(modelSd))) return undefined;
  return { sensorSd, sensorPhi, modelSd, modelPhi };
}

/**
 * The person's PatientParams for θ: the group's typical values, the person's body weight, u2ss from
 * the basal rate (u2ss = basal·6000/(60·BW) pmol/kg/min), the estimated parameters, and the basal
 * steady state re-derived (environments/glucose/virtual-patients.ts deriveBasal). Returns undefined
 * when θ gives no physiological steady state (virtual-patients.ts rejectionReason without the meal test).
 */
export function patientForTheta(theta: ArrayLike<number>, ctx: GlucoseTwinContext, name = 'personal'): PatientParams | undefined {
  const fit = groupFit(ctx.group);
  const v: Record<string, number> = { ...fit.thetaPop };
  const si = Math.exp(theta[P.logSI] as number);
  const ka = Math.exp(theta[P.logKa] as number);
  v.BW = ctx.bodyWeightKg;
  v.u2ss = (ctx.basalUPerH * 6000) / (60 * ctx.bodyWeightKg);
  v.Gb = Math.exp(theta[P.logGb] as number);
  v.Vmx = (v.Vmx as number) * si;
  v.kp3 = (v.kp3 as number) * si;
  v.kabs = Math.exp(theta[P.logKabs] as number);
  v.kd = (v.kd as number) * ka;
  v.ka1 = (v.ka1 as number) * ka;
  v.ka2 = (v.ka2 as number) * ka;
  const p = patientFromFreeValues(v, ctx.group, name);
  p.f = Math.exp(theta[P.logF] as number);
  if (rejectionReason(p) !== undefined) return undefined;
  if (!(p.kabs < 1 && p.kd < 1 && p.ka1 < 1 && p.ka2 < 1)) return undefined; // faster than 1/min is outside the model's time scale
  return p;
}
