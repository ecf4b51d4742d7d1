import { TwinlabError } from '../../engine/errors.js';
import { registerPolicy } from '../registry.js';
import { BasalBolusPolicy, FixedBasalPolicy, type PidGains, PidPolicy } from './protocols.js';

/** The type 1 envs (insulin decisions); the type 2 meal-choice env takes meals, not insulin. */
const T1D_ENVS = ['glucose/t1d-v1', 'glucose/t1d-hcl-v1', 'glucose/t1d-agents-v0'];

export { BasalBolusPolicy, DEFAULT_PID_GAINS, FixedBasalPolicy, InsulinActuator, PidPolicy } from './protocols.js';

function num(options: Record<string, unknown>, key: string, fallback: number): number {
  const v = options[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new TwinlabError('INVALID_ARGUMENT', `policy option ${key} must be a finite number, got ${String(v)}`);
  return v;
}

let registered = false;

/** Registers glucose/basal, glucose/basal-bolus and glucose/pid (idempotent). */
export function registerGlucosePolicies(): void {
  if (registered) return;
  registered = true;
  registerPolicy({
    name: 'glucose/basal',
    description: 'Fixed basal: the prescribed basal rate (option multiple, default 1), no boluses',
    appliesTo: T1D_ENVS,
    create: (_env, options) => new FixedBasalPolicy(num(options, 'multiple', 1)),
  });
  registerPolicy({
    name: 'glucose/basal-bolus',
    description: 'Basal-bolus (simglucose BBController): basal + carbs/CR + (CGM − 140)/CF above 150 at announced meals',
    appliesTo: T1D_ENVS,
    create: (_env, options) => new BasalBolusPolicy(num(options, 'target', 140), num(options, 'threshold', 150)),
  });
  registerPolicy({
    name: 'glucose/pid',
    description: 'PID on CGM around the prescribed basal (gains normalised by basal; options kp, ki, kd, target)',
    appliesTo: T1D_ENVS,
    create: (_env, options) => {
      const gains: Partial<PidGains> = {};
      for (const k of ['kp', 'ki', 'kd', 'target', 'integralMin', 'integralMax'] as const) if (options[k] !== undefined) gains[k] = num(options, k, 0);
      return new PidPolicy(gains);
    },
  });
}
