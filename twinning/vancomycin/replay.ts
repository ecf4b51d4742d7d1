import type { VancomycinDataset } from '../../datasets/vancomycin.js';
import { normalCdf } from '../../engine/distributions.js';
import { samplePosterior } from './fit.js';
import { conditioningFingerprint, prepareFitData } from './likelihood.js';
import { concentrations, kinetics, rateEvents } from './model.js';
import { pkAt, residualVariance, type VancoCovariates } from './parameters.js';
import type { VancoTwinFile } from './twin-file.js';

const HOUR = 3_600_000;

/**
 * Quantile p of the mixture (1/n)·Σ N(m_i, s_i²) by bisection on its CDF; observations are floored
 * at 0 (an assay reports no negative level), so a negative quantile is 0. `tolMgL`: stop once the
 * bracket is that narrow (default: to ~1e-9 relative; a chart needs 0.01 mg/L, 5× fewer CDF sweeps).
 */
export function mixtureQuantile(means: ArrayLike<number>, sds: ArrayLike<number>, p: number, tolMgL = 0): number {
  const n = means.length;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    lo = Math.min(lo, (means[i] as number) - 8 * (sds[i] as number));
    hi = Math.max(hi, (means[i] as number) + 8 * (sds[i] as number));
  }
  const cdf = (y: number) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += normalCdf((y - (means[i] as number)) / (sds[i] as number));
    return s / n;
  };
  for (let it = 0; it < 80 && hi - lo > Math.max(tolMgL, 1e-9 * Math.max(1, Math.abs(hi))); it++) {
    const mid = (lo + hi) / 2;
    if (cdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return Math.max(0, (lo + hi) / 2);
}

export interface VancoPredictionRow {
  timeMs: number;
  mean: number;
  lo: number;
  hi: number;
  /** The level in the file (not used for the prediction). */
  observed: number;
}

/** Predictive mean and 95 % band (posterior × residual error) of a level at each time (epoch ms); `tolMgL` as mixtureQuantile's. */
export function predictLevels(
  cov: VancoCovariates,
  draws: ArrayLike<number>[],
  dataset: Pick<VancomycinDataset, 'doses'>,
  timesMs: number[],
  tolMgL = 0,
): { mean: number; lo: number; hi: number }[] {
  const originMs = (dataset.doses[0] as { timeMs: number }).timeMs;
  const doses = dataset.doses.map((d) => ({ timeH: (d.timeMs - originMs) / HOUR, amountMg: d.amountMg, durationH: d.durationH }));
  const events = rateEvents(doses);
  const times = timesMs.map((t) => (t - originMs) / HOUR);
  const perDraw = draws.map((d) => concentrations(kinetics(pkAt(cov, d)), doses, times, events));
  return times.map((_, j) => {
    const means = perDraw.map((c) => c[j] as number);
    const sds = means.map((m) => Math.sqrt(residualVariance(m)));
    return {
      mean: means.reduce((a, v) => a + v, 0) / means.length,
      lo: mixtureQuantile(means, sds, 0.025, tolMgL),
      hi: mixtureQuantile(means, sds, 0.975, tolMgL),
    };
  });
}

/**
 * Replay of the file's doses on the twin, predicting every level after `fromMs` from the levels at or
 * before it only. The posterior is the twin's stored one when it was conditioned on exactly those
 * levels (same covariates, levels and doses before them — `data.conditioning`); otherwise it is
 * recomputed now from the stored priors and covariates with the twin's method, sampler settings and
 * seed, conditioned on the levels at or before `fromMs` (so a twin fitted on all levels can still
 * be replayed honestly from an earlier time). Levels after `fromMs` only give the output times.
 */
export async function replayVancomycin(
  twin: VancoTwinFile,
  dataset: VancomycinDataset,
  fromMs: number,
): Promise<{ rows: VancoPredictionRow[]; levelsUsed: number; refitted: boolean }> {
  const cov = twin.covariates;
  const data = prepareFitData(dataset, cov, fromMs);
  let draws: ArrayLike<number>[] = twin.posterior.draws;
  let refitted = false;
  if (conditioningFingerprint(data) !== twin.data.conditioning) {
    const post = await samplePosterior(data, {
      method: twin.method,
      seed: twin.seed,
      walkers: twin.sampler.walkers || undefined,
      steps: twin.sampler.steps || undefined,
      burn: twin.sampler.burn || undefined,
      draws: twin.sampler.draws,
    });
    draws = post.draws;
    refitted = true;
  }
  const after = dataset.levels.filter((l) => l.timeMs > fromMs);
  const preds = predictLevels(
    cov,
    draws,
    dataset,
    after.map((l) => l.timeMs),
  );
  return {
    rows: after.map((l, i) => ({ timeMs: l.timeMs, observed: l.concMgL, ...(preds[i] as { mean: number; lo: number; hi: number }) })),
    levelsUsed: data.levelTimes.length,
    refitted,
  };
}
