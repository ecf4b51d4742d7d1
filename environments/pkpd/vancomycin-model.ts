import { TwinlabError } from '../../engine/errors.js';
import type { OdeRhs } from '../../engine/ode.js';

/**
 * Vancomycin population pharmacokinetics: the two-compartment model of
 * Goti V, Chaturvedula A, Fossler MJ, Mok S, Jacob JT, "Hospitalized patients with and without
 * hemodialysis have markedly different vancomycin pharmacokinetics: a population pharmacokinetic
 * model-based analysis", Ther Drug Monit 2018;40(2):212–221 (Table 2), as quoted identically by an
 * nlmixr2lib-style model file and an mrgsolve "Goti" model (docs/MODELS.md §4). Amounts in mg, time in h,
 * concentrations in mg/L.
 *
 *   CrCL (Cockcroft–Gault) = (140 − age)·WT·(0.85 if female) / (72·SCr)   mL/min
 *        Goti rules: if age > 65 and SCr < 1 mg/dL, use SCr = 1 (erratum: > 65, not > 60); cap CrCL at 150.
 *   TVCL = 4.5·(CrCL/120)^0.8·0.7^DIAL   L/h        CL = TVCL·exp(η1)
 *   TVV1 = 58.4·(WT/70)·0.5^DIAL         L          V1 = TVV1·exp(η2)
 *   TVV2 = 38.4                          L          V2 = TVV2·exp(η3)
 *   Q    = 6.5                           L/h        (no IIV)
 *   dA1/dt  = R(t) − (CL/V1)·A1 − (Q/V1)·A1 + (Q/V2)·A2
 *   dA2/dt  = (Q/V1)·A1 − (Q/V2)·A2
 *   dAUC/dt = A1/V1                       (running area under the central concentration curve)
 *   C = A1/V1;  observed Cobs = C·(1 + ε_prop) + ε_add, ε_prop ~ N(0, 0.227²), ε_add ~ N(0, 3.4²)
 *
 * IIV: %CV 39.8 (CL), 81.6 (V1), 57.1 (V2). Convention chosen here (the two implementations differ):
 * the exact log-normal one, ω² = ln(1 + CV²) → 0.147, 0.510, 0.282.
 */
export const GOTI = Object.freeze({
  clPer120: 4.5, // L/h at CrCL 120 mL/min
  clCrclExponent: 0.8,
  clDialysis: 0.7,
  v1Per70: 58.4, // L at 70 kg
  v1Dialysis: 0.5,
  v2: 38.4, // L
  q: 6.5, // L/h
  crclCap: 150, // mL/min
  cv: Object.freeze({ cl: 0.398, v1: 0.816, v2: 0.571 }),
  residual: Object.freeze({ proportional: 0.227, additive: 3.4 }), // Goti 2018
});

/** ω² = ln(1 + CV²) (exact log-normal convention, chosen and documented in README). */
export const GOTI_OMEGA2 = Object.freeze({
  cl: Math.log(1 + GOTI.cv.cl ** 2),
  v1: Math.log(1 + GOTI.cv.v1 ** 2),
  v2: Math.log(1 + GOTI.cv.v2 ** 2),
});

/** Cockcroft–Gault creatinine clearance with the Goti 2018 rules (SCr floor 1 mg/dL above age 65; cap 150). */
export function cockcroftGault(age: number, weightKg: number, female: boolean, scrMgDl: number): number {
  if (!(age > 0) || !(weightKg > 0) || !(scrMgDl > 0)) {
    throw new TwinlabError('INVALID_ARGUMENT', `Cockcroft–Gault needs age, weight and SCr > 0, got age=${age}, weight=${weightKg}, SCr=${scrMgDl}`);
  }
  const scr = age > 65 && scrMgDl < 1 ? 1 : scrMgDl;
  const crcl = ((140 - age) * weightKg * (female ? 0.85 : 1)) / (72 * scr);
  return Math.min(GOTI.crclCap, Math.max(0, crcl));
}

export function typicalClearance(crcl: number, dialysis: boolean): number {
  return GOTI.clPer120 * (Math.min(crcl, GOTI.crclCap) / 120) ** GOTI.clCrclExponent * (dialysis ? GOTI.clDialysis : 1);
}

export function typicalV1(weightKg: number, dialysis: boolean): number {
  return GOTI.v1Per70 * (weightKg / 70) * (dialysis ? GOTI.v1Dialysis : 1);
}

export interface VancoPk {
  cl: number;
  v1: number;
  v2: number;
  q: number;
}

/** Individual PK parameters from covariates and η (CL, V1, V2). */
export function individualPk(crcl: number, weightKg: number, dialysis: boolean, eta: { cl: number; v1: number; v2: number }): VancoPk {
  return {
    cl: typicalClearance(crcl, dialysis) * Math.exp(eta.cl),
    v1: typicalV1(weightKg, dialysis) * Math.exp(eta.v1),
    v2: GOTI.v2 * Math.exp(eta.v2),
    q: GOTI.q,
  };
}

export const VANCO_DIM = 3;

export interface VancoRhs {
  readonly f: OdeRhs;
  /** Infusion rate R (mg/h), held by the caller. */
  rate: number;
  /** Individual parameters; may be changed between integrations (e.g. CL after kidney injury). */
  pk: VancoPk;
}

/** Allocation-free RHS of the two-compartment model with an AUC accumulator (see module comment). */
export function vancoRhs(pk: VancoPk): VancoRhs {
  const holder: VancoRhs = {
    rate: 0,
    pk: { ...pk },
    f: (_t, y, d) => {
      const { cl, v1, v2, q } = holder.pk;
      const a1 = y[0] as number;
      const a2 = y[1] as number;
      d[0] = holder.rate - ((cl + q) / v1) * a1 + (q / v2) * a2;
      d[1] = (q / v1) * a1 - (q / v2) * a2;
      d[2] = a1 / v1;
    },
  };
  return holder;
}

/** Rybak et al. 2020 consensus target: AUC24/MIC 400–600 (MIC 1 mg/L by broth microdilution). */
export const AUC_TARGET = Object.freeze({ low: 400, high: 600 });

/**
 * SYNTHETIC acute-kidney-injury hazard anchored to published thresholds (docs/MODELS.md §4): rising risk above
 * AUC24 ≈ 600 mg·h/L (Rybak 2020; PROVIDE, Lodise 2020):
 *   h(AUC24) = h0·exp(β·(AUC24 − 600)/100) for AUC24 > 600, else 0;   h0 = 0.01/day, β = 0.5.
 * Returns the hazard per day.
 */
export const AKI_MODEL = Object.freeze({ h0PerDay: 0.01, beta: 0.5, threshold: 600, crclFactor: 0.6 });

export function akiHazardPerDay(auc24: number): number {
  if (!(auc24 > AKI_MODEL.threshold)) return 0;
  return AKI_MODEL.h0PerDay * Math.exp((AKI_MODEL.beta * (auc24 - AKI_MODEL.threshold)) / 100);
}
