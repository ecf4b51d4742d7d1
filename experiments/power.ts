import { tmpdir } from 'node:os';
import { describeValue, TwinlabError } from '../engine/errors.js';
import { deriveSeed } from '../engine/random.js';
import { getTwin } from '../engine/twin.js';
import { endpointDefinition } from './endpoints.js';
import type { Executor } from './executor.js';
import type { JobTask } from './job-types.js';
import { generateJobs, type TrialJobConfig } from './jobs.js';
import { isPersonalCohort } from './personal-cohort.js';
import { analyzeTrialJobs } from './runner.js';
import { hypothesisOf, SPEC_LIMITS, type TrialSpec } from './spec.js';
import { wilsonInterval } from './stats.js';
import { type HypothesisType, oneSidedAlpha } from './trial-analysis.js';

/**
 * Power of a trial design by simulation: the trial's arms are run on fresh virtual cohorts — K
 * simulated trials per cohort size n, each with its own cohort and trial seeds — through the same job
 * expansion (jobs.ts), executor (worker pool) and analysis (`analyzeTrialJobs`) as a real trial, and the
 * power is the share of simulated trials whose primary hypothesis is met (superiority: the arm is
 * favoured; non-inferiority / equivalence: the declared bound shows it), with a Wilson 95 % interval
 * for the Monte Carlo error of that share. Only the first primary endpoint is simulated and analysed.
 *
 * `effect`:
 * - `'observed'`: the arms as they are — the power to show what these policies actually do on this twin;
 * - a number Δ (in the primary endpoint's units): Δ is added to every non-reference arm's primary
 *   endpoint value, so the true mean difference becomes (the arms' own difference) + Δ. For designing
 *   from an assumed effect, run the reference policy in both arms (`paired: false`, so their noise
 *   differs) and the true difference is Δ; with identical paired arms every difference would be exactly Δ.
 *   Not allowed for a binary primary endpoint (a shifted 0/1 value is no longer binary).
 *
 * Determinism: simulation k at size n uses trial seed deriveSeed(seed, 'power', n, k) and cohort seed
 * deriveSeed(that, 'cohort'); job results are collected by job id, so neither the number of workers nor
 * completion order changes the result.
 */
export interface PowerOptions {
  /** A validated trial spec. */
  spec: TrialSpec;
  sizes: readonly number[];
  sims: number;
  seed: number;
  effect: number | 'observed';
  executor: Executor;
  /** Bootstrap resamples of each simulated trial's analysis (default 2,000). */
  resamples?: number;
  onProgress?: (progress: { size: number; jobsDone: number; jobsTotal: number }) => void;
  signal?: AbortSignal;
}

export interface PowerRow {
  n: number;
  arm: string;
  sims: number;
  /** Simulated trials whose primary hypothesis was met. */
  met: number;
  power: number;
  ci: { lower: number; upper: number; level: number; method: 'wilson' };
  /** Mean width of the primary difference's bootstrap CI (the trial's level) over the simulations. */
  meanCiWidth: number | null;
  /** Mean of the primary mean difference (arm − reference) over the simulations, effect included. */
  meanDifference: number | null;
}

export interface PowerResult {
  name: string;
  endpoint: { id: string; unit: string; kind: 'continuous' | 'binary'; better: 'higher' | 'lower' | 'none' };
  hypothesis: { type: HypothesisType; margin: number | null; alpha: number | null };
  reference: string;
  effect: number | 'observed';
  seed: number;
  sims: number;
  level: number;
  resamples: number;
  rows: PowerRow[];
}

export async function simulatePower(options: PowerOptions): Promise<PowerResult> {
  const { spec, sizes, sims, seed, effect, executor } = options;
  const resamples = options.resamples ?? 2000;
  if (sizes.length === 0) throw new TwinlabError('INVALID_ARGUMENT', '--n: give at least one cohort size');
  for (const n of sizes) {
    if (!Number.isInteger(n) || n < 2) throw new TwinlabError('INVALID_ARGUMENT', `--n: cohort sizes must be integers ≥ 2, got ${describeValue(n)}`);
  }
  if (!Number.isInteger(sims) || sims < 1) throw new TwinlabError('INVALID_ARGUMENT', `--sims must be an integer ≥ 1, got ${describeValue(sims)}`);
  if (isPersonalCohort(spec.cohort)) {
    throw new TwinlabError('INVALID_ARGUMENT', 'SPEC: a personal cohort has fixed patients (posterior draws of one person); power needs a population cohort');
  }
  const twin = spec.cohort.twin ? getTwin(spec.cohort.twin) : undefined;
  const primaryId = spec.endpoints.primary[0] as string;
  const definition = endpointDefinition(twin, primaryId);
  if (typeof effect === 'number' && definition.kind === 'binary') {
    throw new TwinlabError('INVALID_ARGUMENT', `--effect: the primary endpoint ${primaryId} is binary; a shifted 0/1 value is not binary (use --effect observed)`);
  }
  const reference = spec.reference ?? (spec.arms[0]?.name as string);
  const declared = hypothesisOf(spec, primaryId);
  const level = 0.95;
  const perSizeJobs = (n: number): number => sims * n * spec.replicates * spec.arms.length;
  for (const n of sizes) {
    if (perSizeJobs(n) > SPEC_LIMITS.jobs) {
      throw new TwinlabError(
        'INVALID_ARGUMENT',
        `--sims: ${sims} simulations of n = ${n} are ${perSizeJobs(n).toLocaleString('en-US')} jobs; at most ${SPEC_LIMITS.jobs.toLocaleString('en-US')} per size (lower --sims or --n)`,
      );
    }
  }
  const arms = spec.arms.map((a) => a.name).filter((a) => a !== reference);
  const rows: PowerRow[] = [];
  for (const n of sizes) {
    const simSpecs: TrialSpec[] = [];
    const tasks: JobTask[] = [];
    const simOf = new Map<string, number>();
    for (let k = 0; k < sims; k++) {
      const simSeed = deriveSeed(seed, 'power', n, k);
      const simSpec: TrialSpec = {
        ...spec,
        seed: simSeed,
        cohort: { ...spec.cohort, size: n, seed: deriveSeed(simSeed, 'cohort') },
        endpoints: { primary: [primaryId], secondary: [], hypotheses: { [primaryId]: declared } },
        keyframeInterval: 0,
      };
      simSpecs.push(simSpec);
      const experimentId = `power-n${n}-sim${k}`;
      for (const job of generateJobs(experimentId, simSpec)) {
        tasks.push({ ...job, experimentId, dataDir: tmpdir() });
        simOf.set(job.id, k);
      }
    }
    const results: Array<Array<{ config: TrialJobConfig; result: { endpoints: Record<string, number> } }>> = simSpecs.map(() => []);
    let done = 0;
    let failure: string | undefined;
    const settle = (): void => {
      done++;
      options.onProgress?.({ size: n, jobsDone: done, jobsTotal: tasks.length });
    };
    const configOf = new Map(tasks.map((t) => [t.id, t.config as TrialJobConfig]));
    await executor.run(
      tasks,
      {
        onEvent: () => {},
        onFinished: (jobId, outcome) => {
          const config = configOf.get(jobId) as TrialJobConfig;
          const endpoints = { ...(outcome.result.endpoints as Record<string, number>) };
          if (typeof effect === 'number' && config.arm.name !== reference) endpoints[primaryId] = (endpoints[primaryId] as number) + effect;
          results[simOf.get(jobId) as number]?.push({ config, result: { endpoints } });
          settle();
        },
        onFailed: (jobId, error) => {
          failure ??= `job ${jobId} failed: ${error}`;
          settle();
        },
        onCancelled: () => settle(),
      },
      options.signal,
    );
    if (options.signal?.aborted) throw new TwinlabError('INVALID_STATE', `power simulation cancelled at n = ${n}`);
    if (failure) throw new TwinlabError('INTERNAL', `power simulation at n = ${n}: ${failure}`);
    const perArm = new Map(arms.map((arm) => [arm, { met: 0, widths: [] as number[], diffs: [] as number[] }]));
    simSpecs.forEach((simSpec, k) => {
      const analysis = analyzeTrialJobs(simSpec, results[k] ?? [], { resamples });
      const endpoint = analysis.endpoints.find((e) => e.id === primaryId);
      for (const c of endpoint?.comparisons ?? []) {
        const acc = perArm.get(c.arm);
        if (!acc) continue;
        if (c.hypothesis?.met) acc.met++;
        if (c.ci) acc.widths.push(c.ci.upper - c.ci.lower);
        if (c.meanDifference !== null) acc.diffs.push(c.meanDifference);
      }
    });
    for (const [arm, acc] of perArm) {
      const ci = wilsonInterval(acc.met, sims, level);
      const mean = (xs: number[]): number | null => (xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
      rows.push({
        n,
        arm,
        sims,
        met: acc.met,
        power: acc.met / sims,
        ci: { lower: ci.lower, upper: ci.upper, level, method: 'wilson' },
        meanCiWidth: mean(acc.widths),
        meanDifference: mean(acc.diffs),
      });
    }
  }
  return {
    name: spec.name,
    endpoint: { id: primaryId, unit: definition.unit, kind: definition.kind, better: definition.better },
    hypothesis: {
      type: declared.hypothesis,
      margin: declared.margin ?? null,
      alpha: declared.hypothesis === 'superiority' ? oneSidedAlpha(level) : (declared.alpha ?? oneSidedAlpha(level)),
    },
    reference,
    effect,
    seed,
    sims,
    level,
    resamples,
    rows,
  };
}
