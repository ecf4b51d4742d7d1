import { TwinlabError } from '../../engine/errors.js';
import { T2D_BASAL, T2D_COHORT_SD } from '../../environments/glucose-t2d/cohort.js';
import { absorptionForGi } from '../../environments/glucose-t2d/foods.js';
import { DM2007_T2D, type DM2007Params, type T2DBasal, withBasal } from '../../environments/glucose-t2d/model.js';
import { logit, type NormalPrior, sigmoid } from '../glucose/parameters.js';

/**
 * What a personal type 2 diabetes twin estimates, and its priors (README "Type 2 diabetes").
 *
 * The twin is the Dalla Man, Rizza & Cobelli 2007 meal model with endogenous insulin secretion
 * (environments/glucose-t2d/model.ts) at the paper's Table 1 type 2 values, except five physiological
 * parameters estimated from the person's CGM and logged meals, and the four parameters of the CGM
 * error model shared with the type 1 twin (twinning/glucose/cgm-error.ts). θ keeps the type 1 twin's
 * layout — five physiological parameters, then logSigma, logitPhi, logSigmaModel, logTauModel at the
 * same indices — so the error-model helpers of twinning/glucose read it unchanged.
 *
 * | name    | natural meaning                                                   | transform | prior (mean, sd on that scale) |
 * |---------|-------------------------------------------------------------------|-----------|--------------------------------|
 * | logSI   | multiplier on Vmx and kp3 (peripheral and hepatic insulin action) | log       | 0, 0.601 |
 * | logBeta | β-cell static responsivity β, pmol/kg/min per mg/dL               | log       | log 0.05, 0.4 |
 * | logGb   | fasting (basal) plasma glucose, mg/dL                             | log       | log 159.2, 0.15 |
 * | logKabs | multiplier on kabs (intestinal absorption)                        | log       | 0, 1.053 |
 * | logF    | meal bioavailability f × carb-count accuracy                      | log       | log 0.9, 0.2 |
 * | logSigma, logitPhi, logSigmaModel, logTauModel | the CGM error model        | as the type 1 twin (twinning/glucose/parameters.ts) |
 *
 * Sources of the centres: Table 1 of Dalla Man, Rizza & Cobelli, IEEE TBME 54(10):1740–1749 (2007)
 * (β = 0.05, kabs = 0.023/min, f = 0.9, Vmx, kp3) and the basal glucose the Table 1 type 2 set implies
 * (159.2 mg/dL, environments/glucose-t2d/README "Basal state"). Spreads: those of the generated T2D
 * cohort (environments/glucose-t2d/cohort.ts, T2D_COHORT_SD): SI the sd of log Vmx and kabs the sd of
 * log kabs over the ten UVA/Padova S2008 adults (borrowed from type 1 adults for lack of a per-subject
 * table of the T2D model); β and Gb the cohort's stated assumptions (0.4, 0.15). f: 0.9 with sd 0.2, a
 * ≈ 20 % carb-counting error (Brazeau et al., J Acad Nutr Diet 113(7), 2013, measured in adults with
 * type 1 diabetes; we assume people with type 2 count no better). Fixed at Table 1: the rest of the
 * set, including the dynamic secretion K, the secretion delay α, the hepatic extraction and the gastric
 * emptying curve; endogenous production at basal EGPb is kept at the Table 1 set's 1.992 mg/kg/min and
 * kp1, Vm0 are re-derived for every θ from the steady-state identities (`withBasal`).
 */
export const T2D_TWIN_PARAMETERS = ['logSI', 'logBeta', 'logGb', 'logKabs', 'logF', 'logSigma', 'logitPhi', 'logSigmaModel', 'logTauModel'] as const;
export type T2DTwinParameter = (typeof T2D_TWIN_PARAMETERS)[number];
export const T2D_TWIN_DIM = T2D_TWIN_PARAMETERS.length;
export const T2D_PHYSIOLOGY_DIM = 5;
export const Q = Object.fromEntries(T2D_TWIN_PARAMETERS.map((n, i) => [n, i])) as { [K in T2DTwinParameter]: number };

/**
 * GI assumed for a logged meal that carries no GI (the CSV logs grams only): 55, the upper end of
 * "low GI" in the classification of Atkinson, Foster-Powell & Brand-Miller (Diabetes Care 31(12),
 * 2008: low ≤ 55, medium 56–69, high ≥ 70) — an assumption of this twin, recorded in twin.json and
 * changeable with `twin fit --meal-gi`. It sets the gastric and intestinal rates of the logged meals
 * (foods.ts absorptionForGi); the estimated kabs multiplier absorbs the person's own deviation.
 * What-if GI swaps scale the absorption relative to it.
 */
export const DEFAULT_MEAL_GI = 55;

export interface T2DTwinContext {
  /** kg */
  bodyWeightKg: number;
  /** GI the logged meals are taken to have (DEFAULT_MEAL_GI). */
  mealGi: number;
}

export function t2dTwinPriors(): NormalPrior[] {
  return [
    { mean: 0, sd: T2D_COHORT_SD.Vmx as number },
    { mean: Math.log(DM2007_T2D.beta), sd: T2D_COHORT_SD.beta as number },
    { mean: Math.log(T2D_BASAL.Gb), sd: T2D_COHORT_SD.Gb as number },
    { mean: 0, sd: T2D_COHORT_SD.kabs as number },
    { mean: Math.log(0.9), sd: 0.2 },
    // the CGM error model: as the type 1 twin (twinning/glucose/parameters.ts glucoseTwinPriors)
    { mean: Math.log(10), sd: 0.5 },
    { mean: logit(0.8), sd: 0.75 },
    { mean: Math.log(15), sd: 0.7 },
    { mean: Math.log(240), sd: 0.8 },
  ];
}

/** Natural-scale names and units of the reported parameters. */
export const T2D_NATURAL_PARAMETERS = [
  { name: 'SI', unit: '× Table 1', from: 'logSI', label: 'insulin sensitivity (× Table 1 T2D Vmx, kp3)' },
  { name: 'beta', unit: 'pmol/kg/min per mg/dL', from: 'logBeta', label: 'β-cell static responsivity' },
  { name: 'Gb', unit: 'mg/dL', from: 'logGb', label: 'fasting glucose' },
  { name: 'kabsScale', unit: '× Table 1', from: 'logKabs', label: 'intestinal absorption (× Table 1 T2D kabs)' },
  { name: 'f', unit: '–', from: 'logF', label: 'meal bioavailability × carb-count accuracy' },
  { name: 'sigma', unit: 'mg/dL', from: 'logSigma', label: 'CGM sensor error SD' },
  { name: 'phi', unit: '–', from: 'logitPhi', label: 'CGM sensor error autocorrelation (5 min)' },
  { name: 'sigmaModel', unit: 'mg/dL', from: 'logSigmaModel', label: 'model discrepancy SD' },
  { name: 'tauModel', unit: 'min', from: 'logTauModel', label: 'model discrepancy time constant' },
] as const;
export type T2DNaturalName = (typeof T2D_NATURAL_PARAMETERS)[number]['name'];

export function t2dNaturalValues(theta: ArrayLike<number>): Record<T2DNaturalName, number> {
  const v = (i: number) => theta[i] as number;
  return {
    SI: Math.exp(v(Q.logSI)),
    beta: Math.exp(v(Q.logBeta)),
    Gb: Math.exp(v(Q.logGb)),
    kabsScale: Math.exp(v(Q.logKabs)),
    f: Math.exp(v(Q.logF)),
    sigma: Math.exp(v(Q.logSigma)),
    phi: sigmoid(v(Q.logitPhi)),
    sigmaModel: Math.exp(v(Q.logSigmaModel)),
    tauModel: Math.exp(v(Q.logTauModel)),
  };
}

export interface T2DPersonModel {
  params: DM2007Params;
  basal: T2DBasal;
}

/**
 * The person's model for θ: Table 1 T2D with the person's body weight, Vmx and kp3 × SI, β, kabs ×
 * the multiplier, f, re-based on the basal glucose Gb at the Table 1 set's EGPb (kp1, Vm0 from the
 * steady-state identities). Undefined when θ has no physiological steady state (no positive tissue
 * glucose or Vm0) or a rate faster than 1/min, as the type 1 twin refuses such θ. Unlike the type 1
 * twin, Gb above the renal threshold (ke2/Vg ≈ 180 mg/dL in the T2D set) is allowed — common in
 * type 2 diabetes; the Table 1 basal identities omit renal excretion, so such a person's true rest
 * lies a little below Gb (the fit starts glucose at the first reading, not at Gb).
 */
export function t2dPersonForTheta(theta: ArrayLike<number>, ctx: T2DTwinContext): T2DPersonModel | undefined {
  const si = Math.exp(theta[Q.logSI] as number);
  const t = DM2007_T2D;
  const p: DM2007Params = {
    ...t,
    BW: ctx.bodyWeightKg,
    Vmx: t.Vmx * si,
    kp3: t.kp3 * si,
    beta: Math.exp(theta[Q.logBeta] as number),
    kabs: t.kabs * Math.exp(theta[Q.logKabs] as number),
    f: Math.exp(theta[Q.logF] as number),
  };
  const Gb = Math.exp(theta[Q.logGb] as number);
  if (!(Gb > 40 && Gb < 500 && p.kabs * absorptionForGi(Math.min(150, Math.max(ctx.mealGi, 1))) < 1 && p.f > 0 && p.f <= 2)) return undefined;
  if (!(Number.isFinite(si) && Number.isFinite(p.beta) && p.beta > 0)) return undefined;
  try {
    const based = withBasal(p, Gb, T2D_BASAL.EGPb);
    if (!(based.params.Vm0 > 0 && based.basal.Gtb > 0)) return undefined;
    return based;
  } catch (error) {
    if (error instanceof TwinlabError) return undefined;
    throw error;
  }
}

/** θ at the prior means: the typical person (Table 1 T2D at the person's weight). */
export function t2dTypicalPerson(ctx: T2DTwinContext): T2DPersonModel {
  const typical = t2dPersonForTheta(
    t2dTwinPriors().map((p) => p.mean),
    ctx,
  );
  if (typical === undefined) throw new TwinlabError('INTERNAL', 'the T2D prior mean has no steady state');
  return typical;
}
