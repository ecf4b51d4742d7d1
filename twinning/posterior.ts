import { TwinlabError } from '../engine/errors.js';
import { Rng } from '../engine/random.js';
import { laplaceFactor } from './glucose/fit.js';
import { inProcessDensity, type LogDensityBatch, sampleEnsemble, workerDensity } from './mcmc/index.js';
import { quantileSorted } from '../engine/distributions.js';

/**
 * The posterior step of a CGM twin's fit, shared by twins that declare their log posterior as a worker
 * factory (the type 2 twin; the type 1 twin's fit.ts runs the same procedure in place): walkers drawn
 * from the Laplace approximation N(MAP, (−∇²log p)⁻¹) (glucose/fit.ts laplaceFactor; a draw with a
 * non-finite density is redrawn, deterministically), the affine-invariant ensemble sampler with
 * differential-evolution half-steps (twinning/mcmc), walkers evaluated in Piscina workers (1 and 2
 * workers give identical chains), and `draws` evenly spaced draws of the kept chain.
 */
export interface PosteriorSamplingOptions {
  logPost: (theta: Float64Array) => number;
  mapTheta: Float64Array;
  priorSd: number[];
  names: string[];
  walkers: number;
  steps: number;
  burn: number;
  workers: number;
  draws: number;
  seed: number;
  deProbability: number;
  /** Share of half-steps from ⌊burn/2⌋ on that use the independence move, and its mixture's components (mcmc/README.md). */
  independenceProbability?: number;
  independenceComponents?: number;
  /** The module (URL) and export of the log-posterior factory, and its structured-clonable init. */
  worker: { module: string; exportName: string; init: unknown };
  onProgress?: (step: number) => void;
}

export interface PosteriorDiagnostics {
  walkers: number;
  steps: number;
  burn: number;
  acceptance: number;
  rhat: number[];
  ess: number[];
  ok: boolean;
  warnings: string[];
}

export async function samplePosteriorAround(o: PosteriorSamplingOptions): Promise<{ draws: Float64Array[]; diagnostics: PosteriorDiagnostics }> {
  const dim = o.mapTheta.length;
  const root = Rng.fromSeed(o.seed);
  const factor = laplaceFactor(o.logPost, o.mapTheta, o.priorSd);
  const ballRng = root.fork('mcmc/init');
  const init = new Float64Array(o.walkers * dim);
  const z = new Float64Array(dim);
  for (let w = 0; w < o.walkers; w++) {
    const p = new Float64Array(dim);
    for (let tries = 0; ; tries++) {
      for (let i = 0; i < dim; i++) z[i] = ballRng.normal();
      for (let i = 0; i < dim; i++) {
        let v = o.mapTheta[i] as number;
        for (let j = 0; j <= i; j++) v += (factor[i * dim + j] as number) * (z[j] as number);
        p[i] = v;
      }
      if (Number.isFinite(o.logPost(p))) break;
      if (tries > 100) throw new TwinlabError('INTEGRATION_FAILED', 'could not place MCMC walkers around the MAP: the posterior is not finite there');
    }
    init.set(p, w * dim);
  }
  const density: LogDensityBatch =
    o.workers > 1
      ? workerDensity({ dim, module: o.worker.module, exportName: o.worker.exportName, init: o.worker.init, workers: o.workers })
      : inProcessDensity(dim, o.logPost);
  try {
    const result = await sampleEnsemble({
      walkers: o.walkers,
      steps: o.steps,
      burn: o.burn,
      init,
      rng: root.fork('mcmc'),
      density,
      deProbability: o.deProbability,
      independenceProbability: o.independenceProbability,
      independenceComponents: o.independenceComponents,
      names: o.names,
      onProgress: o.onProgress,
    });
    const total = result.kept * result.walkers;
    const want = Math.min(o.draws, total);
    const draws: Float64Array[] = [];
    for (let j = 0; j < want; j++) {
      const idx = Math.floor(((j + 0.5) * total) / want);
      draws.push(result.chain.slice(idx * dim, (idx + 1) * dim));
    }
    const dg = result.diagnostics;
    return {
      draws,
      diagnostics: {
        walkers: o.walkers,
        steps: o.steps,
        burn: o.burn,
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

export interface SummaryRow {
  name: string;
  unit: string;
  label: string;
  mean: number;
  sd: number;
  q05: number;
  q50: number;
  q95: number;
  map: number;
}

/** Mean, sd and 5/50/95 % quantiles of each natural-scale parameter over the draws, with its MAP value. */
export function summarizeDraws<N extends string>(
  draws: ArrayLike<number>[],
  mapTheta: ArrayLike<number>,
  parameters: readonly { name: N; unit: string; label: string }[],
  natural: (theta: ArrayLike<number>) => Record<N, number>,
): SummaryRow[] {
  const nat = draws.map((t) => natural(t));
  const mapNat = natural(mapTheta);
  return parameters.map((p) => {
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
}
