import { DqnConfigSchema, type DqnConfig } from '../agents/dqn-config.js';
import { describeValue, TwinlabError } from '../engine/errors.js';
import { deriveSeed } from '../engine/random.js';
import type { CohortMember, CohortRequest, TwinDefinition } from '../engine/twin.js';
import { isPersonalCohort, personalTrainingEnvOptions, resolvePersonalMembers } from './personal-cohort.js';
import { baseAgentConfig, cohortSize, type ExperimentSpec, type PopulationCohort, type SweepSpec, setPath, stepsForDays, type TrainSpec, type TrialSpec, trialTarget } from './spec.js';

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
  /** false: the episode logs are not stored (spec `keepEpisodes.every`: only every k-th patient's are); endpoints still are. */
  keepEpisodes?: false;
  /** Spec `frames: true`: each step is emitted as a trajectory.frame event while the job runs. */
  frames?: true;
}

/**
 * A block of a streaming trial (spec `streaming`): patients at enrolment positions [from, to) of a
 * population cohort without inclusion rules (so position = candidate index), every replicate and arm.
 * It carries the cohort request and the trial's shape instead of the patients: the worker regenerates
 * each patient with `cohortMemberAt` and each job config with `trialJobConfig`, exactly as `generateTrial`
 * does on the coordinator (trial-blocks.ts runs it).
 */
export interface TrialBlockConfig {
  kind: 'trial-block';
  cohort: CohortRequest;
  shape: TrialShape;
  replicates: number;
  from: number;
  to: number;
  /**
   * The streaming analysis's Poisson bootstrap (trial seed, `streaming.resamples`, reference arm): the block
   * draws its patients' weights and returns their sums (trial-blocks.ts), so the coordinator does not. A
   * block config without it (stored before) leaves them to the coordinator, with the same result.
   */
  bootstrap?: { seed: number; resamples: number; reference: string };
}

export type JobConfig = TrainJobConfig | TrialJobConfig | TrialBlockConfig;

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
  if (spec.kind === 'trial') return spec.streaming ? generateTrialBlocks(experimentId, spec) : generateTrial(experimentId, spec);
  return generateTraining(experimentId, spec);
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
  const envOptions = spec.cohort ? { ...spec.envOptions, ...personalTrainingEnvOptions(spec.cohort) } : spec.envOptions;
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

/** The cohort request of a population cohort (its seed defaults to the trial's). */
export function cohortRequest(spec: TrialSpec): CohortRequest {
  const cohort = spec.cohort as PopulationCohort;
  return { population: cohort.population as string, size: cohort.size, seed: cohort.seed ?? spec.seed, generated: cohort.generated };
}

/**
 * Candidate `index` of a population cohort — the twin's `cohortMember`, or for an env without a twin a
 * bare `patient-<i>`. The one function the coordinator (enrolment) and a trial block's worker both call.
 */
export function cohortMemberAt(twin: TwinDefinition | undefined, request: CohortRequest, index: number): CohortMember {
  if (!twin) return { index, patientId: `patient-${index}`, envOptions: {} };
  return { ...twin.cohortMember(request, index), index };
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
    yield* resolvePersonalMembers(cohort);
    return;
  }
  const request = cohortRequest(spec);
  if (!twin) {
    for (let i = 0; i < cohort.size; i++) yield cohortMemberAt(undefined, request, i);
    return;
  }
  const rules = Object.entries(cohort.inclusion ?? {});
  let enrolled = 0;
  const limit = rules.length === 0 ? cohort.size : cohort.size * MAX_SCREENED_PER_PATIENT;
  for (let c = 0; c < limit && enrolled < cohort.size; c++) {
    const member = cohortMemberAt(twin, request, c);
    if (rules.every(([key, rule]) => passes(member.covariates?.[key], rule))) {
      enrolled++;
      yield member;
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
  const steps = trialSteps(spec, envId);
  let index = 0;
  let enrolled = 0;
  for (const member of enrolledMembers(spec, twin)) {
    for (let r = 0; r < spec.replicates; r++) {
      for (let a = 0; a < spec.arms.length; a++) {
        yield {
          id: jobId(experimentId, index),
          index,
          kind: 'trial',
          seed: deriveSeed(spec.seed, 'job', index),
          config: trialJobConfig(trialShape(spec, envId, twin, steps), member, enrolled, r, a),
        };
        index++;
      }
    }
    enrolled++;
  }
  if (index === 0) throw new TwinlabError('INVALID_SPEC', `trial expands to no jobs (cohort ${describeValue(spec.cohort)})`);
}

/** The jobs of a streaming trial: one per block of `streaming.blockSize` patients (see `TrialBlockConfig`). */
function* generateTrialBlocks(experimentId: string, spec: TrialSpec): Generator<JobSpec> {
  const { envId, twin } = trialTarget(spec.cohort);
  const size = cohortSize(spec.cohort);
  const blockSize = spec.streaming?.blockSize ?? size;
  const shape = trialShape(spec, envId, twin, trialSteps(spec, envId));
  const cohort = cohortRequest(spec);
  // as streamingAggregator (runner.ts) sets up the analysis: the trial seed, B, the reference arm
  const bootstrap = { seed: spec.seed, resamples: spec.streaming?.resamples ?? 1_000, reference: spec.reference ?? (spec.arms[0]?.name as string) };
  for (let index = 0, from = 0; from < size; index++, from += blockSize) {
    yield {
      id: jobId(experimentId, index),
      index,
      kind: 'trial',
      seed: deriveSeed(spec.seed, 'job', index),
      config: { kind: 'trial-block', cohort, shape, replicates: spec.replicates, from, to: Math.min(size, from + blockSize), bootstrap },
    };
  }
}

/** Decision steps per episode of a trial (from `duration.steps` or `duration.days`), if bounded. */
export function trialSteps(spec: TrialSpec, envId: string): number | undefined {
  return spec.duration.steps ?? (spec.duration.days !== undefined ? stepsForDays(envId, spec.duration.days, spec.scenario) : undefined);
}

/**
 * What a trial job's config is made of besides its patient: plain JSON, so a worker given it (inside a
 * trial block, see trial-blocks.ts) builds exactly the job configs the coordinator would.
 */
export interface TrialShape {
  twinId: string | null;
  envId: string;
  scenario: Record<string, unknown>;
  steps: number | null;
  trialSeed: number;
  paired: boolean;
  episodes: number;
  arms: Array<TrialJobConfig['arm']>;
  endpoints: string[];
  keyframeInterval: number;
  /** Episode logs are kept for enrolment positions divisible by this (1 = every patient). */
  keepEvery: number;
  /** Spec `frames: true`. */
  frames?: boolean;
}

export function trialShape(spec: TrialSpec, envId: string, twin: TwinDefinition | undefined, steps: number | undefined): TrialShape {
  return {
    twinId: twin?.id ?? null,
    envId,
    scenario: spec.scenario,
    steps: steps ?? null,
    trialSeed: spec.seed,
    paired: spec.paired,
    episodes: spec.duration.episodes,
    arms: spec.arms.map((arm) => ({ name: arm.name, policy: arm.policy, options: arm.options, ...(arm.shield !== undefined ? { shield: arm.shield } : {}) })),
    endpoints: [...spec.endpoints.primary, ...spec.endpoints.secondary],
    keyframeInterval: spec.keyframeInterval,
    keepEvery: spec.keepEpisodes?.every ?? 1,
    ...(spec.frames ? { frames: true } : {}),
  };
}

/** The config of the job of (patient `member` at enrolment position `enrolled`, replicate r, arm a). */
export function trialJobConfig(shape: TrialShape, member: CohortMember, enrolled: number, r: number, a: number): TrialJobConfig {
  const arm = shape.arms[a] as TrialJobConfig['arm'];
  const base = shape.paired
    ? deriveSeed(shape.trialSeed, 'patient', member.index, 'replicate', r)
    : deriveSeed(shape.trialSeed, 'patient', member.index, 'replicate', r, 'arm', a);
  const episodeSeeds = Array.from({ length: shape.episodes }, (_, k) => (k === 0 ? base : deriveSeed(base, 'episode', k)));
  const envOptions: Record<string, unknown> = { ...shape.scenario, ...member.envOptions };
  if (shape.steps !== null) envOptions.maxEpisodeSteps = shape.steps;
  const config: TrialJobConfig = {
    kind: 'trial',
    twinId: shape.twinId,
    envId: shape.envId,
    envOptions,
    patientIndex: member.index,
    enrolled,
    patientId: member.patientId,
    covariates: member.covariates ?? {},
    arm: { ...arm },
    armIndex: a,
    replicate: r,
    episodeSeeds,
    policySeed: base,
    endpoints: [...shape.endpoints],
    keyframeInterval: shape.keyframeInterval,
  };
  // Only when some logs are dropped, so the default trial's job configs are unchanged.
  if (enrolled % shape.keepEvery !== 0) config.keepEpisodes = false;
  if (shape.frames) config.frames = true;
  return config;
}
