import { TwinlabError } from '../../engine/errors.js';
import { register } from '../../engine/registry.js';
import { type CohortMember, type CohortRequest, registerTwin } from '../../engine/twin.js';
import { GLUCOSE_ENDPOINTS } from './endpoints.js';
import { GlucoseEnv, type GlucoseEnvOptions } from './env.js';
import { AGE_GROUPS, type AgeGroup, isAgeGroup, patientNames } from './params.js';
import { getPatient, getTherapy } from './patients.js';
import { generatedName } from './virtual-patients.js';

export const GLUCOSE_ENV_ID = 'glucose/t1d-v1';
export const GLUCOSE_HCL_ENV_ID = 'glucose/t1d-hcl-v1';

const OPTION_DOCS: Record<string, string> = {
  patient:
    "one of the 30 names (e.g. 'adult#001'), a generated name 'adult~s42#007', { group, seed, index }, or a patient by value { name, params, x0, therapy: { carbRatio, correctionFactor } } (default adult#001)",
  patients: 'a list of patients; one is drawn per reset from the reset seed (substream "patient")',
  cohort: "'adolescent' | 'adult' | 'child' | 'all' (named patients) or { group, seed, size } (generated); one drawn per reset",
  scenario: "'random' (simglucose RandomScenario, default) | 'fixed' (DTR-Bench day) | 'none' | [{ hour|minute, carbs }] | { meals, repeatDaily }",
  sensor: "'GuardianRT' (default, 5 min) | 'Dexcom' (3 min) | 'Navigator' (1 min)",
  sensorNoise: 'Breton–Kovatchev CGM noise on (default true)',
  pump: "'Insulet' (default) | 'Cozmo'",
  pumpMode: "'pump' (default: real pump, 0.05 U/h basal and 0.05 U bolus steps, limits in U/h and U) | 'simglucose' (its pmol quantisation, limits in U/min)",
  decisionMinutes: 'minutes per step (default: the sensor sample time)',
  continuous: 'Box action (insulin U/min, plus bolus U with mealBolus agent) instead of Discrete basal multiples',
  basalMultiples: 'discrete levels as multiples of the patient basal (default [0, 0.5, 1, 1.5, 2, 3, 5])',
  mealBolus:
    "'none' (default: agent covers meals with basal) | 'auto' (pump gives the carb-ratio bolus at announcement) | 'agent' (extra action levels: + calculator bolus)",
  announceMeals: 'announced carbs visible in the observation (default true)',
  announceLeadMinutes: 'meals are announced this many minutes ahead (default 0)',
  cgmHistory: 'CGM readings in the observation (default 12 = 1 h)',
  randomInitialBG: 'perturb initial Gp, Gt, Gs as simglucose random_init_bg (default false)',
  startHour: 'clock hour of the episode start (default 0 = midnight)',
  horizonSteps: 'episode horizon used by the termination penalty (default one day of steps)',
  hypoThreshold: 'terminate when plasma glucose < this, mg/dL (default 40)',
  hyperThreshold: 'terminate when plasma glucose > this, mg/dL (default 600)',
  integrator:
    "'rk4' (default: classical RK4, 0.5-min steps, 0.05 min while eating) | 'dopri5' (Dormand–Prince 5(4), rtol 1e-6 as simglucose; ≈ 3× slower) — README 'Integrator and accuracy'",
  rk4Step: 'RK4 step of the patient model outside eating minutes, minutes (default: patient.ts DEFAULT_RK4_STEP)',
  spline: "cubic spline through the CGM noise knots: 'not-a-knot' (default, scipy interp1d as simglucose) | 'natural'",
};

/** Every option of GlucoseEnvOptions a caller may set (`id` is the registry's own). */
const OPTION_NAMES = [
  'patient',
  'patients',
  'cohort',
  'scenario',
  'sensor',
  'sensorNoise',
  'spline',
  'pump',
  'pumpMode',
  'decisionMinutes',
  'continuous',
  'basalMultiples',
  'mealBolus',
  'announceMeals',
  'announceLeadMinutes',
  'cgmHistory',
  'randomInitialBG',
  'startHour',
  'horizonSteps',
  'hypoThreshold',
  'hyperThreshold',
  'integrator',
  'rk4Step',
] as const satisfies ReadonlyArray<keyof GlucoseEnvOptions>;

/** Populations of the twin: the three age groups, then every named patient. */
export function glucosePopulations(): string[] {
  return [...Object.keys(AGE_GROUPS), ...patientNames()];
}

/**
 * Patient `index` of a cohort. Age-group populations: with `generated: false` the group's 10 named
 * patients in CSV order (size must be ≤ 10); with `generated: true` the generated virtual patient
 * `group~s<seed>#<index>`. Default: named when size ≤ 10, generated otherwise. A named-patient
 * population gives that patient for every index (members then differ only by their episode seeds).
 */
export function glucoseCohortMember(request: CohortRequest, index: number): CohortMember {
  const { population } = request;
  let name: string;
  if (isAgeGroup(population)) {
    const named = patientNames(population as AgeGroup);
    const generated = request.generated ?? request.size > named.length;
    if (!generated) {
      if (request.size > named.length || index >= named.length) {
        throw new TwinlabError('INVALID_ARGUMENT', `population '${population}' has ${named.length} named patients; size ${request.size} needs generated: true`);
      }
      name = named[index] as string;
    } else {
      name = generatedName(population as AgeGroup, request.seed, index);
    }
  } else if (patientNames().includes(population)) {
    name = population;
  } else {
    throw new TwinlabError('NOT_FOUND', `unknown glucose population '${population}'; expected one of ${glucosePopulations().join(', ')}`);
  }
  const params = getPatient(name);
  const therapy = getTherapy(name);
  return {
    index,
    patientId: name,
    envOptions: { patient: name },
    covariates: {
      age: therapy.age,
      bodyWeight: params.BW,
      basalGlucose: params.Gb,
      carbRatio: therapy.carbRatio,
      correctionFactor: therapy.correctionFactor,
      tdi: therapy.tdi,
    },
  };
}

let registered = false;

/** Registers both envs and the twin (idempotent). */
export function registerGlucose(): void {
  if (registered) return;
  registered = true;
  register({
    id: GLUCOSE_ENV_ID,
    description: 'Type 1 diabetes (UVA/Padova S2008, simglucose patients): set the insulin rate every 5 min as a multiple of basal; CGM noise, random meals',
    entryPoint: (options) => new GlucoseEnv(options as GlucoseEnvOptions),
    maxEpisodeSteps: 288,
    optionDocs: OPTION_DOCS,
    optionNames: OPTION_NAMES,
    decisionInterval: '5 min',
    reference: 'Dalla Man et al. 2007 IEEE TBME 54:1740; Kovatchev et al. 2009 JDST 3:44; simglucose v0.2.11',
  });
  register({
    id: GLUCOSE_HCL_ENV_ID,
    description: 'Hybrid closed loop: as glucose/t1d-v1, but the pump gives the carb-ratio meal bolus at each announced meal; the agent sets basal',
    entryPoint: (options) => new GlucoseEnv({ ...(options as GlucoseEnvOptions), id: GLUCOSE_HCL_ENV_ID }),
    maxEpisodeSteps: 288,
    defaultOptions: { mealBolus: 'auto' },
    optionDocs: OPTION_DOCS,
    optionNames: OPTION_NAMES,
    decisionInterval: '5 min',
    reference: 'Dalla Man et al. 2007 IEEE TBME 54:1740; Kovatchev et al. 2009 JDST 3:44; simglucose v0.2.11',
  });
  registerTwin({
    id: 'glucose',
    title: 'Glucose–insulin (type 1 diabetes, UVA/Padova S2008)',
    envIds: [GLUCOSE_ENV_ID, GLUCOSE_HCL_ENV_ID],
    defaultEnvId: GLUCOSE_ENV_ID,
    endpoints: GLUCOSE_ENDPOINTS,
    primaryEndpoints: ['tir', 'tbr70', 'tbr54', 'tar180', 'mean_bg', 'cv'],
    populations: glucosePopulations(),
    cohortMember: glucoseCohortMember,
  });
}
