import { DqnConfigSchema, type DqnConfig } from '../agents/dqn-config.js';
import { describeValue, TwinlabError } from '../engine/errors.js';
import { deriveSeed } from '../engine/random.js';
import type { CohortMember, TwinDefinition } from '../engine/twin.js';
import { baseAgentConfig, type ExperimentSpec, type SweepSpec, setPath, stepsForDays, type TrainSpec, type TrialSpec, trialTarget } from './spec.js';

/**
 * Expansion of a validated spec into jobs. Job `index` orders the jobs; the id is
 * `<experimentId>/job-<index>` and the seed `deriveSeed(experimentSeed, 'job', index)` — never a
 * worker id or a completion order, so results do not depend on how the jobs are scheduled.
 *
 * Trials: one job per (patient, replicate, arm), index = (patient·R + replicate)·A + arm. Paired
 * trials (the default) use common random numbers: every arm of patient i, replicate r gets the same
 * env options and the same episode seed `deriveSeed(trialSeed, 'patient', i, 'replicate', r)` (and
 * the policy draws from a stream of that seed), so patients, meals and sensor noise are identical
 * across arms. Unpaired trials add `'arm', a` to the path. Episode k > 0 of a job (duration.episodes
 * > 1) uses `deriveSeed(episodeSeed, 'episode', k)`.
 */
export type JobKind = 'train' | 'trial';

export interface TrainJobConfig {
  kind: 'train';
  envId: string;
  envOptions: Record<string, unknown>;
  agent: 'dqn';
  agentConfig: DqnConfig;
  /** Sweep grid point (dotted path → value); empty for plain training. */
  gridPoint: Record<string, unknown>;
  /** Replicate number within this configuration. */
  replicate: number;
  /** Episodes of the saved greedy policy recorded after training. */
  evalEpisodes: number;
}

export interface TrialJobConfig {
  kind: 'trial';
  twinId: string | null;
  envId: string;
  envOptions: Record<string, unknown>;
  /** Candidate index of the patient in the twin's population (its identity for seeds). */
  patientIndex: number;
  /** Position among the enrolled patients. */
  enrolled: number;
  patientId: string;
  covariates: Record<string, number | string>;
  arm: { name: string; policy: string; options: Record<string, unknown> };
  armIndex: number;
  replicate: number;
  /** One reset seed per episode. */
  episodeSeeds: number[];
  /** Seed of the policy's random stream (the episode seed of episode 0). */
  policySeed: number;
  endpoints: string[];
  keyframeInterval: number;
}

export type JobConfig = TrainJobConfig | TrialJobConfig;

export interface JobSpec {
  id: string;
  index: number;
  kind: JobKind;
  config: JobConfig;
  seed: number;
}

export function jobId(experimentId: string, index: number): string {
  return `${experimentId}/job-${index}`;
}

export function expandJobs(experimentId: string, spec: ExperimentSpec): JobSpec[] {
  if (spec.kind === 'trial') return expandTrial(experimentId, spec);
  return expandTraining(experimentId, spec);
}

/** Cartesian product of a sweep grid, keys in spec order, last key varying fastest. */
export function gridPoints(grid: Record<string, unknown[]>): Array<Record<string, unknown>> {
  let points: Array<Record<string, unknown>> = [{}];
  for (const [key, values] of Object.entries(grid)) {
    points = points.flatMap((p) => values.map((v) => ({ ...p, [key]: v })));
  }
  return points;
}

function expandTraining(experimentId: string, spec: TrainSpec | SweepSpec): JobSpec[] {
  const points = spec.kind === 'sweep' ? gridPoints(spec.grid) : [{}];
  const jobs: JobSpec[] = [];
  for (const point of points) {
    const raw = baseAgentConfig(spec);
    for (const [path, value] of Object.entries(point)) setPath(raw, path, value);
    const agentConfig = DqnConfigSchema.parse(raw);
    for (let s = 0; s < spec.seeds; s++) {
      const index = jobs.length;
      jobs.push({
        id: jobId(experimentId, index),
        index,
        kind: 'train',
        seed: deriveSeed(spec.seed, 'job', index),
        config: {
          kind: 'train',
          envId: spec.env,
          envOptions: spec.envOptions,
          agent: 'dqn',
          agentConfig,
          gridPoint: point,
          replicate: s,
          evalEpisodes: spec.evalEpisodes,
        },
      });
    }
  }
  return jobs;
}

/** Maximum candidates scanned per enrolled patient when inclusion rules filter the population. */
const MAX_SCREENED_PER_PATIENT = 50;

/** The enrolled patients of a trial, in order (candidate index = the patient's identity). */
export function enrollCohort(spec: TrialSpec, twin: TwinDefinition | undefined): CohortMember[] {
  const { cohort } = spec;
  if (!twin) return Array.from({ length: cohort.size }, (_, i) => ({ index: i, patientId: `patient-${i}`, envOptions: {} }));
  const request = { population: cohort.population as string, size: cohort.size, seed: cohort.seed ?? spec.seed, generated: cohort.generated };
  const rules = Object.entries(cohort.inclusion ?? {});
  const members: CohortMember[] = [];
  const limit = rules.length === 0 ? cohort.size : cohort.size * MAX_SCREENED_PER_PATIENT;
  for (let c = 0; c < limit && members.length < cohort.size; c++) {
    const member = twin.cohortMember(request, c);
    if (rules.every(([key, rule]) => passes(member.covariates?.[key], rule))) members.push({ ...member, index: c });
  }
  if (members.length < cohort.size) {
    throw new TwinlabError(
      'INVALID_SPEC',
      `invalid experiment spec:\n  - cohort.inclusion: only ${members.length} of the first ${limit} candidates meet the rules (expected ${cohort.size}); relax the rules or reduce cohort.size`,
    );
  }
  return members;
}

function passes(value: number | string | undefined, rule: { min?: number; max?: number; in?: Array<number | string> }): boolean {
  if (value === undefined) return false;
  if (rule.in && !rule.in.includes(value)) return false;
  if (rule.min !== undefined && !(typeof value === 'number' && value >= rule.min)) return false;
  if (rule.max !== undefined && !(typeof value === 'number' && value <= rule.max)) return false;
  return true;
}

function expandTrial(experimentId: string, spec: TrialSpec): JobSpec[] {
  const { envId, twin } = trialTarget(spec.cohort);
  const members = enrollCohort(spec, twin);
  const steps = spec.duration.steps ?? (spec.duration.days !== undefined ? stepsForDays(envId, spec.duration.days) : undefined);
  const jobs: JobSpec[] = [];
  members.forEach((member, enrolled) => {
    for (let r = 0; r < spec.replicates; r++) {
      spec.arms.forEach((arm, a) => {
        const base = spec.paired
          ? deriveSeed(spec.seed, 'patient', member.index, 'replicate', r)
          : deriveSeed(spec.seed, 'patient', member.index, 'replicate', r, 'arm', a);
        const episodeSeeds = Array.from({ length: spec.duration.episodes }, (_, k) => (k === 0 ? base : deriveSeed(base, 'episode', k)));
        const envOptions: Record<string, unknown> = { ...spec.scenario, ...member.envOptions };
        if (steps !== undefined) envOptions.maxEpisodeSteps = steps;
        const index = jobs.length;
        jobs.push({
          id: jobId(experimentId, index),
          index,
          kind: 'trial',
          seed: deriveSeed(spec.seed, 'job', index),
          config: {
            kind: 'trial',
            twinId: twin?.id ?? null,
            envId,
            envOptions,
            patientIndex: member.index,
            enrolled,
            patientId: member.patientId,
            covariates: member.covariates ?? {},
            arm: { name: arm.name, policy: arm.policy, options: arm.options },
            armIndex: a,
            replicate: r,
            episodeSeeds,
            policySeed: base,
            endpoints: [...spec.endpoints.primary, ...spec.endpoints.secondary],
            keyframeInterval: spec.keyframeInterval,
          },
        });
      });
    }
  });
  if (jobs.length === 0) throw new TwinlabError('INVALID_SPEC', `trial expands to no jobs (cohort ${describeValue(spec.cohort)})`);
  return jobs;
}
