import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { DQN_PRESETS, DqnConfigSchema } from '../agents/dqn-config.js';
import { describeValue, TwinlabError } from '../engine/errors.js';
import { getSpec, hasEnv, knownOptions, make, registeredIds, unknownOptions } from '../engine/registry.js';
import { getTwin, listTwins, type TwinDefinition, twinForEnv } from '../engine/twin.js';
import '../environments/index.js';
import '../policies/index.js';
import { hasPolicy, listPolicies } from '../policies/registry.js';
import { GENERIC_ENDPOINTS, SHIELD_ENDPOINT } from './endpoints.js';
import { checkPersonalCohort, isPersonalCohort, type PersonalCohort, PersonalCohortSchema, personalPatientOptions } from './personal-cohort.js';
import { EXPERIMENT_KINDS } from './store.js';

/**
 * Experiment specs (YAML or JSON), three kinds:
 *   - `train`: one env × one agent config × `seeds` replicate runs;
 *   - `sweep`: a grid over agent-config fields (dotted paths) × `seeds`;
 *   - `trial`: a virtual clinical trial — cohort × arms × scenario × duration × endpoints × replicates.
 *
 * Validation has two passes: the zod schema (types, ranges, unknown fields), then semantic checks
 * against the registries (envs, twins, endpoints, policies, agent config). Every error of both passes
 * is collected and thrown as ONE `TwinlabError('INVALID_SPEC')` whose lines read
 * `path: problem (got value; expected …)`, so nothing runs and nothing is written until the whole
 * spec is valid.
 */

const record = z.record(z.string(), z.unknown());
const seedSchema = z.number().int().nonnegative();

/**
 * Upper bounds of the sizes a spec may ask for (experiments/README.md "Limits"). Every job is a row in
 * the store and is expanded before anything runs, so an unbounded size is a way to freeze the server
 * or fill the disk with one request.
 */
export const SPEC_LIMITS = {
  /** train/sweep: runs per configuration. */
  seeds: 1000,
  /** trial: episodes per (patient, arm). */
  replicates: 1000,
  /** trial: enrolled patients. */
  cohortSize: 1_000_000,
  /** trial: episodes per job (duration.episodes). */
  episodes: 1000,
  /** Jobs of one experiment: seeds × grid points, or patients × replicates × arms. */
  jobs: 100_000,
} as const;

/** Bounds of a streaming trial's block size and bootstrap replicates. */
export const STREAMING_LIMITS = { blockSize: 10_000, resamples: 100_000 } as const;

const atMost = (limit: number) => ({ message: `must be at most ${limit.toLocaleString('en-US')} (experiments/README.md, Limits)` });

const common = {
  name: z.string().min(1),
  description: z.string().optional(),
  /** Experiment seed: every job seed derives from it and the job index. */
  seed: seedSchema.default(0),
};

const trainFields = {
  ...common,
  env: z.string().min(1),
  envOptions: record.default({}),
  agent: z.literal('dqn').default('dqn'),
  /** A named DQN preset (agents/dqn-config.ts) under `config`. */
  preset: z.string().optional(),
  config: record.default({}),
  /** Shorthand for config.totalSteps. */
  steps: z.number().int().positive().optional(),
  /** Independent training runs per configuration (job seeds derive from the experiment seed). */
  seeds: z.number().int().positive().max(SPEC_LIMITS.seeds, atMost(SPEC_LIMITS.seeds)).default(1),
  /** Episodes of the saved greedy policy recorded after training (replayable). */
  evalEpisodes: z.number().int().nonnegative().default(3),
  /** Train on the posterior draws of a fitted personal twin (experiments/personal-cohort.ts): envOptions.patients = those draws. */
  cohort: PersonalCohortSchema.optional(),
};

export const TrainSpecSchema = z.strictObject({ kind: z.literal('train'), ...trainFields });

export const SweepSpecSchema = z.strictObject({
  kind: z.literal('sweep'),
  ...trainFields,
  /** Dotted agent-config path → values; the jobs are the cartesian product (keys in spec order) × seeds. */
  grid: z.record(z.string(), z.array(z.unknown()).min(1)),
});

const inclusionRule = z.strictObject({
  min: z.number().optional(),
  max: z.number().optional(),
  in: z
    .array(z.union([z.number(), z.string()]))
    .min(1)
    .optional(),
});

/**
 * What a trial sets out to show on one endpoint: superiority (the default), non-inferiority within
 * `margin` Δ (> 0, in the endpoint's units; the worse side is the endpoint's declared `better`), or
 * equivalence within ±Δ (TOST). `alpha` is the one-sided level of each test (default (1 − 0.95)/2 = 0.025,
 * so a non-inferiority bound is the lower limit of the two-sided 95 % CI; bioequivalence uses 0.05).
 */
export const HypothesisSchema = z.strictObject({
  hypothesis: z.enum(['superiority', 'non-inferiority', 'equivalence']),
  margin: z.number().positive().optional(),
  alpha: z.number().gt(0).lt(0.5).optional(),
});
export type HypothesisDeclaration = z.output<typeof HypothesisSchema>;

export const TrialSpecSchema = z.strictObject({
  kind: z.literal('trial'),
  ...common,
  /** A population cohort, or a personal one (`{ twin: glucose, personal: DIR, draws, offset? }`, experiments/personal-cohort.ts). */
  cohort: z.union([
    z.strictObject({
      /** Twin id (defaults to the twin owning `env`). */
      twin: z.string().min(1).optional(),
      /** Env id (defaults to the twin's default env). */
      env: z.string().min(1).optional(),
      population: z.string().min(1).optional(),
      size: z.number().int().positive().max(SPEC_LIMITS.cohortSize, atMost(SPEC_LIMITS.cohortSize)),
      /** Cohort seed (defaults to the experiment seed). */
      seed: seedSchema.optional(),
      generated: z.boolean().optional(),
      /** Covariate → rule; candidates are scanned in index order and the first `size` that pass are enrolled. */
      inclusion: z.record(z.string(), inclusionRule).optional(),
    }),
    PersonalCohortSchema,
  ]),
  arms: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        /** A registered policy name (e.g. glucose/basal-bolus) or a saved policy directory (relative to the spec file). */
        policy: z.string().min(1),
        options: record.default({}),
        /** Enforce the twin's shield (true = its default one, or a shield id); adds the shieldInterventions endpoint. */
        shield: z.union([z.literal(true), z.string().min(1)]).optional(),
      }),
    )
    .min(1),
  /** Env options applied to every patient (meals, scenario switches); the patient's own options win on conflict. */
  scenario: record.default({}),
  duration: z
    .strictObject({
      episodes: z.number().int().positive().max(SPEC_LIMITS.episodes, atMost(SPEC_LIMITS.episodes)).default(1),
      /** Decision steps per episode (sets maxEpisodeSteps). */
      steps: z.number().int().positive().optional(),
      /** Simulated days per episode (converted to steps with the decision interval of the env built with `scenario`). */
      days: z.number().positive().optional(),
    })
    .default({ episodes: 1 }),
  endpoints: z.strictObject({
    primary: z.array(z.string().min(1)).min(1),
    secondary: z.array(z.string().min(1)).default([]),
    /** Pre-declared hypothesis per endpoint id (default superiority); margins in the endpoint's units (experiments/README.md, Hypotheses). */
    hypotheses: z.record(z.string(), HypothesisSchema).default({}),
  }),
  replicates: z.number().int().positive().max(SPEC_LIMITS.replicates, atMost(SPEC_LIMITS.replicates)).default(1),
  /** Common random numbers across arms (same patients, meals and sensor noise). */
  paired: z.boolean().default(true),
  /** Arm the others are compared with (default: the first arm). */
  reference: z.string().min(1).optional(),
  /** Keyframe interval of the stored episode logs (0 = none). */
  keyframeInterval: z.number().int().nonnegative().default(48),
  /**
   * Emit every step of every episode as a `trajectory.frame` event while the job runs, so the viewer
   * can follow an episode live (the ward view does). Stored with the other events: a 30-bed ward week
   * is about 0.6 MB of frames per episode, so keep it for small or demonstration trials.
   */
  frames: z.boolean().optional(),
  /**
   * Full episode logs only for the patients at enrolment positions divisible by `every` (absent: every
   * patient's, as before); endpoints and summaries are kept for all.
   */
  keepEpisodes: z.strictObject({ every: z.number().int().positive() }).optional(),
  /**
   * Streaming aggregation for very large cohorts (experiments/README.md, "Streaming trials"): jobs are
   * blocks of `blockSize` patients regenerated in the workers from (seed, index), results are aggregated
   * as they arrive (Poisson bootstrap with `resamples` replicates), and memory does not grow with the cohort.
   */
  streaming: z
    .strictObject({
      blockSize: z.number().int().positive().max(STREAMING_LIMITS.blockSize, atMost(STREAMING_LIMITS.blockSize)).default(250),
      resamples: z.number().int().min(100).max(STREAMING_LIMITS.resamples, atMost(STREAMING_LIMITS.resamples)).default(1000),
    })
    .optional(),
});

export const ExperimentSpecSchema = z.discriminatedUnion('kind', [TrainSpecSchema, SweepSpecSchema, TrialSpecSchema]);

export type TrainSpec = z.output<typeof TrainSpecSchema>;
export type SweepSpec = z.output<typeof SweepSpecSchema>;
export type TrialSpec = z.output<typeof TrialSpecSchema>;
export type PopulationCohort = Exclude<TrialSpec['cohort'], PersonalCohort>;
export type ExperimentSpec = z.output<typeof ExperimentSpecSchema>;

export interface SpecError {
  path: string;
  message: string;
}

export interface ValidateOptions {
  /** Directory that relative saved-policy paths are resolved against (the spec file's directory). */
  baseDir?: string;
}

/** Parse YAML or JSON text (JSON is YAML). */
export function parseSpecText(text: string, source = 'spec'): unknown {
  try {
    return parseYaml(text);
  } catch (error) {
    throw new TwinlabError('INVALID_SPEC', `${source}: not valid YAML/JSON: ${(error as Error).message}`);
  }
}

/** Read and validate a spec file; relative policy paths resolve against the file's directory. */
export function loadSpecFile(path: string): ExperimentSpec {
  if (!existsSync(path)) throw new TwinlabError('NOT_FOUND', `spec file ${path} does not exist`);
  return validateSpec(parseSpecText(readFileSync(path, 'utf8'), path), { baseDir: dirname(resolve(path)) });
}

/**
 * Validate a parsed spec. Returns the normalised spec (defaults filled, saved-policy paths made
 * absolute, the resolved env/twin filled in for trials) or throws one INVALID_SPEC error listing every problem.
 */
export function validateSpec(raw: unknown, options: ValidateOptions = {}): ExperimentSpec {
  const parsed = ExperimentSpecSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) throw specError(parsed.error.issues.flatMap((issue) => fromZodIssues(issue, raw)));
  const spec = structuredClone(parsed.data);
  const errors: SpecError[] = [];
  const jobs = jobCount(spec);
  if (jobs > SPEC_LIMITS.jobs) {
    const size = spec.kind === 'trial' && isPersonalCohort(spec.cohort) ? 'cohort.draws' : 'cohort.size';
    const streaming = spec.kind === 'trial' && spec.streaming !== undefined;
    const [path, how] = spec.kind === 'trial' ? (streaming ? ['streaming.blockSize', `⌈${size} / streaming.blockSize⌉`] : [size, `${size} × replicates × arms`]) : ['grid', 'grid points × seeds'];
    const limit = SPEC_LIMITS.jobs.toLocaleString('en-US');
    const hint = spec.kind === 'trial' && !streaming ? '; a larger trial needs `streaming: {}` (results aggregated as they arrive)' : '';
    throw specError([{ path, message: `the experiment expands to ${jobs.toLocaleString('en-US')} jobs (${how}); at most ${limit} (experiments/README.md, Limits)${hint}` }]);
  }
  if (spec.kind === 'trial') checkTrial(spec, options, errors);
  else checkTraining(spec, options, errors);
  if (errors.length > 0) throw specError(errors);
  return spec;
}

/** Jobs a schema-valid spec expands to, computed without expanding it. */
export function jobCount(spec: ExperimentSpec): number {
  if (spec.kind === 'trial') {
    if (spec.streaming) return Math.ceil(cohortSize(spec.cohort) / spec.streaming.blockSize);
    return cohortSize(spec.cohort) * spec.replicates * spec.arms.length;
  }
  if (spec.kind === 'sweep') return Object.values(spec.grid).reduce((n, values) => n * values.length, 1) * spec.seeds;
  return spec.seeds;
}

/** Patients a trial cohort enrols (a personal cohort: its draws). */
export function cohortSize(cohort: TrialSpec['cohort']): number {
  return isPersonalCohort(cohort) ? cohort.draws : cohort.size;
}

export function specError(errors: SpecError[]): TwinlabError {
  const lines = errors.map((e) => `  - ${e.path || '(spec)'}: ${e.message}`);
  return new TwinlabError('INVALID_SPEC', `invalid experiment spec (${errors.length} error${errors.length === 1 ? '' : 's'}):\n${lines.join('\n')}`, {
    errors,
  });
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

type ZodIssue = z.core.$ZodIssue;

/**
 * Like fromZodIssue, but a failed cohort union (population or personal cohort) reports the issues of
 * the branch the spec meant — personal when the cohort has a `personal` field — instead of "invalid input".
 */
function fromZodIssues(issue: ZodIssue, raw: unknown): SpecError[] {
  if (issue.code === 'invalid_union' && !('discriminator' in issue) && issue.errors.length === 2 && formatPath(issue.path) === 'cohort') {
    const cohort = (raw as Record<string, unknown> | null)?.cohort;
    const branch = issue.errors[isPersonalCohort(cohort) ? 1 : 0] as ZodIssue[];
    if (branch.length > 0) return branch.map((inner) => fromZodIssue({ ...inner, path: [...issue.path, ...inner.path] } as ZodIssue, raw));
  }
  return [fromZodIssue(issue, raw)];
}

function fromZodIssue(issue: ZodIssue, raw: unknown): SpecError {
  const path = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const allowed = allowedKeys(raw, issue.path);
    return {
      path: issue.keys.map((k) => formatPath([...issue.path, k])).join(', '),
      message: `unknown field${issue.keys.length > 1 ? 's' : ''}${allowed ? ` (expected one of ${allowed.join(', ')})` : ''}`,
    };
  }
  if (issue.code === 'invalid_union' && 'discriminator' in issue) {
    const value = (raw as Record<string, unknown> | null)?.kind;
    return { path: path || 'kind', message: `invalid value ${describeValue(value)} (expected one of ${EXPERIMENT_KINDS.join(', ')})` };
  }
  const got = 'input' in issue ? ` (got ${describeValue(issue.input)})` : '';
  return { path, message: `${issue.message}${got}` };
}

/** The field names the schema allows at a path (for "unknown field" errors). */
function allowedKeys(raw: unknown, path: readonly PropertyKey[]): string[] | undefined {
  const kind = (raw as Record<string, unknown> | null)?.kind;
  let schema: unknown = kind === 'train' ? TrainSpecSchema : kind === 'sweep' ? SweepSpecSchema : kind === 'trial' ? TrialSpecSchema : undefined;
  let node: unknown = raw;
  const branch = (s: unknown, value: unknown): unknown => (s instanceof z.ZodUnion ? (s.options as unknown[])[isPersonalCohort(value) ? 1 : 0] : s); // the cohort union
  for (const seg of path) {
    schema = branch(unwrap(schema), node);
    if (schema instanceof z.ZodObject) schema = schema.shape[String(seg)];
    else if (schema instanceof z.ZodArray) schema = schema.element;
    else if (schema instanceof z.ZodRecord) schema = schema.valueType;
    else return undefined;
    node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[String(seg)] : undefined;
  }
  schema = branch(unwrap(schema), node);
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : undefined;
}

function unwrap(schema: unknown): unknown {
  let s = schema;
  while (s instanceof z.ZodOptional || s instanceof z.ZodDefault || s instanceof z.ZodNullable) {
    s = (s as { unwrap(): unknown }).unwrap();
  }
  return s;
}

// ---------------------------------------------------------------- training specs

/** The agent config a train/sweep job starts from: preset, then `config`, then `steps`. */
export function baseAgentConfig(spec: TrainSpec | SweepSpec): Record<string, unknown> {
  const preset = spec.preset ? (DQN_PRESETS[spec.preset] as Record<string, unknown> | undefined) : undefined;
  const base: Record<string, unknown> = { ...(preset ? structuredClone(preset) : {}), ...structuredClone(spec.config) };
  if (spec.steps !== undefined) base.totalSteps = spec.steps;
  return base;
}

/** Set a dotted path in a config object (creating intermediate objects). */
export function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let obj = target;
  for (const part of parts.slice(0, -1)) {
    const next = obj[part];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) obj[part] = {};
    obj = obj[part] as Record<string, unknown>;
  }
  obj[parts[parts.length - 1] as string] = value;
}

function checkTraining(spec: TrainSpec | SweepSpec, options: ValidateOptions, errors: SpecError[]): void {
  if (!hasEnv(spec.env)) errors.push({ path: 'env', message: `unknown env ${describeValue(spec.env)} (expected one of ${registeredIds().join(', ')})` });
  else if (!checkOptionNames(spec.env, spec.envOptions, 'envOptions', errors)) checkDiscreteActions(spec.env, spec.envOptions, errors);
  if (spec.cohort !== undefined && hasEnv(spec.env)) {
    const clash = personalPatientOptions(spec.cohort).filter((key) => key in spec.envOptions);
    if (clash.length > 0) errors.push({ path: `envOptions.${clash[0]}`, message: 'the patients come from cohort (a personal twin); remove this option' });
    if (spec.cohort.env !== undefined && spec.cohort.env !== spec.env) {
      errors.push({ path: 'cohort.env', message: `must be the training env ${spec.env} or left out (got ${describeValue(spec.cohort.env)})` });
    } else checkPersonalCohort(spec.cohort, spec.env, { ...options, training: true }, errors);
  }
  if (spec.preset !== undefined && !(spec.preset in DQN_PRESETS)) {
    errors.push({ path: 'preset', message: `unknown preset ${describeValue(spec.preset)} (expected one of ${Object.keys(DQN_PRESETS).join(', ')})` });
    return;
  }
  const base = baseAgentConfig(spec);
  const baseResult = DqnConfigSchema.safeParse(base, { reportInput: true });
  if (!baseResult.success) {
    for (const issue of baseResult.error.issues) {
      const e = fromZodIssue(issue, base);
      errors.push({ path: `config.${e.path}`, message: e.message });
    }
    return;
  }
  if (hasEnv(spec.env)) checkSafetyConfig(spec.env, baseResult.data, errors);
  if (spec.kind !== 'sweep') return;
  const keys = Object.keys(spec.grid);
  if (keys.length === 0) errors.push({ path: 'grid', message: 'a sweep needs at least one field to vary (got {})' });
  const fields = Object.keys(DqnConfigSchema.shape);
  for (const key of keys) {
    if (!configPathExists(key)) {
      errors.push({ path: `grid.${key}`, message: `not a field of the dqn config (expected one of ${fields.join(', ')})` });
      continue;
    }
    (spec.grid[key] as unknown[]).forEach((value, j) => {
      const candidate = structuredClone(base);
      setPath(candidate, key, value);
      const r = DqnConfigSchema.safeParse(candidate, { reportInput: true });
      if (!r.success) {
        const issue = r.error.issues[0] as ZodIssue;
        errors.push({ path: `grid.${key}[${j}]`, message: `${issue.message} (got ${describeValue(value)})` });
      }
    });
  }
}

/** config.shield and config.constraint name a shield and a cost signal that the env's twin declares. */
function checkSafetyConfig(envId: string, config: { shield?: { id: true | string } | null; constraint?: { cost: string } | null }, errors: SpecError[]): void {
  const twin = twinForEnv(envId);
  const owner = twin ? `twin ${twin.id}` : `env ${envId}`;
  if (config.shield) {
    const ids = (twin?.shields ?? []).map((d) => d.id);
    if (ids.length === 0) errors.push({ path: 'config.shield', message: `${owner} declares no shields` });
    else if (config.shield.id !== true && !ids.includes(config.shield.id))
      errors.push({ path: 'config.shield.id', message: `unknown shield ${describeValue(config.shield.id)} (expected true or one of ${ids.join(', ')})` });
  }
  if (config.constraint) {
    const ids = (twin?.costs ?? []).map((d) => d.id);
    if (ids.length === 0) errors.push({ path: 'config.constraint', message: `${owner} declares no cost signals` });
    else if (!ids.includes(config.constraint.cost))
      errors.push({ path: 'config.constraint.cost', message: `unknown cost ${describeValue(config.constraint.cost)} (expected one of ${ids.join(', ')})` });
  }
}

function configPathExists(path: string): boolean {
  let schema: unknown = DqnConfigSchema;
  for (const part of path.split('.')) {
    schema = unwrap(schema);
    if (!(schema instanceof z.ZodObject) || !(part in schema.shape)) return false;
    schema = schema.shape[part];
  }
  return true;
}

/** One error per option name the env does not declare; true when there was any. */
function checkOptionNames(envId: string, options: Record<string, unknown>, path: string, errors: SpecError[]): boolean {
  const unknown = unknownOptions(envId, options);
  const known = (knownOptions(envId) ?? []).join(', ');
  for (const key of unknown) errors.push({ path: `${path}.${key}`, message: `unknown option of ${envId}; known: ${known}` });
  return unknown.length > 0;
}

/** DQN needs a discrete action space; say so up front instead of failing inside a worker. */
function checkDiscreteActions(envId: string, envOptions: Record<string, unknown>, errors: SpecError[]): void {
  let env: ReturnType<typeof make>;
  try {
    env = make(envId, envOptions);
  } catch (error) {
    errors.push({ path: 'envOptions', message: `${envId} rejects these options: ${(error as Error).message}` });
    return;
  }
  const space = env.actionSpace as { n?: number; toString(): string };
  if (typeof space.n !== 'number') {
    errors.push({ path: 'env', message: `DQN needs a discrete action space, ${envId} has ${space.toString()} (use an env id with discrete dose levels)` });
  }
  env.close?.();
}

// ---------------------------------------------------------------- trial specs

export interface TrialTarget {
  envId: string;
  twin: TwinDefinition | undefined;
}

/** The env and twin of a trial cohort (throws NOT_FOUND when they cannot be resolved). */
export function trialTarget(cohort: TrialSpec['cohort']): TrialTarget {
  const twin =
    cohort.twin !== undefined ? getTwin(cohort.twin) : cohort.env !== undefined ? twinForEnv(cohort.env) : undefined;
  const envId = cohort.env ?? twin?.defaultEnvId;
  if (envId === undefined) throw new TwinlabError('INVALID_SPEC', 'cohort needs env or twin');
  return { envId, twin };
}

/** Endpoints a trial on this twin may declare: the twin's own plus the generic ones. */
export function availableEndpoints(twin: TwinDefinition | undefined): string[] {
  const own = twin?.endpoints.map((e) => e.id) ?? [];
  return [...own, ...GENERIC_ENDPOINTS.map((e) => e.id).filter((id) => !own.includes(id))];
}

function checkTrial(spec: TrialSpec, options: ValidateOptions, errors: SpecError[]): void {
  const cohort = spec.cohort as PopulationCohort | PersonalCohort;
  if (spec.streaming !== undefined) {
    // A block's worker regenerates patient i from (cohort seed, i): that needs enrolment position = candidate index.
    if (isPersonalCohort(cohort)) errors.push({ path: 'streaming', message: 'not available for a personal cohort (its draws are read from a file on the coordinator); remove streaming' });
    else if (cohort.inclusion !== undefined) {
      errors.push({ path: 'cohort.inclusion', message: 'not available with streaming (a worker must find patient i without screening candidates 0…i); remove the rules or streaming' });
    }
  }
  let twin: TwinDefinition | undefined;
  if (cohort.twin !== undefined) {
    try {
      twin = getTwin(cohort.twin);
    } catch {
      errors.push({
        path: 'cohort.twin',
        message: `unknown twin ${describeValue(cohort.twin)} (expected one of ${
          listTwins()
            .map((t) => t.id)
            .join(', ') || '(none registered)'
        })`,
      });
      return;
    }
  }
  if (cohort.env === undefined && twin === undefined) {
    errors.push({ path: 'cohort', message: 'needs env or twin (got neither)' });
    return;
  }
  if (cohort.env !== undefined && !hasEnv(cohort.env)) {
    errors.push({ path: 'cohort.env', message: `unknown env ${describeValue(cohort.env)} (expected one of ${registeredIds().join(', ')})` });
    return;
  }
  if (twin && cohort.env !== undefined && !twin.envIds.includes(cohort.env)) {
    errors.push({
      path: 'cohort.env',
      message: `env ${describeValue(cohort.env)} is not an env of twin ${twin.id} (expected one of ${twin.envIds.join(', ')})`,
    });
    return;
  }
  const { envId, twin: resolvedTwin } = trialTarget(cohort);
  twin = resolvedTwin;
  cohort.env = envId;
  if (twin) cohort.twin = twin.id;
  checkOptionNames(envId, spec.scenario, 'scenario', errors);

  if (isPersonalCohort(cohort)) {
    checkPersonalCohort(cohort, envId, options, errors);
  } else if (twin) {
    if (cohort.population === undefined) {
      errors.push({ path: 'cohort.population', message: `required for twin ${twin.id} (expected one of ${twin.populations.join(', ')})` });
    } else {
      try {
        const member = twin.cohortMember({ population: cohort.population, size: cohort.size, seed: cohort.seed ?? spec.seed, generated: cohort.generated }, 0);
        for (const key of Object.keys(cohort.inclusion ?? {})) {
          if (!member.covariates || !(key in member.covariates)) {
            errors.push({
              path: `cohort.inclusion.${key}`,
              message: `unknown covariate (expected one of ${Object.keys(member.covariates ?? {}).join(', ') || '(twin reports no covariates)'})`,
            });
          }
        }
      } catch (error) {
        errors.push({
          path: 'cohort.population',
          message: `unknown population ${describeValue(cohort.population)} for twin ${twin.id} (expected one of ${twin.populations.join(', ')}): ${(error as Error).message}`,
        });
      }
    }
  } else {
    if (cohort.population !== undefined)
      errors.push({ path: 'cohort.population', message: `env ${envId} has no twin and so no populations (got ${describeValue(cohort.population)})` });
    if (cohort.inclusion !== undefined) errors.push({ path: 'cohort.inclusion', message: `env ${envId} has no twin and so no covariates to include on` });
  }

  const known = availableEndpoints(twin);
  const seen = new Set<string>();
  for (const group of ['primary', 'secondary'] as const) {
    spec.endpoints[group].forEach((id, j) => {
      if (!known.includes(id))
        errors.push({
          path: `endpoints.${group}[${j}]`,
          message: `unknown endpoint ${describeValue(id)} for ${twin ? `twin ${twin.id}` : envId} (expected one of ${known.join(', ')})`,
        });
      else if (seen.has(id)) errors.push({ path: `endpoints.${group}[${j}]`, message: `endpoint ${describeValue(id)} is declared twice` });
      seen.add(id);
    });
  }

  checkHypotheses(spec, twin, seen, errors);

  const names = new Set<string>();
  const applicable = listPolicies(envId).map((p) => p.name);
  spec.arms.forEach((arm, j) => {
    if (names.has(arm.name)) errors.push({ path: `arms[${j}].name`, message: `duplicate arm name ${describeValue(arm.name)} (arm names must be unique)` });
    names.add(arm.name);
    if (arm.shield !== undefined) {
      const ids = (twin?.shields ?? []).map((d) => d.id);
      if (ids.length === 0) errors.push({ path: `arms[${j}].shield`, message: `${twin ? `twin ${twin.id}` : `env ${envId}`} declares no shields` });
      else if (arm.shield !== true && !ids.includes(arm.shield))
        errors.push({ path: `arms[${j}].shield`, message: `unknown shield ${describeValue(arm.shield)} (expected true or one of ${ids.join(', ')})` });
    }
    if (hasPolicy(arm.policy)) {
      if (!applicable.includes(arm.policy)) {
        errors.push({
          path: `arms[${j}].policy`,
          message: `policy ${describeValue(arm.policy)} does not apply to ${envId} (expected one of ${applicable.join(', ')})`,
        });
      }
      return;
    }
    const looksLikePath = arm.policy.startsWith('.') || isAbsolute(arm.policy) || arm.policy.includes('/runs/') || arm.policy.endsWith('/policy');
    const dir = isAbsolute(arm.policy) ? arm.policy : resolve(options.baseDir ?? process.cwd(), arm.policy);
    if (existsSync(dir) && statSync(dir).isDirectory()) {
      const meta = join(dir, 'policy.json');
      if (!existsSync(meta)) {
        errors.push({ path: `arms[${j}].policy`, message: `saved policy directory ${describeValue(arm.policy)} has no policy.json` });
        return;
      }
      const savedEnv = readSavedEnvId(meta);
      if (savedEnv !== undefined && savedEnv !== envId) {
        errors.push({ path: `arms[${j}].policy`, message: `saved policy ${describeValue(arm.policy)} was trained on ${savedEnv}, not ${envId}` });
        return;
      }
      arm.policy = dir;
      return;
    }
    errors.push({
      path: `arms[${j}].policy`,
      message: looksLikePath
        ? `saved policy directory ${describeValue(arm.policy)} not found (resolved to ${dir})`
        : `unknown policy ${describeValue(arm.policy)} (expected one of ${applicable.join(', ')}, or a saved policy directory)`,
    });
  });
  // Every arm of a trial with a shielded arm reports the shield endpoint (the others as monitored proposals).
  if (spec.arms.some((arm) => arm.shield !== undefined) && !seen.has(SHIELD_ENDPOINT)) spec.endpoints.secondary.push(SHIELD_ENDPOINT);
  if (seen.has(SHIELD_ENDPOINT) && (twin?.shields ?? []).length === 0) {
    errors.push({ path: 'endpoints', message: `endpoint ${SHIELD_ENDPOINT} needs a twin that declares shields (${twin ? `twin ${twin.id}` : `env ${envId}`} declares none)` });
  }
  if (spec.reference !== undefined && !names.has(spec.reference)) {
    errors.push({ path: 'reference', message: `unknown arm ${describeValue(spec.reference)} (expected one of ${[...names].join(', ')})` });
  }

  if (spec.duration.steps !== undefined && spec.duration.days !== undefined) {
    errors.push({ path: 'duration', message: 'give steps or days, not both' });
  }
  if (unknownOptions(envId, spec.scenario).length > 0) return;
  let minutes: number | undefined;
  try {
    minutes = decisionMinutes(envId, spec.scenario);
  } catch (error) {
    errors.push({ path: 'scenario', message: `${envId} rejects these options: ${(error as Error).message}` });
    return;
  }
  if (spec.duration.steps === undefined && spec.duration.days !== undefined && minutes === undefined) {
    errors.push({ path: 'duration.days', message: `env ${envId} declares no decision interval in time units; give duration.steps instead` });
  }
}

/** Each declared hypothesis names a declared endpoint; margins where they are needed, a direction for non-inferiority. */
function checkHypotheses(spec: TrialSpec, twin: TwinDefinition | undefined, declared: Set<string>, errors: SpecError[]): void {
  for (const [id, h] of Object.entries(spec.endpoints.hypotheses)) {
    const path = `endpoints.hypotheses.${id}`;
    if (!declared.has(id)) {
      errors.push({ path, message: `not a declared endpoint (expected one of ${[...declared].join(', ')})` });
      continue;
    }
    if (h.hypothesis === 'superiority') {
      if (h.margin !== undefined) errors.push({ path: `${path}.margin`, message: `a superiority hypothesis takes no margin (got ${describeValue(h.margin)})` });
      continue;
    }
    if (h.margin === undefined) errors.push({ path: `${path}.margin`, message: `${h.hypothesis} needs a margin > 0 in the endpoint's units` });
    const definition = [...(twin?.endpoints ?? []), ...GENERIC_ENDPOINTS].find((e) => e.id === id);
    if (h.hypothesis === 'non-inferiority' && (definition?.better ?? 'none') === 'none') {
      errors.push({ path: `${path}.hypothesis`, message: `non-inferiority needs a better direction and endpoint ${id} declares none (use equivalence)` });
    }
  }
}

/** The hypothesis declared for endpoint `id` (superiority when none is). */
export function hypothesisOf(spec: TrialSpec, id: string): HypothesisDeclaration {
  return spec.endpoints.hypotheses?.[id] ?? { hypothesis: 'superiority' };
}

function readSavedEnvId(metaPath: string): string | undefined {
  try {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as { envId?: unknown };
    return typeof meta.envId === 'string' ? meta.envId : undefined;
  } catch {
    return undefined;
  }
}

const MINUTES: Record<string, number> = { s: 1 / 60, sec: 1 / 60, min: 1, h: 60, hour: 60, d: 1440, day: 1440 };

export function minutesPer(unit: string): number | undefined {
  return MINUTES[unit];
}

/**
 * Minutes per decision step of the env built with `options` (over its defaults) — the options matter:
 * a glucose env with `sensor: Dexcom` decides every 3 minutes, with Navigator every minute. Undefined
 * when the env declares no interval in time units. Throws what the env throws for invalid options.
 */
export function decisionMinutes(envId: string, options: Record<string, unknown> = {}): number | undefined {
  const spec = getSpec(envId);
  const { maxEpisodeSteps: _limit, ...rest } = options;
  const env = spec.entryPoint({ ...(spec.defaultOptions ?? {}), ...rest });
  const interval = env.stepDuration;
  env.close?.();
  const perStep = interval ? (minutesPer(interval.unit) ?? Number.NaN) * interval.value : Number.NaN;
  return perStep > 0 ? perStep : undefined;
}

/** Decision steps in `days` simulated days for the env built with `options` (e.g. a trial's scenario). */
export function stepsForDays(envId: string, days: number, options: Record<string, unknown> = {}): number {
  const perStep = decisionMinutes(envId, options);
  if (perStep === undefined) throw new TwinlabError('INVALID_SPEC', `duration.days: env ${envId} has no decision interval in time units`);
  return Math.round((days * 1440) / perStep);
}
