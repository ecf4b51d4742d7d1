import { DqnConfigSchema, type DqnConfig } from '../agents/dqn-config.js';
import { describeValue, TwinlabError } from '../engine/errors.js';
import { deriveSeed } from '../engine/random.js';
import type { CohortMember, TwinDefinition } from '../engine/twin.js';
import { isPersonalCohort, resolvePersonalCohort } from './personal-cohort.js';
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
  /** `shield`: the arm enforces the twin's shield (true = its default one, or a shield id). */
  arm: { name: string; policy: string; options: Record<string, unknown>; shield?: true | string };
  armIndex: number;
  replicate: number;
  /** One reset seed per episode. */
  episodeSeeds: number[];
  /** Seed of the policy's random stream (the episode seed of episode 0). */
  policySeed: number;
  endpoints: string[];
  keyframeInterval: number;
  /** Spec `frames: true`: each step is emitted as a trajectory.frame event while the job runs. */
  frames?: true;
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

/** All jobs of a spec, in index order (see `generateJobs`). */
export function expandJobs(experimentId: string, spec: ExperimentSpec): JobSpec[] {
  return Array.from(generateJobs(experimentId, spec));
}

/**
 * The jobs of a spec one at a time, in index order, without materialising the cohort or the grid
 * first. Errors that only expansion can find (inclusion rules enrolling too few patients) are thrown
 * once the generator gets there.
 */
export function generateJobs(experimentId: string, spec: ExperimentSpec): Generator<JobSpec> {
  return spec.kind === 'trial' ? generateTrial(experimentId, spec) : generateTraining(experimentId, spec);
}

/**
 * `expandJobs` that hands the event loop back every `sliceMs` of expansion, so a large (legal)
 * experiment does not stall a server's other requests while its jobs are built (a generated glucose
 * patient costs ≈ 2 ms to enrol, 100,000 cartpole jobs ≈ 3 s).
 */
export async function expandJobsAsync(experimentId: string, spec: ExperimentSpec, { sliceMs = 10 }: { sliceMs?: number } = {}): Promise<JobSpec[]> {
  const jobs: JobSpec[] = [];
  let sliceStart = performance.now();
  for (const job of generateJobs(experimentId, spec)) {
    jobs.push(job);
    if ((jobs.length & 63) === 0 && performance.now() - sliceStart >= sliceMs) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
  return jobs;
}

/** Cartesian product of a sweep grid, keys in spec order, last key varying fastest. */
export function gridPoints(grid: Record<string, unknown[]>): Array<Record<string, unknown>> {
  return Array.from(iterateGrid(Object.entries(grid), {}));
}

function* iterateGrid(entries: Array<[string, unknown[]]>, prefix: Record<string, unknown>): Generator<Record<string, unknown>> {
  const [first, ...rest] = entries;
  if (first === undefined) {
    yield prefix;
    return;
  }
  for (const value of first[1]) yield* iterateGrid(rest, { ...prefix, [first[0]]: value });
}

function* generateTraining(experimentId: string, spec: TrainSpec | SweepSpec): Generator<JobSpec> {
  const points = spec.kind === 'sweep' ? iterateGrid(Object.entries(spec.grid), {}) : [{}];
  // A personal cohort trains on its draws, one drawn per reset (the env's `patients` pool).
  const envOptions = spec.cohort
    ? { ...spec.envOptions, patients: resolvePersonalCohort(spec.cohort).members.map((m) => m.envOptions.patient) }
    : spec.envOptions;
  let index = 0;
  for (const point of points) {
    const raw = baseAgentConfig(spec);
    for (const [path, value] of Object.entries(point)) setPath(raw, path, value);
    const agentConfig = DqnConfigSchema.parse(raw);
    for (let s = 0; s < spec.seeds; s++, index++) {
      yield {
        id: jobId(experimentId, index),
        index,
        kind: 'train',
        seed: deriveSeed(spec.seed, 'job', index),
        config: {
          kind: 'train',
          envId: spec.env,
          envOptions,
          agent: 'dqn',
          agentConfig,
          gridPoint: point,
          replicate: s,
          evalEpisodes: spec.evalEpisodes,
        },
      };
    }
  }
}

/** Maximum candidates scanned per enrolled patient when inclusion rules filter the population. */
const MAX_SCREENED_PER_PATIENT = 50;

/** The enrolled patients of a trial, in order (candidate index = the patient's identity). */
export function enrollCohort(spec: TrialSpec, twin: TwinDefinition | undefined): CohortMember[] {
  return Array.from(enrolledMembers(spec, twin));
}

/** `enrollCohort` one patient at a time (throws after the last candidate when too few pass the rules). */
export function* enrolledMembers(spec: TrialSpec, twin: TwinDefinition | undefined): Generator<CohortMember> {
  const { cohort } = spec;
  if (isPersonalCohort(cohort)) {
    yield* resolvePersonalCohort(cohort).members;
    return;
  }
  if (!twin) {
    for (let i = 0; i < cohort.size; i++) yield { index: i, patientId: `patient-${i}`, envOptions: {} };
    return;
  }
  const request = { population: cohort.population as string, size: cohort.size, seed: cohort.seed ?? spec.seed, generated: cohort.generated };
  const rules = Object.entries(cohort.inclusion ?? {});
  let enrolled = 0;
  const limit = rules.length === 0 ? cohort.size : cohort.size * MAX_SCREENED_PER_PATIENT;
  for (let c = 0; c < limit && enrolled < cohort.size; c++) {
    const member = twin.cohortMember(request, c);
    if (rules.every(([key, rule]) => passes(member.covariates?.[key], rule))) {
      enrolled++;
      yield { ...member, index: c };
    }
  }
  if (enrolled < cohort.size) {
    throw new TwinlabError(
      'INVALID_SPEC',
      `invalid experiment spec:\n  - cohort.inclusion: only ${enrolled} of the first ${limit} candidates meet the rules (expected ${cohort.size}); relax the rules or reduce cohort.size`,
    );
  }
}

function passes(value: number | string | undefined, rule: { min?: number; max?: number; in?: Array<number | string> }): boolean {
  if (value === undefined) return false;
  if (rule.in && !rule.in.includes(value)) return false;
  if (rule.min !== undefined && !(typeof value === 'number' && value >= rule.min)) return false;
  if (rule.max !== undefined && !(typeof value === 'number' && value <= rule.max)) return false;
  return true;
}

function* generateTrial(experimentId: string, spec: TrialSpec): Generator<JobSpec> {
  const { envId, twin } = trialTarget(spec.cohort);
  const steps = spec.duration.steps ?? (spec.duration.days !== undefined ? stepsForDays(envId, spec.duration.days, spec.scenario) : undefined);
  let index = 0;
  let enrolled = 0;
  for (const member of enrolledMembers(spec, twin)) {
    for (let r = 0; r < spec.replicates; r++) {
      for (const [a, arm] of spec.arms.entries()) {
        const base = spec.paired
          ? deriveSeed(spec.seed, 'patient', member.index, 'replicate', r)
          : deriveSeed(spec.seed, 'patient', member.index, 'replicate', r, 'arm', a);
        const episodeSeeds = Array.from({ length: spec.duration.episodes }, (_, k) => (k === 0 ? base : deriveSeed(base, 'episode', k)));
        const envOptions: Record<string, unknown> = { ...spec.scenario, ...member.envOptions };
        if (steps !== undefined) envOptions.maxEpisodeSteps = steps;
        yield {
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
            arm: { name: arm.name, policy: arm.policy, options: arm.options, ...(arm.shield !== undefined ? { shield: arm.shield } : {}) },
            armIndex: a,
            replicate: r,
            episodeSeeds,
            policySeed: base,
            endpoints: [...spec.endpoints.primary, ...spec.endpoints.secondary],
            keyframeInterval: spec.keyframeInterval,
            ...(spec.frames ? { frames: true as const } : {}),
          },
        };
        index++;
      }
    }
    enrolled++;
  }
  if (index === 0) throw new TwinlabError('INVALID_SPEC', `trial expands to no jobs (cohort ${describeValue(spec.cohort)})`);
}
