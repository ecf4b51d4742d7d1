import { TwinlabError } from '../../engine/errors.js';
import { register } from '../../engine/registry.js';
import type { Env } from '../../engine/env.js';
import { isDiscrete } from '../../engine/spaces.js';
import {
  type BoundShield,
  type CohortMember,
  type CohortRequest,
  type CostDefinition,
  registerTwin,
  type ShieldDefinition,
  type TwinTracks,
} from '../../engine/twin.js';
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

const TIR_BAND = { low: 70, high: 180, label: 'target 70–180', source: 'Battelino et al., Diabetes Care 2019;42:1593 (international consensus on time in range)' };

/** Episode tracks (env info, see README "Info"): glucose with the consensus target range, insulin, carbs, insulin on board. */
export const GLUCOSE_TRACKS: TwinTracks = {
  clock: { minutesPerStep: 5, startMinute: 0, timeField: 'info.minute', fieldUnit: 'minute', fieldIncludesStart: true },
  glucoseProfile: 'info.bg',
  tracks: [
    { field: 'info.cgm', label: 'CGM', unit: 'mg/dL', kind: 'continuous', panel: 'glucose', band: TIR_BAND },
    { field: 'info.bg', label: 'plasma glucose', unit: 'mg/dL', kind: 'continuous', panel: 'glucose', band: TIR_BAND },
    { field: 'info.insulinU', label: 'insulin delivered', unit: 'U', kind: 'dose', panel: 'insulin' },
    { field: 'info.bolus', label: 'bolus', unit: 'U', kind: 'dose', panel: 'insulin' },
    { field: 'info.cho', label: 'carbs eaten', unit: 'g', kind: 'event', panel: 'carbohydrate' },
    { field: 'info.announcedCarbs', label: 'meal announced', unit: 'g', kind: 'event', panel: 'carbohydrate' },
    { field: 'info.iob', label: 'insulin on board', unit: 'U', kind: 'continuous', panel: 'insulin on board' },
    { field: 'info.cob', label: 'carbs on board', unit: 'g', kind: 'continuous', panel: 'carbs on board' },
  ],
};

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
    // units: simglucose's vpatient_params.csv (BW kg, Gb mg/dL) and Quest.csv (age years, CR g/U, CF mg/dL/U,
    // TDI U/day), as environments/glucose/params.ts documents them
    covariates: [
      { key: 'age', label: 'Age', unit: 'years' },
      { key: 'bodyWeight', label: 'Body weight', unit: 'kg' },
      { key: 'basalGlucose', label: 'Basal plasma glucose', unit: 'mg/dL' },
      { key: 'carbRatio', label: 'Carbohydrate ratio', unit: 'g/U' },
      { key: 'correctionFactor', label: 'Correction factor', unit: 'mg/dL/U' },
      { key: 'tdi', label: 'Total daily insulin', unit: 'U/day' },
    ],
    shields: [GLUCOSE_LOW_SHIELD],
    costs: [GLUCOSE_BELOW_70_COST],
    tracks: GLUCOSE_TRACKS,
  });
}

/** CGM (mg/dL) below which insulin above basal is masked. */
export const LOW_SHIELD_CGM_MG_DL = 80;

/**
 * No insulin above basal while CGM < 80 mg/dL: actions `m× basal` with m > 1, and every action with
 * the meal bolus, are masked; a masked action is replaced by the least insulin allowed (the lowest
 * multiple, 0× = suspend — what predictive low-glucose suspend pumps do). Bound from the env's own
 * action labels (`${m}× basal`, `… + meal bolus`), so any basalMultiples option works; Box actions
 * are not shielded (bind returns undefined).
 */
export const GLUCOSE_LOW_SHIELD: ShieldDefinition = {
  id: 'glucose/no-insulin-above-basal-when-low',
  title: `No insulin above basal when CGM < ${LOW_SHIELD_CGM_MG_DL} mg/dL`,
  rationale:
    'Level 1 hypoglycaemia is glucose < 70 mg/dL (ADA Standards of Care in Diabetes—2024, section 6, Diabetes Care 47(Suppl 1):S111–S125); ' +
    'the 80 mg/dL threshold leaves 10 mg/dL for CGM error and the 5–15 min lag of interstitial glucose, and extra insulin then can only lower glucose further.',
  bind(env: Env): BoundShield | undefined {
    const space = env.actionSpace;
    const cgm = env.observationSpace.labels?.indexOf('cgm') ?? -1;
    if (!isDiscrete(space) || space.labels === undefined || cgm < 0) return undefined;
    const insulin: number[] = [];
    for (const label of space.labels) {
      const m = /^([0-9.]+)× basal( \+ meal bolus)?$/.exec(label);
      if (!m) return undefined;
      // a meal bolus counts as more insulin than any basal multiple
      insulin.push(Number(m[1]) + (m[2] ? 1e6 : 0));
    }
    if (!insulin.some((u) => u <= 1)) return undefined;
    const order = insulin.map((_, i) => i).sort((a, b) => (insulin[a] as number) - (insulin[b] as number) || a - b);
    const safest = space.start + (order[0] as number);
    return {
      mask(observation, _info, allowed) {
        const low = (observation[cgm] as number) < LOW_SHIELD_CGM_MG_DL;
        for (let i = 0; i < insulin.length; i++) allowed[i] = low && (insulin[i] as number) > 1 ? 0 : 1;
        return allowed;
      },
      safest: () => safest,
    };
  },
};

/** Plasma glucose (mg/dL) below which a step costs 1: level 1 hypoglycaemia. */
export const BELOW_70_COST_MG_DL = 70;

/**
 * Cost 1 for a step that ends with plasma glucose (info.bg, the quantity of the tbr70 endpoint)
 * below 70 mg/dL, else 0 — so an episode's mean cost is its time below 70 as a fraction. Info only:
 * trajectories and their hashes are unchanged. A budget of 0.04 is the consensus target of < 4 % of
 * time below 70 mg/dL (Battelino et al. 2019, "Clinical targets for continuous glucose monitoring data
 * interpretation: recommendations from the International Consensus on Time in Range", Diabetes Care
 * 42:1593–1603).
 */
export const GLUCOSE_BELOW_70_COST: CostDefinition = {
  id: 'glucose/below-70',
  title: `Time below ${BELOW_70_COST_MG_DL} mg/dL`,
  unit: `1 per step ending with plasma glucose < ${BELOW_70_COST_MG_DL} mg/dL`,
  rationale:
    'Level 1 hypoglycaemia is glucose < 70 mg/dL (ADA Standards of Care in Diabetes—2024, section 6, Diabetes Care 47(Suppl 1):S111–S125); ' +
    'the International Consensus on Time in Range (Battelino et al. 2019, Diabetes Care 42:1593) targets < 4 % of time below it.',
  bind(env: Env) {
    if (!env.id.startsWith('glucose/t1d')) return undefined;
    return {
      cost(info) {
        const bg = info.bg;
        if (typeof bg !== 'number') throw new TwinlabError('INVALID_STATE', `cost glucose/below-70: step info has no numeric bg (got ${typeof bg})`);
        return bg < BELOW_70_COST_MG_DL ? 1 : 0;
      },
    };
  },
};
