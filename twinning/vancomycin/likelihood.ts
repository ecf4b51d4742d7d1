import { createHash } from 'node:crypto';
import type { VancomycinDataset } from '../../datasets/vancomycin.js';
import { nelderMead } from '../optimize.js';
import { concentrations, type Dose, kinetics, rateEvents } from './model.js';
import { logPrior, pkAt, residualVariance, VANCO_PRIORS, VANCO_TWIN_DIM, type VancoCovariates } from './parameters.js';

const HOUR = 3_600_000;

/** What the posterior sees: doses and the levels used, in hours from the first dose. */
export interface VancoFitData {
  cov: VancoCovariates;
  originMs: number;
  doses: Dose[];
  levelTimes: number[];
  levelConc: number[];
}

/**
 * Doses from the dataset and the levels measured at or before `untilMs` (all when undefined): a
 * level after `untilMs` is not used. Doses after it cannot change the levels before it.
 */
export function prepareFitData(dataset: Pick<VancomycinDataset, 'doses' | 'levels'>, cov: VancoCovariates, untilMs?: number): VancoFitData {
  const originMs = (dataset.doses[0] as { timeMs: number }).timeMs;
  const used = dataset.levels.filter((l) => untilMs === undefined || l.timeMs <= untilMs);
  return {
    cov,
    originMs,
    doses: dataset.doses.map((d) => ({ timeH: (d.timeMs - originMs) / HOUR, amountMg: d.amountMg, durationH: d.durationH })),
    levelTimes: used.map((l) => (l.timeMs - originMs) / HOUR),
    levelConc: used.map((l) => l.concMgL),
  };
}

/** SHA-256 of the conditioning information: covariates, levels used and the doses up to the last of them. */
export function conditioningFingerprint(data: VancoFitData): string {
  const last = data.levelTimes.length === 0 ? Number.NEGATIVE_INFINITY : Math.max(...data.levelTimes);
  const doses = data.doses.filter((d) => d.timeH <= last).map((d) => [data.originMs + d.timeH * HOUR, d.amountMg, d.durationH]);
  const c = data.cov;
  return createHash('sha256')
    .update(
      JSON.stringify({
        cov: [c.ageYears, c.sex, c.bodyWeightKg, c.scrMgDl, c.dialysis],
        doses,
        levels: data.levelTimes.map((t, i) => [data.originMs + t * HOUR, data.levelConc[i]]),
      }),
    )
    .digest('hex');
}

const LOG_2PI = Math.log(2 * Math.PI);

/**
 * Log posterior of η (up to a constant): Gaussian levels with the Goti combined residual variance
 * (parameters.ts), plus the N(0, Ω) prior. The variance depends on the prediction, so the
 * 0.5·log Var term is kept (extended least squares, as NONMEM's MAP Bayesian objective).
 */
export function makeLogPosterior(data: VancoFitData): (theta: ArrayLike<number>) => number {
  const events = rateEvents(data.doses);
  return (theta) => {
    const lp = logPrior(theta);
    if (!Number.isFinite(lp)) return lp;
    if (data.levelTimes.length === 0) return lp;
    const c = concentrations(kinetics(pkAt(data.cov, theta)), data.doses, data.levelTimes, events);
    let ll = 0;
    for (let i = 0; i < c.length; i++) {
      const pred = c[i] as number;
      const v = residualVariance(pred);
      const r = (data.levelConc[i] as number) - pred;
      ll -= 0.5 * (LOG_2PI + Math.log(v) + (r * r) / v);
    }
    return lp + ll;
  };
}

/**
 * MAP by Nelder–Mead on −log posterior from the prior mean and two starts ±1 prior sd in ηCL (the
 * direction the levels inform most), then a restart from the best (Nelder–Mead can stall on a
 * ridge, which V1–V2 trade-offs make); the best value wins. Deterministic.
 */
export function fitMap(data: VancoFitData): { theta: Float64Array; logPosterior: number; evaluations: number } {
  const logPost = makeLogPosterior(data);
  let evaluations = 0;
  const f = (x: Float64Array) => {
    evaluations++;
    const v = logPost(x);
    return Number.isFinite(v) ? -v : 1e300;
  };
  const sdCl = (VANCO_PRIORS[0] as { sd: number }).sd;
  let best: { x: Float64Array; value: number } | undefined;
  for (const start of [0, -sdCl, sdCl]) {
    const x0 = new Float64Array(VANCO_TWIN_DIM);
    x0[0] = start;
    const r = nelderMead(f, x0, 0.2, 400, 1e-10);
    if (best === undefined || r.value < best.value) best = r;
  }
  const refined = nelderMead(f, (best as { x: Float64Array }).x, 0.05, 400, 1e-12);
  if (refined.value < (best as { value: number }).value) best = refined;
  const b = best as { x: Float64Array; value: number };
  return { theta: b.x, logPosterior: -b.value, evaluations };
}
