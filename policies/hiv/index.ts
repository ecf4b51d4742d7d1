import type { Env } from '../../engine/env.js';
import { describeValue, TwinlabError } from '../../engine/errors.js';
import type { Policy, PolicyContext } from '../policy.js';
import { registerPolicy } from '../registry.js';

/**
 * Fixed drug schedules for `hiv/sti-v1` (actions, RLPy order: 0 none, 1 RTI, 2 PI, 3 RTI+PI):
 * always both drugs, never any, and fixed cycling (both drugs for `onSteps` decisions, none for
 * `offSteps`; default 5/5 = 25 days on, 25 days off, a structured treatment interruption).
 */
export const HIV_NONE = 0;
export const HIV_BOTH = 3;

export class HivCyclePolicy implements Policy<number> {
  readonly kind = 'protocol' as const;
  private step = 0;
  constructor(
    readonly name: string,
    private readonly onSteps: number,
    private readonly offSteps: number,
  ) {}
  reset(_context?: PolicyContext): void {
    this.step = 0;
  }
  act(): number {
    const cycle = this.onSteps + this.offSteps;
    const phase = this.step % cycle;
    this.step++;
    return phase < this.onSteps ? HIV_BOTH : HIV_NONE;
  }
}

function steps(options: Record<string, unknown>, name: string, fallback: number): number {
  const v = options[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new TwinlabError('INVALID_ARGUMENT', `HIV cycling policy option ${name} must be an integer ≥ 0, got ${describeValue(v)}`);
  }
  return v;
}

export function registerHivPolicies(): void {
  const appliesTo = ['hiv/sti-v1', 'hiv/sti-agents-v0'];
  registerPolicy({ name: 'hiv/always-on', description: 'RTI + PI at every decision', appliesTo, create: () => new HivCyclePolicy('hiv/always-on', 1, 0) });
  registerPolicy({ name: 'hiv/never', description: 'No drugs', appliesTo, create: () => new HivCyclePolicy('hiv/never', 0, 1) });
  registerPolicy({
    name: 'hiv/cycling',
    description: 'Fixed cycling: RTI + PI for onSteps 5-day decisions, none for offSteps (default 5/5)',
    appliesTo,
    create: (_env: Env, options) => {
      const on = steps(options, 'onSteps', 5);
      const off = steps(options, 'offSteps', 5);
      if (on + off === 0) throw new TwinlabError('INVALID_ARGUMENT', 'HIV cycling policy: onSteps + offSteps must be > 0');
      return new HivCyclePolicy('hiv/cycling', on, off);
    },
  });
}
