import { type VancomycinDataset, vancomycinFingerprint } from '../../datasets/vancomycin.js';
import { describeValue, TwinlabError } from '../../engine/errors.js';
import { Rng } from '../../engine/random.js';
import { GOTI } from '../../environments/pkpd/vancomycin-model.js';
import { inProcessDensity, sampleEnsemble } from '../mcmc/index.js';
import { conditioningFingerprint, fitMap, makeLogPosterior, prepareFitData, type VancoFitData } from './likelihood.js';
import { concentrations, kinetics, steadyState } from './model.js';
import { pkAt, typicalPk, VANCO_PRIORS, VANCO_TWIN_DIM, VANCO_TWIN_PARAMETERS, type VancoCovariates } from './parameters.js';
import { VANCO_TWIN_FORMAT, type VancoTwinFile } from './twin-file.js';
import { quantileSorted } from '../../engine/distributions.js';

export interface VancoFitOptions {
  /** Use levels at or before this time (epoch ms) only. */
  untilMs?: number;
  method: 'map' | 'mcmc';
  seed: number;
  codeVersion: string;
  walkers?: number;
  steps?: number;
  burn?: number;
  /** Posterior draws kept in twin.json. */
  draws?: number;
  /** Dosing interval (h) of the regimen when the data has one dose only. */
  intervalH?: number;
}

/**
 * 3 parameters: τ ≈ 30–40 steps on 1–4 levels; 16 walkers × 6,000 steps (1,000 burn-in) keep
 * 5,000 steps per walker — emcee's kept ≥ 50·τ rule holds and the walkers-as-chains split R-hat
 * settles near 1.01 (more walkers with fewer steps each leave R-hat ≈ 1.02 for the same cost).
 */
export const VANCO_FIT_DEFAULTS = { walkers: 16, steps: 6000, burn: 1000, draws: 400 } as const;
/** Stretch scale: with a = 2 the 3-D posterior accepts ≈ 0.64 (above the band); a = 2.5 gives ≈ 0.55 and a shorter τ. */
const STRETCH_A = 2.5;

const HOUR = 3_600_000;

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** Mean and central 95 % interval of values. */
export function interval95(values: ArrayLike<number>): { mean: number; lo: number; hi: number } {
  const s = Float64Array.from(values).sort();
  let sum = 0;
  for (let i = 0; i < s.length; i++) sum += s[i] as number;
  return { mean: sum / s.length, lo: quantileSorted(s, 0.025), hi: quantileSorted(s, 0.975) };
}

/**
 * The regimen in the data, repeated to steady state: the last dose's amount and duration, and the
 * interval between the last two doses (or `intervalH` / 12 h with one dose).
 */
export function regimenOf(
  dataset: Pick<VancomycinDataset, 'doses'>,
  intervalH?: number,
): { amountMg: number; intervalH: number; durationH: number; source: string } {
  const n = dataset.doses.length;
  const last = dataset.doses[n - 1] as { timeMs: number; amountMg: number; durationH: number };
  let tau = intervalH;
  let source = 'the last dose, at the interval between the last two doses';
  if (tau === undefined) {
    if (n >= 2) tau = (last.timeMs - (dataset.doses[n - 2] as { timeMs: number }).timeMs) / HOUR;
    else {
      tau = 12;
      source = 'the only dose, every 12 h (assumed: give --interval)';
    }
  } else source = `the last dose every ${tau} h (--interval)`;
  if (!(tau > 0 && tau <= 168))
    throw new TwinlabError('INVALID_ARGUMENT', `the dosing interval must be in (0, 168] h, got ${describeValue(tau)}`, { field: 'interval' });
  const durationH = Math.min(last.durationH, tau);
  return { amountMg: last.amountMg, intervalH: tau, durationH, source };
}

export interface VancoPosterior {
  draws: Float64Array[];
  map: { theta: Float64Array; logPosterior: number; evaluations: number };
  diagnostics?: NonNullable<VancoTwinFile['posterior']['diagnostics']>;
}

/** MAP and (for `mcmc`) the posterior by the ensemble sampler, in process (the model is cheap). */
export async function samplePosterior(
  data: VancoFitData,
  opts: Pick<VancoFitOptions, 'method' | 'seed' | 'walkers' | 'steps' | 'burn' | 'draws'>,
): Promise<VancoPosterior> {
  const map = fitMap(data);
  if (opts.method === 'map') return { draws: [map.theta], map };
  const walkers = opts.walkers ?? VANCO_FIT_DEFAULTS.walkers;
  const steps = opts.steps ?? VANCO_FIT_DEFAULTS.steps;
  const burn = opts.burn ?? VANCO_FIT_DEFAULTS.burn;
  if (burn >= steps) throw new TwinlabError('INVALID_ARGUMENT', `--burn (${burn}) must be below --steps (${steps})`, { field: 'burn' });
  const root = Rng.fromSeed(opts.seed);
  const logPost = makeLogPosterior(data);
  // walkers start in a ball around the MAP at the posterior's scale (diagonal curvature, capped at the prior sd)
  const scale = new Float64Array(VANCO_TWIN_DIM);
  const t = Float64Array.from(map.theta);
  const h = 0.01;
  for (let i = 0; i < VANCO_TWIN_DIM; i++) {
    t[i] = (map.theta[i] as number) + h;
    const fp = logPost(t);
    t[i] = (map.theta[i] as number) - h;
    const fm = logPost(t);
    t[i] = map.theta[i] as number;
    const curv = (fp - 2 * map.logPosterior + fm) / (h * h);
    const sd = (VANCO_PRIORS[i] as { sd: number }).sd;
    scale[i] = curv < 0 && Number.isFinite(curv) ? Math.min(1 / Math.sqrt(-curv), sd) : sd;
  }
  const ball = root.fork('mcmc/init');
  const init = new Float64Array(walkers * VANCO_TWIN_DIM);
  for (let w = 0; w < walkers; w++) {
    for (let tries = 0; ; tries++) {
      for (let i = 0; i < VANCO_TWIN_DIM; i++) t[i] = (map.theta[i] as number) + 0.5 * (scale[i] as number) * ball.normal();
      if (Number.isFinite(logPost(t))) break;
      if (tries > 100) throw new TwinlabError('INTEGRATION_FAILED', 'could not place MCMC walkers around the MAP');
    }
    init.set(t, w * VANCO_TWIN_DIM);
  }
  const density = inProcessDensity(VANCO_TWIN_DIM, logPost);
  const result = await sampleEnsemble({ walkers, steps, burn, a: STRETCH_A, init, rng: root.fork('mcmc'), density, names: [...VANCO_TWIN_PARAMETERS] });
  await density.close();
  const total = result.kept * result.walkers;
  const want = Math.min(opts.draws ?? VANCO_FIT_DEFAULTS.draws, total);
  const draws: Float64Array[] = [];
  for (let j = 0; j < want; j++) {
    const idx = Math.floor(((j + 0.5) * total) / want);
    draws.push(result.chain.slice(idx * VANCO_TWIN_DIM, (idx + 1) * VANCO_TWIN_DIM));
  }
  const dg = result.diagnostics;
  return {
    draws,
    map,
    diagnostics: { acceptance: result.acceptance, rhat: Array.from(dg.rhat), ess: Array.from(dg.ess), ok: dg.ok, warnings: dg.warnings },
  };
}

/**
 * Fit a personal vancomycin twin.
 * 1. Covariates (given) and the levels at or before `untilMs`.
 * 2. MAP (Nelder–Mead, likelihood.ts), then the posterior by the ensemble sampler (twinning/mcmc).
 * 3. Steady-state AUC24 and trough of the data's regimen per posterior draw → mean and 95 % interval.
 */
export async function fitVancomycinTwin(dataset: VancomycinDataset, cov: VancoCovariates, opts: VancoFitOptions): Promise<VancoTwinFile> {
  const data = prepareFitData(dataset, cov, opts.untilMs);
  const notes: string[] = [];
  if (data.levelTimes.length === 0) notes.push('no level before --until: the posterior is the population prior for these covariates');
  const post = await samplePosterior(data, opts);
  const regimen = regimenOf(dataset, opts.intervalH);
  if (regimen.source.includes('assumed')) notes.push(`regimen: ${regimen.source}`);
  const aucs: number[] = [];
  const troughs: number[] = [];
  const pks = post.draws.map((d) => pkAt(cov, d));
  for (const pk of pks) {
    const ss = steadyState(kinetics(pk), regimen.amountMg, regimen.intervalH, regimen.durationH);
    aucs.push(ss.auc24);
    troughs.push(ss.trough);
  }
  const mapPk = pkAt(cov, post.map.theta);
  const natural = [
    { name: 'CL', unit: 'L/h', values: pks.map((p) => p.cl), map: mapPk.cl },
    { name: 'V1', unit: 'L', values: pks.map((p) => p.v1), map: mapPk.v1 },
    { name: 'V2', unit: 'L', values: pks.map((p) => p.v2), map: mapPk.v2 },
    { name: 'Vss', unit: 'L', values: pks.map((p) => p.v1 + p.v2), map: mapPk.v1 + mapPk.v2 },
    ...VANCO_TWIN_PARAMETERS.map((name, i) => ({ name, unit: '1', values: post.draws.map((d) => d[i] as number), map: post.map.theta[i] as number })),
  ];
  const summary = natural.map((p) => {
    const s = Float64Array.from(p.values).sort();
    const mean = s.reduce((a, v) => a + v, 0) / s.length;
    const sd = Math.sqrt(s.reduce((a, v) => a + (v - mean) ** 2, 0) / Math.max(1, s.length - 1));
    return { name: p.name, unit: p.unit, map: p.map, mean, sd, q025: quantileSorted(s, 0.025), q50: quantileSorted(s, 0.5), q975: quantileSorted(s, 0.975) };
  });
  const predicted = data.levelTimes.length > 0 ? concentrations(kinetics(mapPk), data.doses, data.levelTimes) : new Float64Array(0);
  const typical = typicalPk(cov);
  return {
    format: VANCO_TWIN_FORMAT,
    twin: 'vancomycin',
    codeVersion: opts.codeVersion,
    seed: opts.seed,
    method: opts.method,
    patient: { id: dataset.patientId },
    covariates: { ...cov },
    model: {
      name: 'Goti et al. 2018, Ther Drug Monit 40(2):212–221 (two-compartment, CrCL/weight/dialysis covariates)',
      typical: { cl: typical.cl, v1: typical.v1, v2: typical.v2, q: typical.q },
      residual: { proportional: GOTI.residual.proportional, additiveMgL: GOTI.residual.additive },
    },
    parameters: { names: [...VANCO_TWIN_PARAMETERS], priors: VANCO_PRIORS.map((p) => ({ ...p })) },
    data: {
      fingerprint: vancomycinFingerprint(dataset),
      conditioning: conditioningFingerprint(data),
      origin: iso(data.originMs),
      until: opts.untilMs === undefined ? null : iso(opts.untilMs),
      doses: dataset.doses.length,
      levels: dataset.levels.length,
      levelsUsed: data.levelTimes.length,
      notes,
    },
    sampler: {
      walkers: opts.method === 'mcmc' ? (opts.walkers ?? VANCO_FIT_DEFAULTS.walkers) : 0,
      steps: opts.method === 'mcmc' ? (opts.steps ?? VANCO_FIT_DEFAULTS.steps) : 0,
      burn: opts.method === 'mcmc' ? (opts.burn ?? VANCO_FIT_DEFAULTS.burn) : 0,
      draws: post.draws.length,
    },
    map: { theta: Array.from(post.map.theta), logPosterior: post.map.logPosterior, evaluations: post.map.evaluations },
    posterior: { draws: post.draws.map((d) => Array.from(d)), summary, ...(post.diagnostics ? { diagnostics: post.diagnostics } : {}) },
    regimen,
    auc24: interval95(aucs),
    trough: interval95(troughs),
    fit: {
      levels: data.levelTimes.map((t, i) => ({
        time: iso(data.originMs + t * HOUR),
        observed: data.levelConc[i] as number,
        predicted: predicted[i] as number,
      })),
    },
  };
}
