import { levenbergMarquardt } from 'ml-levenberg-marquardt';
import { Rng } from '../../engine/random.js';
import { nelderMead } from '../optimize.js';
import { cgmErrorLogLik, ERROR_STATE_DIM, InnovationWhitener } from './cgm-error.js';
import { type GlucoseFitData, logPrior, makeLogPosterior, predictWindow } from './likelihood.js';
import { cgmErrorParamsForTheta, GLUCOSE_TWIN_DIM, logit, PHYSIOLOGY_DIM } from './parameters.js';

/** The CGM-error parameters follow the physiological ones in θ. */
const ERROR_DIM = GLUCOSE_TWIN_DIM - PHYSIOLOGY_DIM;

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

export function fitMap(data: GlucoseFitData, opts: MapOptions): MapResult {
  const starts = opts.starts ?? 3;
  const rounds = opts.rounds ?? 2;
  const iterations = opts.iterations ?? 25;
  const screenIterations = Math.min(iterations, 15);
  const logPost = makeLogPosterior(data);
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
    const error = cgmErrorParamsForTheta(theta);
    if (error === undefined) return;
    // standardised Kalman innovations are linear in the error e = y − m: whiten y and m separately
    const whitener = new InnovationWhitener(usedSlots, error, data.meals);
    const nData = used.length;
    const wm = new Float64Array(nData);
    const y = new Float64Array(nData + PHYSIOLOGY_DIM);
    whitener.whiten(data.cgm, wm);
    y.set(wm);
    for (let i = 0; i < PHYSIOLOGY_DIM; i++) {
      const pr = data.priors[i] as { mean: number; sd: number };
      y[nData + i] = pr.mean / pr.sd;
    }
    const full = Float64Array.from(theta);
    const f = new Float64Array(nData + PHYSIOLOGY_DIM);
    const model = (params: number[]) => {
      for (let i = 0; i < PHYSIOLOGY_DIM; i++) full[i] = params[i] as number;
      evaluations++;
      if (predictWindow(full, data, m)) {
        whitener.whiten(m, wm);
        f.set(wm);
      } else f.fill(1e6, 0, nData);
      for (let i = 0; i < PHYSIOLOGY_DIM; i++) {
        const pr = data.priors[i] as { mean: number; sd: number };
        f[nData + i] = (params[i] as number) / pr.sd;
      }
      const snapshot = Float64Array.from(f);
      return (x: number) => snapshot[x] as number;
    };
    const lo = data.priors.slice(0, PHYSIOLOGY_DIM).map((p) => p.mean - 5 * p.sd);
    const hi = data.priors.slice(0, PHYSIOLOGY_DIM).map((p) => p.mean + 5 * p.sd);
    const xs = Array.from({ length: nData + PHYSIOLOGY_DIM }, (_, i) => i);
    const result = levenbergMarquardt({ x: xs, y }, model, {
      initialValues: Array.from(theta.subarray(0, PHYSIOLOGY_DIM)),
      minValues: lo,
      maxValues: hi,
      gradientDifference: 1e-4,
      maxIterations: round === 0 ? screenIterations : iterations,
      damping: 1e-2,
      errorTolerance: 1e-6,
    });
    for (let i = 0; i < PHYSIOLOGY_DIM; i++) theta[i] = result.parameterValues[i] as number;
    // CGM-error parameters with the trajectory held
    evaluations++;
    if (!predictWindow(theta, data, m)) return;
    const noise = nelderMead(
      (x) => {
        const t = Float64Array.from(theta);
        for (let i = 0; i < ERROR_DIM; i++) t[PHYSIOLOGY_DIM + i] = x[i] as number;
        const e = cgmErrorParamsForTheta(t);
        if (e === undefined) return Number.POSITIVE_INFINITY;
        return -(cgmErrorLogLik(data.cgm, m, data.include, e, scratch, data.meals) + logPrior(t, data.priors));
      },
      Array.from(theta.subarray(PHYSIOLOGY_DIM)),
      0.3,
    );
    for (let i = 0; i < ERROR_DIM; i++) theta[PHYSIOLOGY_DIM + i] = noise.x[i] as number;
  };
  // screening: one round from every start
  for (let s = 0; s < starts; s++) {
    const theta = Float64Array.from(data.priors.map((p) => p.mean));
    if (s > 0) {
      const r = rng.fork(`start/${s}`);
      for (let i = 0; i < PHYSIOLOGY_DIM; i++)
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
