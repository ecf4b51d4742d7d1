import { expect } from 'vitest';
import type { TwinlabError } from '../../engine/errors.js';
import { validateSpec } from '../../experiments/spec.js';

/** The field errors of a spec that validation must refuse (INVALID_SPEC); fails the test if it is accepted. */
export function specErrors(spec: unknown): Array<{ path: string; message: string }> {
  try {
    validateSpec(spec);
  } catch (error) {
    expect((error as TwinlabError).code).toBe('INVALID_SPEC');
    return ((error as TwinlabError).details as { errors: Array<{ path: string; message: string }> }).errors;
  }
  throw new Error('spec was accepted');
}
