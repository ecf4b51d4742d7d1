import { TwinlabError } from '../engine/errors.js';

/**
 * Linear schedule in env steps with Stable-Baselines3 semantics (`get_linear_fn`): the value moves
 * linearly from `start` to `end` over the first `fraction` of the *requested* budget `totalSteps`,
 * then stays at `end`:
 *   v(t) = start + (end − start)·min(1, t / (fraction·totalSteps)).
 * SB3 evaluates it on progress_remaining = 1 − t/total with t the env steps done so far, which is
 * the same function of t. Used for ε (exploration) and β (prioritized-replay importance exponent).
 */
export class LinearSchedule {
  private readonly duration: number;

  constructor(
    readonly start: number,
    readonly end: number,
    readonly fraction: number,
    readonly totalSteps: number,
  ) {
    if (!(fraction >= 0 && fraction <= 1)) throw new TwinlabError('INVALID_ARGUMENT', `schedule fraction must lie in [0, 1], got ${fraction}`);
    if (!(totalSteps > 0)) throw new TwinlabError('INVALID_ARGUMENT', `schedule totalSteps must be > 0, got ${totalSteps}`);
    this.duration = fraction * totalSteps;
  }

  value(step: number): number {
    if (this.duration <= 0 || step >= this.duration) return this.end;
    if (step <= 0) return this.start;
    return this.start + ((this.end - this.start) * step) / this.duration;
  }
}
