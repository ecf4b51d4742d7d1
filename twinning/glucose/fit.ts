import { datasetFingerprint } from '../../datasets/codec.js';
import { type GlucoseDataset, slotTimeMs } from '../../datasets/types.js';
import { describeValue, TwinlabError } from '../../engine/errors.js';
import { Rng } from '../../engine/random.js';
import { type AgeGroup, isAgeGroup } from '../../environments/glucose/params.js';
import { inProcessDensity, type LogDensityBatch, sampleEnsemble, workerDensity } from '../mcmc/index.js';
import { selectFitWindow } from './data-rules.js';
import { DEFAULT_PROCESS_NOISE, GlucoseParticleFilter, type ProcessNoise } from './filter.js';
import { forecastAt, GlucoseProjector } from './forecast.js';
import { CARB_COUNT_SD, type GlucoseFitData, makeLogPosterior, predictWindow, prepareFitData } from './likelihood.js';
import { fitMap } from './map.js';
import { ERROR_SD_SPLIT, GLUCOSE_TWIN_DIM, GLUCOSE_TWIN_PARAMETERS, type GlucoseTwinContext, NATURAL_PARAMETERS, naturalValues } from './parameters.js';
import { type GlucoseTwinFile, TWIN_FORMAT } from './twin-file.js';
import { quantileSorted } from '../../engine/distributions.js';

export const FIT_METHODS = { map: 'map', mcmc: 'mcmc' } as const;
export type FitMethod = (typeof FIT_METHODS)[keyof typeof FIT_METHODS];
export function isFitMethod(value: unknown): value is FitMethod {
  return typeof value === 'string' && Object.hasOwn(FIT_METHODS, value);
}

export interface GlucoseFitOptions {
  bodyWeightKg?: number;
  group?: AgeGroup;
  /** Use data strictly before this time (epoch ms). */
  untilMs?: number;
  method: FitMethod;
  seed: number;
  codeVersion: string;
  /** MCMC: walkers × steps, burn-in, and worker threads (1 = in-process). */
  walkers?: number;
  steps?: number;
  burn?: number;
  workers?: number;
  /** Posterior draws kept in twin.json (evenly spaced over the kept chain). */
  draws?: number;
  /** Particles of the living profile. */
  particles?: number;
  /** SD of the fractional carb-counting error per meal in the likelihood (likelihood.ts CARB_COUNT_SD; 0 = exact counts). */
  carbCountSd?: number;
  /** Share of post-burn-in half-steps using the independence move (twinning/mcmc/ensemble.ts); default FIT_DEFAULTS. */
  independenceProbability?: number;
  onProgress?: (stage: string, done: number, total: number) => void;
}

/**
 * Sampler defaults. deProbability: the share of half-steps that use the differential-evolution move
 * (twinning/mcmc/ensemble.ts) rather than the stretch move — 0.8 as emcee's documented mixture
 * (Foreman-Mackey et al., emcee docs "Using different moves"). independenceProbability /
 * independenceComponents: from mid burn-in, 90 % of half-steps propose from a 6-component t mixture
 * fitted to the burn-in (mcmc/README.md "Independence move"): the error parameters' posterior is
 * skewed (the sensor/discrepancy split, the ordering constraint on their time constants), which one
 * t fits poorly (independence acceptance ≈ 0.18 measured) and a few components fit well (≈ 0.4).
 * 20 walkers (≥ 2·9) × 6,000 steps, 1,000 burn-in: 120,000 evaluations; on synthetic weeks max
 * R-hat ≈ 1.01 (bench/twin-glucose.ts; the walkers matter less than the chain length for R-hat).
 */
export const FIT_DEFAULTS = { walkers: 20, steps: 6000, burn: 1000, workers: 2, draws: 200, particles: 64, deProbability: 0.8, independenceProbability: 0.9, independenceComponents: 6 } as const;
/** Candidate levels of the glucose process noise (per 5-min slot) tried by the calibration. */
export const PROCESS_NOISE_GRID = [0.005, 0.01, 0.02, 0.03, 0.04, 0.06, 0.08, 0.12] as const;
/** Nominal coverage the calibration aims for with the 95 % band at 60 min. */
const TARGET_COVERAGE = 0.95;

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/**
 * Fit a personal glucose twin to one person's dataset.
 *
 * 1. Check the options (body weight from the options or the dataset; age group).
 * 2. Apply the data rules (data-rules.ts): steady-state start, days with > 10 % missing CGM out of
 *    the likelihood, ≥ 6 h usable.
 * 3. Prepare the likelihood (likelihood.ts): window slices, the stomach's outflow, the priors.
 * 4. MAP from several starts (map.ts).
 * 5. With `mcmc`: the affine-invariant ensemble sampler (twinning/mcmc) from a small ball around the
 *    MAP, walkers evaluated in Piscina workers; diagnostics and warnings; evenly spaced draws kept.
 *    With `map`: the MAP is the only draw.
 * 6. Calibrate the living profile's glucose process noise on the person's own data: going up
 *    PROCESS_NOISE_GRID, the level whose 95 % band's coverage of 60-min-ahead readings over the
 *    window's last two days (forecast origins every 30 min) is nearest 95 % (the first level reaching
 *    95 % or the one below it), else the largest.
 * 7. Fit quality of the MAP trajectory (RMSE, MARD against the used readings) and the twin file.
 */
export async function fitGlucoseTwin(dataset: GlucoseDataset, opts: GlucoseFitOptions): Promise<GlucoseTwinFile> {
  // 1.
  const bodyWeightKg = opts.bodyWeightKg ?? dataset.bodyWeightKg;
  if (bodyWeightKg === undefined)
    throw new TwinlabError('INVALID_ARGUMENT', '--body-weight is required: the dataset carries no body weight', { field: 'bodyWeightKg' });
  if (!(Number.isFinite(bodyWeightKg) && bodyWeightKg >= 10 && bodyWeightKg <= 300)) {
    throw new TwinlabError('INVALID_ARGUMENT', `body weight must be 10–300 kg, got ${describeValue(bodyWeightKg)}`, { field: 'bodyWeightKg' });
  }
  const group = opts.group ?? 'adult';
  if (!isAgeGroup(group))
    throw new TwinlabError('INVALID_ARGUMENT', `group must be adult, adolescent or child, got ${describeValue(group)}`, { field: 'group' });
  const progress = opts.onProgress ?? (() => {});
  // 2.
  const window = selectFitWindow(dataset, opts.untilMs);
  const basalAtStart = dataset.basalUPerH[window.from] as number;
  const basalUPerH = basalAtStart > 0 ? basalAtStart : medianPositive(dataset.basalUPerH.subarray(window.from, window.to));
  if (!(basalUPerH > 0))
    throw new TwinlabError('INVALID_ARGUMENT', 'the data records no basal insulin in the fit window (basal_u_per_h is 0 throughout)', {
      field: 'basal_u_per_h',
    });
  const ctx: GlucoseTwinContext = { group, bodyWeightKg, basalUPerH };
  // 3.
  const carbCountSd = opts.carbCountSd ?? CARB_COUNT_SD;
  if (!(carbCountSd >= 0 && carbCountSd <= 1))
    throw new TwinlabError('INVALID_ARGUMENT', `carbCountSd: must be between 0 and 1 (a fraction of the logged carbohydrate), got ${carbCountSd}`, { field: 'carbCountSd' });
  const data = prepareFitData(dataset, window.from, window.to, window.include, ctx, carbCountSd);
  // 4.
  progress('map', 0, 1);
  const map = fitMap(data, { seed: opts.seed });
  progress('map', 1, 1);
  // 5.
  let draws: Float64Array[] = [map.theta];
  let diagnostics: GlucoseTwinFile['posterior']['diagnostics'];
  if (opts.method === 'mcmc') {
    const result = await samplePosterior(data, map.theta, opts, progress);
    draws = result.draws;
    diagnostics = result.diagnostics;
  }
  // 6.
  const particles = opts.particles ?? FIT_DEFAULTS.particles;
  const calibration = calibrateProcessNoise(dataset, ctx, draws, carbCountSd, window.from, window.to, particles, opts.seed, progress);
  // 7.
  const m = new Float64Array(data.n);
  predictWindow(map.theta, data, m);
  let se = 0;
  let ape = 0;
  let count = 0;
  for (let k = 0; k < data.n; k++) {
    if (data.include[k] !== 1) continue;
    const y = data.cgm[k] as number;
    se += ((m[k] as number) - y) ** 2;
    ape += Math.abs((m[k] as number) - y) / y;
    count++;
  }
  const nat = draws.map((t) => naturalValues(t));
  const mapNat = naturalValues(map.theta);
  const summary = NATURAL_PARAMETERS.map((p) => {
    const values = Float64Array.from(nat.map((v) => v[p.name])).sort();
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / Math.max(1, values.length - 1));
    return {
      name: p.name,
      unit: p.unit,
      label: p.label,
      mean,
      sd,
      q05: quantileSorted(values, 0.05),
      q50: quantileSorted(values, 0.5),
      q95: quantileSorted(values, 0.95),
      map: mapNat[p.name],
    };
  });
  return {
    format: TWIN_FORMAT,
    twin: 'glucose',
    codeVersion: opts.codeVersion,
    seed: opts.seed,
    method: opts.method,
    patient: { id: dataset.patientId, bodyWeightKg },
    context: ctx,
    data: {
      fingerprint: datasetFingerprint(dataset),
      start: iso(dataset.startMs),
      end: iso(slotTimeMs(dataset, dataset.cgm.length)),
      windowStart: iso(slotTimeMs(dataset, window.from)),
      windowEnd: iso(slotTimeMs(dataset, window.to)),
      usableReadings: window.usableReadings,
      rules: window.messages,
    },
    parameters: { names: [...GLUCOSE_TWIN_PARAMETERS], priors: data.priors, carbCountSd },
    map: { theta: Array.from(map.theta), logPosterior: map.logPosterior, evaluations: map.evaluations, perStart: map.perStart },
    posterior: { draws: draws.map((d) => Array.from(d)), summary, ...(diagnostics ? { diagnostics } : {}) },
    filter: { particles, processNoise: calibration.chosen, calibration: calibration.table },
    fit: { rmse: Math.sqrt(se / count), mard: (100 * ape) / count, readings: count },
  };
}

function medianPositive(values: ArrayLike<number>): number {
  const pos = Array.from(values)
    .filter((v) => v > 0)
    .sort((a, b) => a - b);
  return pos.length === 0 ? 0 : (pos[Math.floor(pos.length / 2)] as number);
}

async function samplePosterior(
  data: GlucoseFitData,
  mapTheta: Float64Array,
  opts: GlucoseFitOptions,
  progress: (stage: string, done: number, total: number) => void,
): Promise<{ draws: Float64Array[]; diagnostics: NonNullable<GlucoseTwinFile['posterior']['diagnostics']> }> {
  const walkers = opts.walkers ?? FIT_DEFAULTS.walkers;
  const steps = opts.steps ?? FIT_DEFAULTS.steps;
  const burn = opts.burn ?? FIT_DEFAULTS.burn;
  const workers = opts.workers ?? FIT_DEFAULTS.workers;
  const root = Rng.fromSeed(opts.seed);
  // Initial ensemble: draws from the Laplace approximation N(MAP, (−∇²log p)⁻¹) (laplaceFactor), so the
  // walkers start with the posterior's own scale *and correlations* — a diagonal ball is far narrower
  // than the marginals when parameters trade off (insulin sensitivity against basal glucose), and an
  // ensemble grows out of a narrow start only slowly, which showed as R-hat ≈ 1.13 and credible
  // intervals too narrow. A draw with a non-finite density is redrawn (deterministically).
  const logPost = makeLogPosterior(data);
  const factor = laplaceFactor(
    logPost,
    mapTheta,
    data.priors.map((p) => p.sd),
  );
  const ballRng = root.fork('mcmc/init');
  const init = new Float64Array(walkers * GLUCOSE_TWIN_DIM);
  const z = new Float64Array(GLUCOSE_TWIN_DIM);
  for (let w = 0; w < walkers; w++) {
    const p = new Float64Array(GLUCOSE_TWIN_DIM);
    for (let tries = 0; ; tries++) {
      for (let i = 0; i < GLUCOSE_TWIN_DIM; i++) z[i] = ballRng.normal();
      for (let i = 0; i < GLUCOSE_TWIN_DIM; i++) {
        let v = mapTheta[i] as number;
        for (let j = 0; j <= i; j++) v += (factor[i * GLUCOSE_TWIN_DIM + j] as number) * (z[j] as number);
        p[i] = v;
      }
      if (Number.isFinite(logPost(p))) break;
      if (tries > 100) throw new TwinlabError('INTEGRATION_FAILED', 'could not place MCMC walkers around the MAP: the posterior is not finite there');
    }
    init.set(p, w * GLUCOSE_TWIN_DIM);
  }
  const density: LogDensityBatch =
    workers > 1
      ? workerDensity({
          dim: GLUCOSE_TWIN_DIM,
          module: new URL('./likelihood.js', import.meta.url).href.replace(/\.js$/, likelihoodExtension()),
          exportName: 'glucoseLogPosteriorFactory',
          init: data,
          workers,
        })
      : inProcessDensity(GLUCOSE_TWIN_DIM, logPost);
  try {
    const result = await sampleEnsemble({
      walkers,
      steps,
      burn,
      init,
      rng: root.fork('mcmc'),
      density,
      deProbability: FIT_DEFAULTS.deProbability,
      independenceProbability: opts.independenceProbability ?? FIT_DEFAULTS.independenceProbability,
      independenceComponents: FIT_DEFAULTS.independenceComponents,
      reparametrization: ERROR_SD_SPLIT,
      names: [...GLUCOSE_TWIN_PARAMETERS],
      onProgress: (step) => progress('mcmc', step, steps),
    });
    const total = result.kept * result.walkers;
    const want = Math.min(opts.draws ?? FIT_DEFAULTS.draws, total);
    const draws: Float64Array[] = [];
    for (let j = 0; j < want; j++) {
      const idx = Math.floor(((j + 0.5) * total) / want);
      draws.push(result.chain.slice(idx * GLUCOSE_TWIN_DIM, (idx + 1) * GLUCOSE_TWIN_DIM));
    }
    const dg = result.diagnostics;
    return {
      draws,
      diagnostics: {
        walkers,
        steps,
        burn,
        acceptance: result.acceptance,
        rhat: Array.from(dg.rhat),
        ess: Array.from(dg.ess),
        ok: dg.ok,
        warnings: dg.warnings,
      },
    };
  } finally {
    await density.close();
  }
}

/**
 * Lower Cholesky factor L (row-major d×d) of the Laplace covariance (−H)⁻¹ at the mode, H the Hessian
 * of the log posterior by central differences (step 0.02 on the transformed scale; off-diagonal
 * entries from the four-point formula). The covariance is clipped so no marginal SD exceeds the
 * prior's. Where −H is not positive definite (a flat or non-quadratic direction), the factor falls
 * back to the diagonal: 1/√(−H_ii) where that curvature is negative, else the prior SD.
 */
export function laplaceFactor(logPost: (t: Float64Array) => number, mode: Float64Array, priorSd: number[]): Float64Array {
  const d = mode.length;
  const h = 0.02;
  const f0 = logPost(mode);
  const t = Float64Array.from(mode);
  const at = (i: number, di: number, j: number, dj: number): number => {
    t[i] = (t[i] as number) + di;
    t[j] = (t[j] as number) + dj;
    const v = logPost(t);
    t.set(mode);
    return v;
  };
  const neg = new Float64Array(d * d); // −H
  for (let i = 0; i < d; i++) {
    neg[i * d + i] = -(at(i, h, i, 0) - 2 * f0 + at(i, -h, i, 0)) / (h * h);
    for (let j = 0; j < i; j++) {
      const v = -(at(i, h, j, h) - at(i, h, j, -h) - at(i, -h, j, h) + at(i, -h, j, -h)) / (4 * h * h);
      neg[i * d + j] = v;
      neg[j * d + i] = v;
    }
  }
  const diagonal = (): Float64Array => {
    const out = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      const c = neg[i * d + i] as number;
      out[i * d + i] = c > 0 && Number.isFinite(c) ? Math.min(1 / Math.sqrt(c), priorSd[i] as number) : (priorSd[i] as number);
    }
    return out;
  };
  if (!neg.every(Number.isFinite)) return diagonal();
  // covariance = (−H)⁻¹ by Gauss–Jordan on the small symmetric matrix, then its Cholesky factor
  const cov = invertSymmetric(neg, d);
  if (cov === undefined) return diagonal();
  for (let i = 0; i < d; i++) {
    const sd = Math.sqrt(cov[i * d + i] as number);
    const cap = priorSd[i] as number;
    if (sd > cap) {
      const r = cap / sd;
      for (let j = 0; j < d; j++) {
        cov[i * d + j] = (cov[i * d + j] as number) * r;
        cov[j * d + i] = (cov[j * d + i] as number) * r;
      }
    }
  }
  const l = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let v = cov[i * d + j] as number;
      for (let k = 0; k < j; k++) v -= (l[i * d + k] as number) * (l[j * d + k] as number);
      if (i === j) {
        if (!(v > 0)) return diagonal();
        l[i * d + i] = Math.sqrt(v);
      } else l[i * d + j] = v / (l[j * d + j] as number);
    }
  }
  return l;
}

/** Inverse of a symmetric positive-definite d×d matrix (row-major), or undefined if it is not. */
function invertSymmetric(a: Float64Array, d: number): Float64Array | undefined {
  const m = Float64Array.from(a);
  const inv = new Float64Array(d * d);
  for (let i = 0; i < d; i++) inv[i * d + i] = 1;
  for (let c = 0; c < d; c++) {
    const pivot = m[c * d + c] as number;
    if (!(pivot > 0)) return undefined;
    for (let j = 0; j < d; j++) {
      m[c * d + j] = (m[c * d + j] as number) / pivot;
      inv[c * d + j] = (inv[c * d + j] as number) / pivot;
    }
    for (let r = 0; r < d; r++) {
      if (r === c) continue;
      const f = m[r * d + c] as number;
      if (f === 0) continue;
      for (let j = 0; j < d; j++) {
        m[r * d + j] = (m[r * d + j] as number) - f * (m[c * d + j] as number);
        inv[r * d + j] = (inv[r * d + j] as number) - f * (inv[c * d + j] as number);
      }
    }
  }
  return inv;
}

/** The extension this module runs under (.ts with tsx, .js compiled), for the worker's import. */
function likelihoodExtension(): string {
  return import.meta.url.endsWith('.ts') ? '.ts' : '.js';
}

function calibrateProcessNoise(
  dataset: GlucoseDataset,
  ctx: GlucoseTwinContext,
  draws: Float64Array[],
  carbCountSd: number,
  from: number,
  to: number,
  particles: number,
  seed: number,
  progress: (stage: string, done: number, total: number) => void,
): { chosen: ProcessNoise; table: Array<{ glucose: number; coverage60: number }> } {
  const evalFrom = Math.max(from + 1, to - 2 * 288);
  const table: Array<{ glucose: number; coverage60: number }> = [];
  let chosen: ProcessNoise | undefined;
  const projector = new GlucoseProjector();
  PROCESS_NOISE_GRID.forEach((q, gi) => {
    progress('calibrate', gi, PROCESS_NOISE_GRID.length);
    if (chosen !== undefined) return;
    const noise = { glucose: q, insulinSensitivity: DEFAULT_PROCESS_NOISE.insulinSensitivity };
    const root = Rng.fromSeed(seed).fork(`calibrate/${q}`);
    const filter = new GlucoseParticleFilter({ ctx, draws, processNoise: noise, carbCountSd }, dataset, from, particles, root.fork('filter'));
    let hit = 0;
    let total = 0;
    for (let k = evalFrom; k + 12 < to; k += 6) {
      filter.advanceTo(k);
      const y = dataset.cgm[k + 12] as number;
      if (!Number.isFinite(y)) continue;
      const [p] = forecastAt(filter, projector, [60], root.fork(`origin/${k}`));
      if (p === undefined) continue;
      total++;
      if (y >= p.lo && y <= p.hi) hit++;
    }
    const coverage = total > 0 ? hit / total : 0;
    const previous = table[table.length - 1];
    table.push({ glucose: q, coverage60: coverage });
    if (coverage >= TARGET_COVERAGE) {
      // the grid level whose coverage is nearest the target: this one or the one below it
      const below = previous !== undefined && TARGET_COVERAGE - previous.coverage60 < coverage - TARGET_COVERAGE;
      chosen = below ? { ...noise, glucose: previous.glucose } : noise;
    }
  });
  progress('calibrate', PROCESS_NOISE_GRID.length, PROCESS_NOISE_GRID.length);
  const last = PROCESS_NOISE_GRID[PROCESS_NOISE_GRID.length - 1] as number;
  return { chosen: chosen ?? { glucose: last, insulinSensitivity: DEFAULT_PROCESS_NOISE.insulinSensitivity }, table };
}
