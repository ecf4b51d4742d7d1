import type { Env } from '../../engine/env.js';
import { describeValue, TwinlabError } from '../../engine/errors.js';
import { isDiscrete } from '../../engine/spaces.js';
import type { Policy, PolicyContext } from '../policy.js';
import { registerPolicy } from '../registry.js';

/**
 * Fixed chemotherapy schedules for `oncology/chemo-v1` (discrete dose levels v = k/(n−1)). They need
 * no observation: only the decision interval (env.stepDuration, days) and the number of dose levels.
 *
 * - maximum tolerated dose: the top level at every step (continuous infusion, v ≡ 1);
 * - pulsed cycles: `level` for `onDays`, then nothing for `offDays`, repeated (default 7 on / 7 off);
 * - front-loaded ("dose then stop", the shape Ahn & Park 2011 found near-optimal): `level` for the first
 *   `days` days (default 20), then nothing.
 * `level` is a fraction of the maximal dose in [0, 1], mapped to the nearest dose level (default 1).
 */
export type ChemoSchedule = (day: number) => boolean;

export class ChemoSchedulePolicy implements Policy<number> {
  readonly kind = 'protocol' as const;
  private step = 0;
  constructor(
    readonly name: string,
    private readonly stepDays: number,
    private readonly action: number,
    private readonly on: ChemoSchedule,
  ) {}
  reset(_context?: PolicyContext): void {
    this.step = 0;
  }
  act(): number {
    const day = this.step * this.stepDays;
    this.step++;
    return this.on(day) ? this.action : 0;
  }
}

function option(options: Record<string, unknown>, name: string, fallback: number, min: number, max = Number.POSITIVE_INFINITY): number {
  const v = options[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new TwinlabError('INVALID_ARGUMENT', `chemo policy option ${name} must be a number in [${min}, ${max}], got ${describeValue(v)}`);
  }
  return v;
}

function setup(env: Env, options: Record<string, unknown>): { stepDays: number; action: number } {
  const space = env.actionSpace;
  if (!isDiscrete(space) || space.n < 2) throw new TwinlabError('INVALID_ARGUMENT', `chemo schedules need discrete dose levels, ${env.id} has ${space.toString()}`);
  const stepDays = env.stepDuration?.unit === 'day' ? env.stepDuration.value : 0.25;
  const level = option(options, 'level', 1, 0, 1);
  return { stepDays, action: space.start + Math.round(level * (space.n - 1)) };
}

export function maxToleratedDose(env: Env, options: Record<string, unknown> = {}): ChemoSchedulePolicy {
  const { stepDays, action } = setup(env, options);
  return new ChemoSchedulePolicy('oncology/chemo-mtd', stepDays, action, () => true);
}

export function pulsedCycles(env: Env, options: Record<string, unknown> = {}): ChemoSchedulePolicy {
  const { stepDays, action } = setup(env, options);
  const onDays = option(options, 'onDays', 7, 0);
  const offDays = option(options, 'offDays', 7, 0);
  const cycle = onDays + offDays;
  if (!(cycle > 0)) throw new TwinlabError('INVALID_ARGUMENT', 'chemo pulsed policy: onDays + offDays must be > 0');
  // A small tolerance keeps day = k·Δt from falling on the wrong side of a boundary through round-off.
  return new ChemoSchedulePolicy('oncology/chemo-pulsed', stepDays, action, (day) => (day + 1e-9) % cycle < onDays);
}

export function frontLoaded(env: Env, options: Record<string, unknown> = {}): ChemoSchedulePolicy {
  const { stepDays, action } = setup(env, options);
  const days = option(options, 'days', 20, 0);
  return new ChemoSchedulePolicy('oncology/chemo-front-loaded', stepDays, action, (day) => day + 1e-9 < days);
}

export function registerChemoPolicies(): void {
  const appliesTo = ['oncology/chemo-v1', 'oncology/chemo-agents-v0'];
  registerPolicy({ name: 'oncology/chemo-mtd', description: 'Maximum tolerated dose: continuous maximal infusion (option level ∈ [0, 1])', appliesTo, create: maxToleratedDose });
  registerPolicy({ name: 'oncology/chemo-pulsed', description: 'Pulsed cycles: dose for onDays, rest offDays (default 7/7; option level)', appliesTo, create: pulsedCycles });
  registerPolicy({ name: 'oncology/chemo-front-loaded', description: 'Dose then stop: maximal dose for the first `days` days (default 20), then none', appliesTo, create: frontLoaded });
}
