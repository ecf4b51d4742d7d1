import { datasetFingerprint } from '../../datasets/codec.js';
import { type GlucoseDataset, slotTimeMs } from '../../datasets/types.js';
import { describeValue, TwinlabError } from '../../engine/errors.js';
import { selectFitWindow } from '../glucose/data-rules.js';
import { calibrateProcessNoise, fitQuality } from '../calibration.js';
import type { FitMethod } from '../glucose/fit.js';
import { CARB_COUNT_SD } from '../glucose/likelihood.js';
import { fitCgmMap } from '../glucose/map.js';
import { cgmErrorParamsForTheta } from '../glucose/parameters.js';
import { samplePosteriorAround, summarizeDraws } from '../posterior.js';
import { T2DParticleFilter } from './filter.js';
import { makeT2DLogPosterior, predictT2DWindow, prepareT2DFitData } from './likelihood.js';
import { DEFAULT_MEAL_GI, T2D_NATURAL_PARAMETERS, T2D_PHYSIOLOGY_DIM, T2D_TWIN_PARAMETERS, type T2DTwinContext, t2dNaturalValues } from './parameters.js';
import { t2dForecastAt } from './replay.js';
import { T2D_TWIN_FORMAT, type T2DTwinFile } from './twin-file.js';

export interface T2DFitOptions {
  bodyWeightKg?: number;
  /** Use data strictly before this time (epoch ms). */
  untilMs?: number;
  method: FitMethod;
  seed: number;
  codeVersion: string;
  walkers?: number;
  steps?: number;
  burn?: number;
  workers?: number;
  draws?: number;
  particles?: number;
  /** SD of the fractional carb-counting error per meal (0 = exact counts; default 0.2). */
  carbCountSd?: number;
  /** GI of the logged meals (parameters.ts DEFAULT_MEAL_GI). */
  mealGi?: number;
  onProgress?: (stage: string, done: number, total: number) => void;
}

/**
 * Sampler defaults of the type 2 twin. Its model (secretion, hepatic extraction: nonlinear, with a fast
 * liver–plasma insulin exchange that keeps RK4 at 1 min) costs ≈ 5 ms of CPU per 14-day evaluation on
 * the loaded development machine — several times the type 1 twin's, whose insulin part is linear and
 * advances exactly — so the default chain is shorter than the type 1 twin's (32 × 2,000): 20 walkers
 * (≥ 2 × 9 parameters) × 500 steps, 150 burn-in (10,000 evaluations). A 14-day fit then takes 52–54 s
 * of CPU over all threads: 34 s wall on two workers when the machine is not saturated, 71–92 s at load
 * 7–9 (bench/twin-t2d.ts). The diagnostics say when the chain is too short (at these defaults they
 * usually do: run longer with `--steps`).
 */
export const T2D_FIT_DEFAULTS = { walkers: 20, steps: 500, burn: 150, workers: 2, draws: 200, particles: 64, deProbability: 0.8 } as const;

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/**
 * The data rule of the type 2 twin (not insulin-treated): the CSV's basal_u_per_h and bolus_u columns
 * stay in the import format but must be empty or 0 everywhere; a file with insulin is refused naming
 * the column and the first slot that has it (the model's only insulin is the person's own secretion).
 */
export function checkNoInsulin(d: GlucoseDataset): void {
  for (const [field, values] of [
    ['basal_u_per_h', d.basalUPerH],
    ['bolus_u', d.bolusU],
  ] as const) {
    const k = values.findIndex((v) => v !== 0 && !Number.isNaN(v));
    if (k >= 0) {
      throw new TwinlabError(
        'INVALID_ARGUMENT',
        `${field}: the type 2 twin is for people not treated with insulin, but the data has ${values[k]} at ${iso(slotTimeMs(d, k))}; leave the column empty or 0 (or fit the type 1 twin, --twin glucose)`,
        { field, slot: k },
      );
    }
  }
}

/**
 * Fit a personal type 2 twin to one person's CGM and logged meals, as the type 1 twin's fit
 * (twinning/glucose/fit.ts): options and the insulin rule; the data rules (data-rules.ts: steady-state
 * start ≥ 4 h after a meal, days with > 10 % missing CGM out of the likelihood, ≥ 6 h usable); MAP
 * (map.ts fitCgmMap, Levenberg–Marquardt on whitened innovations from several starts); with `mcmc` the
 * ensemble sampler around the MAP in workers (posterior.ts); the living profile's glucose process
 * noise calibrated on the window's last two days (60-min coverage nearest 95 %); fit quality; twin.json.
 */
export async function fitT2DTwin(dataset: GlucoseDataset, opts: T2DFitOptions): Promise<T2DTwinFile> {
  const bodyWeightKg = opts.bodyWeightKg ?? dataset.bodyWeightKg;
  if (bodyWeightKg === undefined)
    throw new TwinlabError('INVALID_ARGUMENT', '--body-weight is required: the dataset carries no body weight', { field: 'bodyWeightKg' });
  if (!(Number.isFinite(bodyWeightKg) && bodyWeightKg >= 30 && bodyWeightKg <= 300)) {
    throw new TwinlabError('INVALID_ARGUMENT', `body weight must be 30–300 kg, got ${describeValue(bodyWeightKg)}`, { field: 'bodyWeightKg' });
  }
  const mealGi = opts.mealGi ?? DEFAULT_MEAL_GI;
  if (!(Number.isFinite(mealGi) && mealGi >= 1 && mealGi <= 150)) {
    throw new TwinlabError('INVALID_ARGUMENT', `mealGi: must be a glycaemic index in [1, 150], got ${describeValue(mealGi)}`, { field: 'mealGi' });
  }
  const carbCountSd = opts.carbCountSd ?? CARB_COUNT_SD;
  if (!(carbCountSd >= 0 && carbCountSd <= 1)) {
    throw new TwinlabError(
      'INVALID_ARGUMENT',
      `carbCountSd: must be between 0 and 1 (a fraction of the logged carbohydrate), got ${describeValue(carbCountSd)}`,
      {
        field: 'carbCountSd',
      },
    );
  }
  checkNoInsulin(dataset);
  const progress = opts.onProgress ?? (() => {});
  const window = selectFitWindow(dataset, opts.untilMs);
  const ctx: T2DTwinContext = { bodyWeightKg, mealGi };
  const data = prepareT2DFitData(dataset, window.from, window.to, window.include, ctx, carbCountSd);
  const logPost = makeT2DLogPosterior(data);
  progress('map', 0, 1);
  const map = fitCgmMap(
    {
      n: data.n,
      cgm: data.cgm,
      include: data.include,
      meals: data.meals,
      priors: data.priors,
      physiologyDim: T2D_PHYSIOLOGY_DIM,
      predict: (theta, out) => predictT2DWindow(theta, data, out),
      errorParams: cgmErrorParamsForTheta,
      logPosterior: logPost,
    },
    { seed: opts.seed },
  );
  progress('map', 1, 1);
  let draws: Float64Array[] = [map.theta];
  let diagnostics: T2DTwinFile['posterior']['diagnostics'];
  if (opts.method === 'mcmc') {
    const steps = opts.steps ?? T2D_FIT_DEFAULTS.steps;
    const result = await samplePosteriorAround({
      logPost,
      mapTheta: map.theta,
      priorSd: data.priors.map((p) => p.sd),
      names: [...T2D_TWIN_PARAMETERS],
      walkers: opts.walkers ?? T2D_FIT_DEFAULTS.walkers,
      steps,
      burn: opts.burn ?? T2D_FIT_DEFAULTS.burn,
      workers: opts.workers ?? T2D_FIT_DEFAULTS.workers,
      draws: opts.draws ?? T2D_FIT_DEFAULTS.draws,
      seed: opts.seed,
      deProbability: T2D_FIT_DEFAULTS.deProbability,
      worker: {
        module: new URL('./likelihood.js', import.meta.url).href.replace(/\.js$/, import.meta.url.endsWith('.ts') ? '.ts' : '.js'),
        exportName: 't2dLogPosteriorFactory',
        init: data,
      },
      onProgress: (step) => progress('mcmc', step, steps),
    });
    draws = result.draws;
    diagnostics = result.diagnostics;
  }
  const particles = opts.particles ?? T2D_FIT_DEFAULTS.particles;
  const calibration = calibrateProcessNoise({
    cgm: dataset.cgm,
    from: window.from,
    to: window.to,
    seed: opts.seed,
    makeFilter: (processNoise, rng) => new T2DParticleFilter({ ctx, draws, processNoise, carbCountSd }, dataset, window.from, particles, rng),
    advanceTo: (filter, k) => filter.advanceTo(k),
    forecast60: (filter, rng) => t2dForecastAt(filter, [60], rng)[0],
    onProgress: (done, total) => progress('calibrate', done, total),
  });
  const m = new Float64Array(data.n);
  predictT2DWindow(map.theta, data, m);
  return {
    format: T2D_TWIN_FORMAT,
    twin: 'glucose-t2d',
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
    parameters: { names: [...T2D_TWIN_PARAMETERS], priors: data.priors, carbCountSd },
    map: { theta: Array.from(map.theta), logPosterior: map.logPosterior, evaluations: map.evaluations, perStart: map.perStart },
    posterior: {
      draws: draws.map((d) => Array.from(d)),
      summary: summarizeDraws(draws, map.theta, T2D_NATURAL_PARAMETERS, t2dNaturalValues),
      ...(diagnostics ? { diagnostics } : {}),
    },
    filter: { particles, processNoise: calibration.chosen, calibration: calibration.table },
    fit: fitQuality(data.cgm, m, data.include),
  };
}
