import type { Env } from '../engine/env.js';
import { TwinlabError } from '../engine/errors.js';
import type { Policy } from './policy.js';
import { RandomPolicy } from './random.js';

/**
 * Named policies: clinical protocols and simple baselines, e.g. "glucose/basal-bolus". Each twin's
 * protocols register here (see policies/index.ts); `makePolicy(name, env, options)` builds one for an env.
 */
export interface PolicyDefinition {
  name: string;
  description: string;
  /** Env ids (or namespaces, e.g. "glucose/") the policy applies to; empty = any env. */
  appliesTo: string[];
  create(env: Env, options: Record<string, unknown>): Policy;
}

const definitions = new Map<string, PolicyDefinition>();

export function registerPolicy(definition: PolicyDefinition): void {
  definitions.set(definition.name, definition);
}

registerPolicy({
  name: 'random',
  description: 'Uniform random actions from the action space',
  appliesTo: [],
  create: (env) => new RandomPolicy(env.actionSpace),
});

export function listPolicies(envId?: string): PolicyDefinition[] {
  return [...definitions.values()]
    .filter((d) => envId === undefined || policyApplies(d, envId))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export function hasPolicy(name: string): boolean {
  return definitions.has(name);
}

function policyApplies(d: PolicyDefinition, envId: string): boolean {
  return d.appliesTo.length === 0 || d.appliesTo.some((p) => (p.endsWith('/') ? envId.startsWith(p) : envId === p));
}

export function makePolicy(name: string, env: Env, options: Record<string, unknown> = {}): Policy {
  const d = definitions.get(name);
  if (!d) {
    throw new TwinlabError('NOT_FOUND', `unknown policy "${name}"; policies for ${env.id}: ${listPolicies(env.id).map((p) => p.name).join(', ')}`);
  }
  if (!policyApplies(d, env.id)) {
    throw new TwinlabError('INVALID_ARGUMENT', `policy "${name}" does not apply to env ${env.id} (it applies to ${d.appliesTo.join(', ')})`);
  }
  return d.create(env, options);
}
