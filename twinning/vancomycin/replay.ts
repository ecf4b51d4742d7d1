import type { VancomycinDataset } from '../../datasets/vancomycin.js';
import { mixtureQuantile } from '../../engine/distributions.js';
import { samplePosterior } from './fit.js';
import { conditioningFingerprint, prepareFitData } from './likelihood.js';
import { concentrations, kinetics, rateEvents } from './model.js';
import { pkAt, residualVariance, type VancoCovariates } from './parameters.js';
import type { VancoTwinFile } from './twin-file.js';

const HOUR = 3_600_000;

export interface VancoPredictionRow {
  timeMs: number;
  mean: number;
  lo: number;
  hi: number;
  /** The level in the file (not used for the prediction). */
  observed: number;
}

/** Predictive mean and 95 % band (posterior × residual error) of a level at each time (epoch ms); observations are floored at 0 (an assay reports no negative level), so a negative quantile is 0; the
 * bisection stops at `tolMgL` (default: ~1e-9 relative; a chart needs 0.01 mg/L, 5× fewer CDF sweeps). */
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
      lo: mixtureQuantile(means, sds, 0.025, { floor: 0, tolerance: tolMgL }),
      hi: mixtureQuantile(means, sds, 0.975, { floor: 0, tolerance: tolMgL }),
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
