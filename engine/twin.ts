import type { Env, Info } from './env.js';
import type { EpisodeLog } from './episode-log.js';
import { TwinlabError } from './errors.js';

/**
 * What a twin publishes beyond its envs, so experiments can run virtual trials on any twin without
 * knowing its physiology: its clinical endpoints (computed from an episode log) and its virtual
 * cohorts (patient i of a cohort → env options). Policies are registered separately in `policies/`.
 */
export const ENDPOINT_KINDS = { continuous: 'continuous', binary: 'binary' } as const;
export type EndpointKind = (typeof ENDPOINT_KINDS)[keyof typeof ENDPOINT_KINDS];
export const BETTER = { higher: 'higher', lower: 'lower', none: 'none' } as const;
export type Better = (typeof BETTER)[keyof typeof BETTER];

export interface EndpointDefinition {
  /** Stable id used in trial specs, e.g. "tir" (time in range). */
  id: string;
  label: string;
  unit: string;
  kind: EndpointKind;
  better: Better;
  /** Safety endpoints are reported first. */
  safety?: boolean;
  /** One value per episode (binary endpoints return 0 or 1). */
  compute(log: EpisodeLog): number;
}

export interface CohortRequest {
  /** A named population of the twin, e.g. "adult" or "adolescent#001" (twin-specific). */
  population: string;
  size: number;
  seed: number;
  /** Generate new virtual patients (true) or use the named reference patients (false) — twin-specific default. */
  generated?: boolean;
}

export interface CohortMember {
  index: number;
  patientId: string;
  /** Options for `make(envId, options)` that put this patient in the env. */
  envOptions: Record<string, unknown>;
  /** Covariates to report (age, weight, renal function, …). */
  covariates?: Record<string, number | string>;
}

/**
 * A covariate the twin reports for each cohort member (`CohortMember.covariates[key]`), declared so the
 * trial report's baseline table can give its label and unit instead of guessing them from the key.
 */
export interface CovariateDefinition {
  key: string;
  label: string;
  /** '' for a category, a 0/1 flag or a dimensionless number. */
  unit: string;
}

/**
 * A safety constraint (shield) bound to one env: which actions are allowed given what the policy
 * sees (the observation and the previous step's info), and which allowed action replaces a masked one.
 */
export interface BoundShield {
  /** Writes allowed[a − actionStart] = 1 or 0 for every Discrete action; at least one must be allowed. */
  mask(observation: Float32Array, info: Info, allowed: Uint8Array): Uint8Array;
  /** The allowed action that replaces a masked `action` (the safest allowed one, in the twin's own terms). */
  safest(action: number, allowed: Uint8Array): number;
}

export interface ShieldDefinition {
  /** Stable id used in trial specs (`arms[].shield`), e.g. "glucose/no-insulin-above-basal-when-low". */
  id: string;
  title: string;
  /** Why, with the source cited (guideline or paper). */
  rationale: string;
  /** The shield for this env (action meanings depend on env options); undefined when it cannot apply (e.g. a Box action space). */
  bind(env: Env): BoundShield | undefined;
}

/**
 * A per-step cost signal bound to one env, for constrained training (agents/dqn.ts `constraint`):
 * the cost (≥ 0) of the step whose result carried `info`. A budget on an episode's cost (its mean or
 * sum over the steps) makes the env a constrained MDP (Altman 1999).
 */
export interface BoundCost {
  cost(info: Info): number;
}

export interface CostDefinition {
  /** Stable id used in agent configs (`constraint.cost`), e.g. "glucose/below-70". */
  id: string;
  title: string;
  /** What one step's cost means (e.g. "1 per step with plasma glucose < 70 mg/dL"). */
  unit: string;
  /** Why, with the source of any threshold cited. */
  rationale: string;
  /** The cost for this env; undefined when it cannot apply (the info it reads is absent). */
  bind(env: Env): BoundCost | undefined;
}

/**
 * Display vocabulary: what a twin's episode tracks are, so the viewer and the reports draw only
 * declared quantities with their units and reference bands (a twin without `tracks` gets a generic view).
 * - continuous: a measured or simulated quantity, drawn as a line;
 * - categorical: a coded state (0, 1, … indexing `categories`), drawn as a step chart with the category names;
 * - event: something that happens at a step (a meal), drawn as markers where non-zero;
 * - dose: a treatment amount given at a step, drawn as bars where non-zero.
 */
export const TRACK_KINDS = { continuous: 'continuous', categorical: 'categorical', event: 'event', dose: 'dose' } as const;
export type TrackKind = (typeof TRACK_KINDS)[keyof typeof TRACK_KINDS];

export function isTrackKind(value: unknown): value is TrackKind {
  return typeof value === 'string' && Object.hasOwn(TRACK_KINDS, value);
}

export interface TrackBand {
  low: number;
  high: number;
  label: string;
  /** Where the band comes from (guideline or paper). */
  source: string;
}

export interface TrackDefinition {
  /**
   * Where the value lives in a stored step: `info.<key>` (nested keys with dots, e.g. `info.course.lrc`),
   * `obs.<observation label or index>`, `action` or `reward`. Booleans read as 0/1.
   */
  field: string;
  label: string;
  /** '' when the quantity has no unit (categorical states). */
  unit: string;
  kind: TrackKind;
  band?: TrackBand;
  /** Tracks with the same panel share one chart (same unit); the panel's name titles it. */
  panel: string;
  /** Categorical only: the name of code 0, 1, …. */
  categories?: readonly string[];
}

/** Simulated clock of an env: the x axis of its tracks in clock time. */
export interface TrackClock {
  /** Minutes of simulated time per decision step (for the default options). */
  minutesPerStep: number;
  /** Clock time at reset, minutes after midnight of day 1. */
  startMinute: number;
  /**
   * Optional `info.<key>` holding the simulated time of each step (from reset), in `fieldUnit`; when
   * present it wins over step × minutesPerStep, so options that change the step length stay correct.
   */
  timeField?: string;
  fieldUnit?: 'minute' | 'hour' | 'day';
  /** True when `timeField` already includes the start clock time (the glucose env's minute of day). */
  fieldIncludesStart?: boolean;
}

export interface TwinTracks {
  clock?: TrackClock;
  tracks: readonly TrackDefinition[];
  /** The `field` of the glucose track the trial reports draw as an ambulatory glucose profile, if any. */
  glucoseProfile?: string;
  /**
   * A dedicated episode view the viewer has for this twin, by name (`ward`: beds, staff and a click
   * into each patient, viewer/src/views/ward.ts). Absent or unknown to the viewer: the tracks view.
   */
  view?: string;
}

export interface TwinDefinition {
  id: string;
  title: string;
  envIds: string[];
  defaultEnvId: string;
  endpoints: EndpointDefinition[];
  /** Endpoint ids, primary first. */
  primaryEndpoints: string[];
  populations: string[];
  /** Patient `index` of a cohort; must depend only on (request.population, request.seed, index). */
  cohortMember(request: CohortRequest, index: number): CohortMember;
  /** Safety constraints (action masks) the twin declares; the first is the default (`shield: true`). */
  shields?: ShieldDefinition[];
  /** Per-step cost signals the twin declares for constrained training (`constraint.cost` of the DQN config). */
  costs?: CostDefinition[];
  /** What the viewer and reports draw for this twin's episodes (see TRACK_KINDS). */
  tracks?: TwinTracks;
  /** The covariates its cohort members report, with labels and units (the reports' baseline table). */
  covariates?: readonly CovariateDefinition[];
}

const twins = new Map<string, TwinDefinition>();

export function registerTwin(twin: TwinDefinition): void {
  twins.set(twin.id, twin);
}

export function getTwin(id: string): TwinDefinition {
  const twin = twins.get(id);
  if (!twin) throw new TwinlabError('NOT_FOUND', `unknown twin "${id}"; known twins: ${[...twins.keys()].sort().join(', ')}`);
  return twin;
}

/** The twin that lists an env id in its envIds, if any. */
export function twinForEnv(envId: string): TwinDefinition | undefined {
  for (const twin of twins.values()) if (twin.envIds.includes(envId)) return twin;
  return undefined;
}

export function listTwins(): TwinDefinition[] {
  return [...twins.values()].sort((a, b) => a.id.localeCompare(b.id));
}
