import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Env } from '../engine/env.js';
import { TwinlabError } from '../engine/errors.js';
import type { Policy } from './policy.js';
import { hasPolicy, makePolicy } from './registry.js';
import { loadSavedPolicy } from './saved.js';

/** Binds a policy to an env. */
export type PolicyFactory = (env: Env) => Policy;

export function isSavedPolicyDir(ref: string): boolean {
  return existsSync(ref) && statSync(ref).isDirectory() && existsSync(join(ref, 'policy.json'));
}

/**
 * Resolve a policy reference: a registered policy name (random, protocols) or a saved learned policy
 * directory (`policy.json` + tfjs LayersModel files). Returns a factory (policies bind to an env) and
 * the env id to use. (saved.ts is imported statically: worker threads running TypeScript sources through
 * tsx cannot resolve relative dynamic imports.)
 */
export async function loadPolicy(ref: string, envId: string | undefined, envOptions: Record<string, unknown> = {}): Promise<{ policy: PolicyFactory; envId: string }> {
  if (hasPolicy(ref)) {
    if (!envId) throw new TwinlabError('INVALID_ARGUMENT', `--env is required with policy "${ref}"`);
    return { policy: (env) => makePolicy(ref, env, envOptions), envId };
  }
  if (isSavedPolicyDir(ref)) {
    const saved = await loadSavedPolicy(ref);
    if (envId && envId !== saved.envId) {
      throw new TwinlabError('INVALID_ARGUMENT', `saved policy ${ref} was trained on ${saved.envId}, not ${envId}`);
    }
    return { policy: saved.create, envId: saved.envId };
  }
  throw new TwinlabError('NOT_FOUND', `unknown policy "${ref}": not a registered policy name nor a directory with policy.json`);
}
