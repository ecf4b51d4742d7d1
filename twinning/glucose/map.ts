import { levenbergMarquardt } from 'ml-levenberg-marquardt';
import { Rng } from '../../engine/random.js';
import { nelderMead } from '../optimize.js';
import { ar1LogLik, type GlucoseFitData, logPrior, makeLogPosterior, predictWindow } from './likelihood.js';
import { GLUCOSE_TWIN_DIM, logit, P, PHYSIOLOGY_DIM, sigmoid } from './parameters.js';

/**
 * Maximum a posteriori θ of a personal glucose twin.
 *
 * With the CGM-error parameters (σ, φ) held, the log posterior of the physiological parameters is
 * a nonlinear least-squares problem: whiten the residuals of the AR(1) error model,
 * w_k = (e_k − a·e_j)/√(1 − a²), a = φ^(k−j) for consecutive used readings j < k (w = e for the first),
 * so every w_k ~ N(0, σ²), and append one pseudo-observation per normal prior, σ·(θ_i − μ_i)/s_i.
 * Levenberg–Marquardt (ml-levenberg-marquardt) minimises that sum of squares; then (σ, φ) are
 * re-estimated with the trajectory held (Nelder–Mead on their exact conditional log posterior). One
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
  let evaluations = 0;
  const rng = Rng.fromSeed(opts.seed).fork('map/starts');
  let best: { theta: Float64Array; lp: number } | undefined;
  const perStart: number[] = [];
  const refine = (theta: Float64Array, round: number): void => {
    const sigma = Math.exp(theta[P.logSigma] as number);
    const phi = sigmoid(theta[P.logitPhi] as number);
    // whitening coefficients for the used readings
    const coef = new Float64Array(used.length);
    const scale = new Float64Array(used.length);
    for (let u = 0; u < used.length; u++) {
      if (u === 0) {
        coef[u] = 0;
        scale[u] = 1;
      } else {
        const a = phi ** ((used[u] as number) - (used[u - 1] as number));
        coef[u] = a;
        scale[u] = 1 / Math.sqrt(1 - a * a);
      }
    }
    const nData = used.length;
    const y = new Float64Array(nData + PHYSIOLOGY_DIM);
    for (let u = 0; u < nData; u++) {
      const prev = u > 0 ? (data.cgm[used[u - 1] as number] as number) : 0;
      y[u] = ((data.cgm[used[u] as number] as number) - (coef[u] as number) * prev) * (scale[u] as number);
    }
    for (let i = 0; i < PHYSIOLOGY_DIM; i++) {
      const pr = data.priors[i] as { mean: number; sd: number };
      y[nData + i] = (sigma * pr.mean) / pr.sd;
    }
    const full = Float64Array.from(theta);
    const f = new Float64Array(nData + PHYSIOLOGY_DIM);
    const model = (params: number[]) => {
      for (let i = 0; i < PHYSIOLOGY_DIM; i++) full[i] = params[i] as number;
      evaluations++;
      const ok = predictWindow(full, data, m);
      for (let u = 0; u < nData; u++) {
        const prev = u > 0 ? (m[used[u - 1] as number] as number) : 0;
        f[u] = ok ? ((m[used[u] as number] as number) - (coef[u] as number) * prev) * (scale[u] as number) : 1e6;
      }
      for (let i = 0; i < PHYSIOLOGY_DIM; i++) {
        const pr = data.priors[i] as { mean: number; sd: number };
        f[nData + i] = (sigma * (params[i] as number)) / pr.sd;
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
        t[P.logSigma] = x[0] as number;
        t[P.logitPhi] = x[1] as number;
        const phiX = sigmoid(x[1] as number);
        if (!(phiX < 0.999)) return Number.POSITIVE_INFINITY;
        return -(ar1LogLik(data.cgm, m, data.include, Math.exp(x[0] as number), phiX) + logPrior(t, data.priors));
      },
      [theta[P.logSigma] as number, theta[P.logitPhi] as number],
      0.3,
    );
    theta[P.logSigma] = noise.x[0] as number;
    theta[P.logitPhi] = noise.x[1] as number;
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
