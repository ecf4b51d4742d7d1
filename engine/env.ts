import { TwinlabError, describeValue } from './errors.js';
import type { Action, Box, Space } from './spaces.js';

/**
 * The Env contract (Gymnasium semantics).
 *
 * `terminated` — the patient reached an absorbing state (death, discharge, tumour cleared);
 * `truncated` — the episode's time limit. Observations are `Float32Array`s; `info` carries the true
 * physiological state and clinical quantities for the viewer and endpoints, never needed by an agent.
 *
 * Performance contract: to keep stepping allocation-free, an env may return the *same* observation
 * buffer and result object on every call. They are valid until the next `step`/`reset`; callers that
 * keep them must copy (`RecordEpisode`, `VectorEnv` and the replay buffers do).
 */
export type Info = Record<string, unknown>;

export interface ResetOptions {
  seed?: number;
  options?: Record<string, unknown>;
}

export interface ResetResult {
  observation: Float32Array;
  info: Info;
}

export interface StepResult {
  observation: Float32Array;
  reward: number;
  terminated: boolean;
  truncated: boolean;
  info: Info;
}

export interface Env<A extends Action = Action> {
  readonly id: string;
  readonly observationSpace: Box;
  readonly actionSpace: Space<A>;
  /** Simulated time per decision step and its unit, e.g. { value: 5, unit: 'min' } (absent for abstract envs). */
  readonly stepDuration?: { value: number; unit: string };
  reset(options?: ResetOptions): ResetResult;
  step(action: A): StepResult;
  /** Full simulation state for keyframes (replay seeking); JSON-serialisable. */
  getState?(): unknown;
  setState?(state: unknown): void;
  close?(): void;
}

/**
 * Base class that enforces the contract every env must keep: reset before step, no step after the
 * episode ended, and actions inside the action space. Subclasses implement `resetEnv`/`stepEnv`.
 */
export abstract class BaseEnv<A extends Action = Action> implements Env<A> {
  abstract readonly id: string;
  abstract readonly observationSpace: Box;
  abstract readonly actionSpace: Space<A>;
  private phase: 'new' | 'running' | 'ended' = 'new';

  reset(options: ResetOptions = {}): ResetResult {
    if (options.seed !== undefined && !Number.isInteger(options.seed)) {
      throw new TwinlabError('INVALID_ARGUMENT', `${this.id}: reset seed must be an integer, got ${describeValue(options.seed)}`);
    }
    const result = this.resetEnv(options);
    this.phase = 'running';
    return result;
  }

  step(action: A): StepResult {
    if (this.phase !== 'running') {
      throw new TwinlabError(
        'INVALID_STATE',
        this.phase === 'new'
          ? `${this.id}: step() called before reset()`
          : `${this.id}: step() called after the episode ended (terminated or truncated); call reset() first`,
      );
    }
    if (!this.actionSpace.contains(action)) throw invalidActionError(this.id, action, this.actionSpace);
    const result = this.stepEnv(action);
    if (result.terminated || result.truncated) this.phase = 'ended';
    return result;
  }

  protected abstract resetEnv(options: ResetOptions): ResetResult;
  protected abstract stepEnv(action: A): StepResult;
}

export function invalidActionError(envId: string, action: unknown, space: Space): TwinlabError {
  return new TwinlabError('INVALID_ACTION', `${envId}: action ${describeValue(action)} is not in the action space ${space.toString()}`, {
    envId,
    action: describeValue(action),
    space: space.toJSON(),
  });
}
