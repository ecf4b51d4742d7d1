import { describeValue, TwinlabError } from '../../engine/errors.js';
import { cockcroftGault, GOTI, GOTI_OMEGA2, individualPk, typicalClearance, typicalV1, type VancoPk } from '../../environments/pkpd/vancomycin-model.js';

/**
 * What the personal vancomycin twin estimates: the person's random effects of the Goti et al. 2018
 * model (Ther Drug Monit 40(2):212–221, Table 2; environments/pkpd/vancomycin-model.ts), η = (ηCL,
 * ηV1, ηV2) — the three parameters with between-subject variability in Goti; Q (no BSV there) stays at
 * 6.5 L/h. Priors η_i ~ N(0, ω_i²) with ω² = ln(1 + CV²) (the convention of environments/pkpd/README.md).
 * Residual error: Goti's combined model, Cobs = C·(1 + ε_prop) + ε_add, ε_prop ~ N(0, 0.227²),
 * ε_add ~ N(0, 3.4²) mg/L, i.e. Var(Cobs | C) = (0.227·C)² + 3.4².
 */
export const VANCO_TWIN_PARAMETERS = ['etaCL', 'etaV1', 'etaV2'] as const;
export const VANCO_TWIN_DIM = VANCO_TWIN_PARAMETERS.length;

export const VANCO_PRIORS: readonly { mean: number; sd: number }[] = Object.freeze([
  { mean: 0, sd: Math.sqrt(GOTI_OMEGA2.cl) },
  { mean: 0, sd: Math.sqrt(GOTI_OMEGA2.v1) },
  { mean: 0, sd: Math.sqrt(GOTI_OMEGA2.v2) },
]);

/** Var(Cobs | C) of the Goti combined residual error model. */
export function residualVariance(c: number): number {
  return (GOTI.residual.proportional * c) ** 2 + GOTI.residual.additive ** 2;
}

export type Sex = 'F' | 'M';

export interface VancoCovariates {
  ageYears: number;
  sex: Sex;
  bodyWeightKg: number;
  scrMgDl: number;
  dialysis: boolean;
  /** Cockcroft–Gault with the Goti rules (environments/pkpd `cockcroftGault`), mL/min. */
  crclMlMin: number;
}

/** Covariates from their parts; CrCL by the population model's own Cockcroft–Gault (SCr floor 1 above 65, cap 150). */
export function makeCovariates(parts: { ageYears?: number; sex?: string; bodyWeightKg?: number; scrMgDl?: number; dialysis?: boolean }): VancoCovariates {
  const need = (value: number | undefined, arg: string, lo: number, hi: number, unit: string): number => {
    if (value === undefined) throw new TwinlabError('INVALID_ARGUMENT', `${arg} is required: the data does not carry it`, { field: arg.replace(/^--/, '') });
    if (!(typeof value === 'number' && Number.isFinite(value) && value >= lo && value <= hi)) {
      throw new TwinlabError('INVALID_ARGUMENT', `${arg} must be ${lo}–${hi} ${unit}, got ${describeValue(value)}`, { field: arg.replace(/^--/, '') });
    }
    return value;
  };
  const ageYears = need(parts.ageYears, '--age', 18, 110, 'years');
  const bodyWeightKg = need(parts.bodyWeightKg, '--body-weight', 30, 300, 'kg');
  const scrMgDl = need(parts.scrMgDl, '--scr', 0.1, 20, 'mg/dL');
  if (parts.sex === undefined) throw new TwinlabError('INVALID_ARGUMENT', '--sex is required (F or M): the data does not carry it', { field: 'sex' });
  const sex = parts.sex.toUpperCase();
  if (sex !== 'F' && sex !== 'M') throw new TwinlabError('INVALID_ARGUMENT', `--sex must be F or M, got ${describeValue(parts.sex)}`, { field: 'sex' });
  const dialysis = parts.dialysis === true;
  return { ageYears, sex, bodyWeightKg, scrMgDl, dialysis, crclMlMin: cockcroftGault(ageYears, bodyWeightKg, sex === 'F', scrMgDl) };
}

/** The person's PK parameters at η. */
export function pkAt(cov: VancoCovariates, theta: ArrayLike<number>): VancoPk {
  return individualPk(cov.crclMlMin, cov.bodyWeightKg, cov.dialysis, { cl: theta[0] as number, v1: theta[1] as number, v2: theta[2] as number });
}

/** Population typical values for the covariates (η = 0). */
export function typicalPk(cov: VancoCovariates): VancoPk {
  return { cl: typicalClearance(cov.crclMlMin, cov.dialysis), v1: typicalV1(cov.bodyWeightKg, cov.dialysis), v2: GOTI.v2, q: GOTI.q };
}

/** Log prior density of η (up to a constant); −∞ beyond 6 sd, where the sampler has no business. */
export function logPrior(theta: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < VANCO_TWIN_DIM; i++) {
    const z = ((theta[i] as number) - (VANCO_PRIORS[i] as { mean: number }).mean) / (VANCO_PRIORS[i] as { sd: number }).sd;
    if (!(Math.abs(z) <= 6)) return Number.NEGATIVE_INFINITY;
    s -= 0.5 * z * z;
  }
  return s;
}
