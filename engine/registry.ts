import type { Env } from './env.js';
import { TwinlabError } from './errors.js';
import { TimeLimit } from './wrappers.js';

/**
 * Registry of environments with versioned ids `namespace/name-vN` (e.g. `glucose/t1d-v1`).
 * `make(id, options)` builds the env and, when the spec declares `maxEpisodeSteps`, wraps it in
 * `TimeLimit` (as Gymnasium does), unless options.maxEpisodeSteps overrides it (0 disables).
 */
export interface EnvSpec {
  readonly id: string;
  readonly description: string;
  /** Factory; receives the caller's options merged over `defaultOptions`. */
  readonly entryPoint: (options: Record<string, unknown>) => Env;
  readonly maxEpisodeSteps?: number;
  readonly defaultOptions?: Record<string, unknown>;
  /** Documentation of each option: name → one-line meaning (shown by `twinlab envs`). */
  readonly optionDocs?: Record<string, string>;
  /**
   * Every option name the env accepts (besides `maxEpisodeSteps`, which `make` handles). Specs and the
   * CLI refuse other names (`knownOptions`); an env that declares nothing is not checked.
   */
  readonly optionNames?: readonly string[];
  /** Decision interval, e.g. "5 min", for catalogues. */
  readonly decisionInterval?: string;
  /** Human-readable reference for the model (paper). */
  readonly reference?: string;
}

const ID_PATTERN = /^(?<namespace>[a-z0-9][a-z0-9-]*)\/(?<name>[a-z0-9][a-z0-9-]*?)-v(?<version>\d+)$/;

export interface ParsedEnvId {
  namespace: string;
  name: string;
  version: number;
}

export function parseEnvId(id: string): ParsedEnvId {
  const match = ID_PATTERN.exec(id);
  if (!match?.groups) {
    throw new TwinlabError('INVALID_ARGUMENT', `env id "${id}" is malformed; expected "namespace/name-vN", e.g. "glucose/t1d-v1"`);
  }
  return { namespace: match.groups.namespace as string, name: match.groups.name as string, version: Number(match.groups.version) };
}

const registry = new Map<string, EnvSpec>();

export function register(spec: EnvSpec): void {
  parseEnvId(spec.id);
  const existing = registry.get(spec.id);
  if (existing && existing !== spec) {
    throw new TwinlabError('CONFLICT', `env id "${spec.id}" is already registered`);
  }
  registry.set(spec.id, spec);
}

export function registeredIds(): string[] {
  return [...registry.keys()].sort();
}

export function listSpecs(): EnvSpec[] {
  return registeredIds().map((id) => registry.get(id) as EnvSpec);
}

export function getSpec(id: string): EnvSpec {
  const spec = registry.get(id);
  if (spec) return spec;
  const known = registeredIds();
  let hint = '';
  try {
    const { namespace, name } = parseEnvId(id);
    const sameName = known.filter((k) => k.startsWith(`${namespace}/${name}-v`));
    if (sameName.length > 0) hint = ` (versions available: ${sameName.join(', ')})`;
  } catch {
    /* malformed ids fall through to the full list */
  }
  throw new TwinlabError('NOT_FOUND', `unknown env "${id}"${hint || `; registered envs: ${known.join(', ') || '(none)'}`}`, { id });
}

/** The option names an env accepts (with `maxEpisodeSteps`), or undefined when it declares none. */
export function knownOptions(id: string): string[] | undefined {
  const names = getSpec(id).optionNames;
  return names === undefined ? undefined : [...names, 'maxEpisodeSteps'];
}

/** Keys of `options` the env does not accept (empty when it declares no option names). */
export function unknownOptions(id: string, options: Record<string, unknown>): string[] {
  const known = knownOptions(id);
  return known === undefined ? [] : Object.keys(options).filter((key) => !known.includes(key));
}

export function hasEnv(id: string): boolean {
  return registry.has(id);
}

export function make(id: string, options: Record<string, unknown> = {}): Env {
  const spec = getSpec(id);
  const { maxEpisodeSteps: override, ...rest } = options;
  const env = spec.entryPoint({ ...(spec.defaultOptions ?? {}), ...rest });
  const limit = override === undefined ? spec.maxEpisodeSteps : Number(override);
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) {
    throw new TwinlabError('INVALID_ARGUMENT', `maxEpisodeSteps must be a non-negative integer, got ${String(override)}`);
  }
  return limit ? new TimeLimit(env, limit) : env;
}
