import { levenbergMarquardt } from 'ml-levenberg-marquardt';
import { Rng } from '../../engine/random.js';
import { nelderMead } from '../optimize.js';
import { type CgmErrorParams, cgmErrorLogLik, ERROR_STATE_DIM, InnovationWhitener, type MealErrorInputs } from './cgm-error.js';
import { type GlucoseFitData, logPrior, makeLogPosterior, predictWindow } from './likelihood.js';
import { cgmErrorParamsForTheta, GLUCOSE_TWIN_DIM, logit, type NormalPrior, PHYSIOLOGY_DIM } from './parameters.js';

/**
 * Maximum a posteriori θ of a personal glucose twin.
 *
 * With the CGM-error parameters held, the log posterior of the physiological parameters is a
 * nonlinear least-squares problem: the standardised Kalman innovations of the two-component error
 * model (cgm-error.ts `InnovationWhitener`) are each N(0, 1) and linear in e = y − m, and their
 * variances do not depend on m; append one pseudo-observation per normal prior, (θ_i − μ_i)/s_i.
 * Levenberg–Marquardt (ml-levenberg-marquardt) minimises that sum of squares; then the four error
 * parameters are re-estimated with the trajectory held (Nelder–Mead on their exact conditional log
 * posterior). One
 * such round (at most 15 LM iterations) from each of several starts — the prior mean and seeded draws
 * from the prior — then the further rounds (25 iterations) from the start with the highest log
 * posterior only.
 */
export interface MapOptions {
  seed: number;
  starts?: number;
  rounds?: number;
  iterations?: number;
}

export interface MapResult {
  theta: Float64Array;
  logPosterior: number;
  /** Model evaluations used. */
  evaluations: number;
  /** Log posterior reached from each start. */
  perStart: number[];
}

/**
 * What the MAP needs of a CGM twin (the type 1 glucose twin here, the type 2 twin in
 * twinning/glucose-t2d): θ = physiological parameters first, then the CGM error model's; the readings,
 * which of them count, the meal inputs of the error model, the priors of θ, the model's CGM for θ, the
 * error model for θ and the log posterior.
 */
export interface CgmMapProblem {
  n: number;
  cgm: Float64Array;
  include: Uint8Array;
  meals: MealErrorInputs;
  priors: NormalPrior[];
  physiologyDim: number;
  predict(theta: Float64Array, out: Float64Array): boolean;
  errorParams(theta: ArrayLike<number>): CgmErrorParams | undefined;
  logPosterior(theta: Float64Array): number;
}

export function fitMap(data: GlucoseFitData, opts: MapOptions): MapResult {
  return fitCgmMap(
    {
      n: data.n,
      cgm: data.cgm,
      include: data.include,
      meals: data.meals,
      priors: data.priors,
      physiologyDim: PHYSIOLOGY_DIM,
      predict: (theta, out) => predictWindow(theta, data, out),
      errorParams: cgmErrorParamsForTheta,
      logPosterior: makeLogPosterior(data),
    },
    opts,
  );
}

/** The MAP of any CgmMapProblem (the procedure above). */
export function fitCgmMap(data: CgmMapProblem, opts: MapOptions): MapResult {
  const physDim = data.physiologyDim;
  const errorDim = data.priors.length - physDim;
  const starts = opts.starts ?? 3;
  const rounds = opts.rounds ?? 2;
  const iterations = opts.iterations ?? 25;
  const screenIterations = Math.min(iterations, 15);
  const logPost = data.logPosterior;
  const used: number[] = [];
  for (let k = 0; k < data.n; k++) if (data.include[k] === 1) used.push(k);
  const m = new Float64Array(data.n);
  const scratch = new Float64Array(ERROR_STATE_DIM);
  let evaluations = 0;
  const rng = Rng.fromSeed(opts.seed).fork('map/starts');
  let best: { theta: Float64Array; lp: number } | undefined;
  const perStart: number[] = [];
  const usedSlots = Int32Array.from(used);
  const refine = (theta: Float64Array, round: number): void => {
    const error = data.errorParams(theta);
    if (error === undefined) return;
    // standardised Kalman innovations are linear in the error e = y − m: whiten y and m separately
    const whitener = new InnovationWhitener(usedSlots, error, data.meals);
    const nData = used.length;
    const wm = new Float64Array(nData);
    const y = new Float64Array(nData + physDim);
    whitener.whiten(data.cgm, wm);
    y.set(wm);
    for (let i = 0; i < physDim; i++) {
      const pr = data.priors[i] as { mean: number; sd: number };
      y[nData + i] = pr.mean / pr.sd;
    }
    const full = Float64Array.from(theta);
    const f = new Float64Array(nData + physDim);
    const model = (params: number[]) => {
      for (let i = 0; i < physDim; i++) full[i] = params[i] as number;
      evaluations++;
      if (data.predict(full, m)) {
        whitener.whiten(m, wm);
        f.set(wm);
      } else f.fill(1e6, 0, nData);
      for (let i = 0; i < physDim; i++) {
        const pr = data.priors[i] as { mean: number; sd: number };
        f[nData + i] = (params[i] as number) / pr.sd;
      }
      const snapshot = Float64Array.from(f);
      return (x: number) => snapshot[x] as number;
    };
    const lo = data.priors.slice(0, physDim).map((p) => p.mean - 5 * p.sd);
    const hi = data.priors.slice(0, physDim).map((p) => p.mean + 5 * p.sd);
    const xs = Array.from({ length: nData + physDim }, (_, i) => i);
    const result = levenbergMarquardt({ x: xs, y }, model, {
      initialValues: Array.from(theta.subarray(0, physDim)),
      minValues: lo,
      maxValues: hi,
      gradientDifference: 1e-4,
      maxIterations: round === 0 ? screenIterations : iterations,
      damping: 1e-2,
      errorTolerance: 1e-6,
    });
    for (let i = 0; i < physDim; i++) theta[i] = result.parameterValues[i] as number;
    // CGM-error parameters with the trajectory held
    evaluations++;
    if (!data.predict(theta, m)) return;
    const noise = nelderMead(
      (x) => {
        const t = Float64Array.from(theta);
        for (let i = 0; i < errorDim; i++) t[physDim + i] = x[i] as number;
        const e = data.errorParams(t);
        if (e === undefined) return Number.POSITIVE_INFINITY;
        return -(cgmErrorLogLik(data.cgm, m, data.include, e, scratch, data.meals) + logPrior(t, data.priors));
      },
      Array.from(theta.subarray(physDim)),
      0.3,
    );
    for (let i = 0; i < errorDim; i++) theta[physDim + i] = noise.x[i] as number;
  };
  // screening: one round from every start
  for (let s = 0; s < starts; s++) {
    const theta = Float64Array.from(data.priors.map((p) => p.mean));
    if (s > 0) {
      const r = rng.fork(`start/${s}`);
      for (let i = 0; i < physDim; i++)
        theta[i] = (data.priors[i] as { mean: number; sd: number }).mean + (data.priors[i] as { sd: number }).sd * r.normal();
    }
    refine(theta, 0);
    evaluations++;
    const lp = logPost(theta);
    perStart.push(lp);
    if (best === undefined || lp > best.lp) best = { theta: Float64Array.from(theta), lp };
  }
  // the remaining rounds from the best start only
  const winner = best as { theta: Float64Array; lp: number };
  for (let round = 1; round < rounds; round++) refine(winner.theta, round);
  evaluations++;
  winner.lp = logPost(winner.theta);
  return { theta: winner.theta, logPosterior: winner.lp, evaluations, perStart };
}

export { GLUCOSE_TWIN_DIM, logit };
