import type { EpisodeLog } from '../../engine/episode-log.js';
import { TwinlabError } from '../../engine/errors.js';
import { register } from '../../engine/registry.js';
import { type CohortMember, type CohortRequest, type EndpointDefinition, registerTwin, type TwinTracks } from '../../engine/twin.js';
import { generateT2DPerson } from './cohort.js';
import { T2D_DEFAULT_DAYS, T2D_ENV_ID, T2DNutritionEnv, type T2DEnvOptions } from './env.js';
import { MENU } from './menu.js';
import { registerT2DNutritionAgents, T2D_AGENTS_ENV_ID } from './t2d-nutrition-agents.js';

export const T2D_TWIN_ID = 'glucose-t2d';

function sumInfo(log: EpisodeLog, key: string): number {
  let s = 0;
  for (const step of log.steps) {
    const v = step.info[key];
    if (typeof v === 'number') s += v;
    else if (typeof v === 'boolean') s += v ? 1 : 0;
  }
  return s;
}

function fraction(log: EpisodeLog, key: string): number {
  const minutes = sumInfo(log, 'minutes');
  if (minutes === 0) throw new TwinlabError('INVALID_ARGUMENT', `${T2D_TWIN_ID} endpoint: episode log has no simulated minutes`);
  return sumInfo(log, key) / minutes;
}

/**
 * Endpoints over every simulated minute from the first meal to 07:00 after the last day (interstitial
 * glucose). Ranges: international consensus on time in range, Battelino et al., Diabetes Care
 * 42:1593–1603 (2019): TIR 70–180, TAR > 180 and > 250, TBR < 70 and < 54 mg/dL. Post-prandial
 * excursion: peak within 3 h of a meal minus the pre-meal value (ADA Standards of Care: peak
 * post-prandial glucose < 180 mg/dL as a target).
 */
export const T2D_ENDPOINTS: EndpointDefinition[] = [
  { id: 'tir', label: 'Time in range 70–180 mg/dL', unit: 'fraction', kind: 'continuous', better: 'higher', compute: (log) => fraction(log, 'minutesInRange') },
  { id: 'tar180', label: 'Time above 180 mg/dL', unit: 'fraction', kind: 'continuous', better: 'lower', compute: (log) => fraction(log, 'minutesAbove180') },
  { id: 'tar250', label: 'Time above 250 mg/dL', unit: 'fraction', kind: 'continuous', better: 'lower', compute: (log) => fraction(log, 'minutesAbove250') },
  { id: 'tbr70', label: 'Time below 70 mg/dL', unit: 'fraction', kind: 'continuous', better: 'lower', safety: true, compute: (log) => fraction(log, 'minutesBelow70') },
  { id: 'mean_glucose', label: 'Mean glucose', unit: 'mg/dL', kind: 'continuous', better: 'lower', compute: (log) => sumInfo(log, 'glucoseSum') / sumInfo(log, 'minutes') },
  {
    id: 'mean_excursion',
    label: 'Mean post-prandial excursion (3-h peak − pre-meal)',
    unit: 'mg/dL',
    kind: 'continuous',
    better: 'lower',
    compute: (log) => {
      const meals = log.steps.filter((s) => typeof s.info.meal === 'string');
      return meals.length === 0 ? 0 : meals.reduce((a, s) => a + (s.info.excursion as number), 0) / meals.length;
    },
  },
  {
    id: 'peak_over_180',
    label: 'Meals with a post-prandial peak > 180 mg/dL',
    unit: 'fraction',
    kind: 'continuous',
    better: 'lower',
    compute: (log) => {
      const meals = log.steps.filter((s) => typeof s.info.meal === 'string');
      return meals.length === 0 ? 0 : meals.filter((s) => (s.info.peak as number) > 180).length / meals.length;
    },
  },
  { id: 'substitutions', label: 'Infeasible choices replaced', unit: 'meals', kind: 'continuous', better: 'lower', compute: (log) => sumInfo(log, 'substituted') },
  { id: 'daily_gl', label: 'Glycaemic load per day', unit: 'g', kind: 'continuous', better: 'lower', compute: (log) => (sumInfo(log, 'gl') * MENU.length) / Math.max(1, log.steps.filter((s) => typeof s.info.meal === 'string').length) },
];

export const T2D_POPULATIONS = ['t2d', 'reference'];

function t2dCohortMember(request: CohortRequest, index: number): CohortMember {
  if (request.population === 'reference') {
    return { index, patientId: `dm2007-t2d#${index}`, envOptions: { patient: 'reference', patientId: `dm2007-t2d#${index}` }, covariates: { BW: 78 } };
  }
  if (request.population !== 't2d') throw new TwinlabError('NOT_FOUND', `twin ${T2D_TWIN_ID}: unknown population "${request.population}"; known: ${T2D_POPULATIONS.join(', ')}`);
  const person = generateT2DPerson(request.seed, index);
  return {
    index,
    patientId: person.id,
    envOptions: { cohortSeed: request.seed, patientIndex: index, patientId: person.id },
    covariates: { BW: person.params.BW, fastingGlucose: person.basal.Gb, fastingInsulin: person.basal.Ib, Vmx: person.params.Vmx, beta: person.params.beta },
  };
}

export const T2D_TRACKS: TwinTracks = {
  clock: { minutesPerStep: 480, startMinute: 0, timeField: 'info.minute', fieldUnit: 'minute', fieldIncludesStart: true },
  tracks: [
    {
      field: 'info.cgm',
      label: 'CGM glucose at the next meal',
      unit: 'mg/dL',
      kind: 'continuous',
      panel: 'glucose',
      band: { low: 70, high: 180, label: 'time in range', source: 'Battelino et al., Diabetes Care 42:1593 (2019)' },
    },
    { field: 'info.peak', label: 'post-prandial peak', unit: 'mg/dL', kind: 'event', panel: 'glucose' },
    { field: 'info.carbs', label: 'meal carbohydrate', unit: 'g', kind: 'dose', panel: 'meal' },
    { field: 'info.gi', label: 'meal GI', unit: '', kind: 'event', panel: 'GI' },
  ],
  glucoseProfile: 'info.cgm',
};

let registered = false;

/** Registers `glucose/t2d-nutrition-v1`, its agent form `glucose/t2d-nutrition-agents-v0` and the glucose-t2d twin (idempotent). */
export function registerGlucoseT2d(): void {
  if (registered) return;
  registered = true;
  register({
    id: T2D_ENV_ID,
    description: 'Type 2 diabetes precision nutrition (Dalla Man 2007 with insulin secretion): choose breakfast, lunch and dinner from a 6-meal menu under daily energy/nutrient constraints; reward time in range and low post-prandial excursions',
    entryPoint: (options) => new T2DNutritionEnv(options as T2DEnvOptions),
    maxEpisodeSteps: T2D_DEFAULT_DAYS * MENU.length,
    decisionInterval: 'each meal (3 a day)',
    optionNames: ['patient', 'cohortSeed', 'patientIndex', 'days', 'energyKcal', 'mealJitterMinutes', 'cgmNoiseSd', 'patientId', 'person'],
    reference: 'Dalla Man, Rizza & Cobelli, IEEE TBME 54:1740 (2007); Atkinson et al., Diabetes Care 31:2281 (2008)',
    optionDocs: {
      patient: "'reference' (Table 1 T2D subject) or 'generated' (default)",
      'cohortSeed, patientIndex': 'a fixed person of the generated cohort (default: a person drawn from each reset seed)',
      days: `episode length in days (default ${T2D_DEFAULT_DAYS}; set maxEpisodeSteps to 3 × days too)`,
      energyKcal: 'daily energy target, kcal (default 1500, ±15 %)',
      mealJitterMinutes: 'meal times vary by ± this (default 30)',
      cgmNoiseSd: 'CGM noise sd, mg/dL (default 0)',
      person: 'a person by value { id, params, basal } (a personal twin posterior draw; set by personal cohorts)',
    },
  });
  registerT2DNutritionAgents();
  registerTwin({
    id: T2D_TWIN_ID,
    title: 'Type 2 diabetes precision nutrition (Dalla Man 2007, meal choice)',
    envIds: [T2D_ENV_ID, T2D_AGENTS_ENV_ID],
    defaultEnvId: T2D_ENV_ID,
    endpoints: T2D_ENDPOINTS,
    primaryEndpoints: ['tir', 'mean_excursion', 'tbr70'],
    populations: T2D_POPULATIONS,
    cohortMember: t2dCohortMember,
    // units of Dalla Man, Rizza & Cobelli 2007 (IEEE TBME 54:1740) Table 1: BW kg, Gb mg/dL, Ib pmol/L,
    // Vmx mg/kg/min per pmol/L, β pmol/kg/min per mg/dL
    covariates: [
      { key: 'BW', label: 'Body weight', unit: 'kg' },
      { key: 'fastingGlucose', label: 'Fasting plasma glucose', unit: 'mg/dL' },
      { key: 'fastingInsulin', label: 'Fasting plasma insulin', unit: 'pmol/L' },
      { key: 'Vmx', label: 'Insulin-dependent glucose utilisation Vmx', unit: 'mg/kg/min per pmol/L' },
      { key: 'beta', label: 'β-cell responsivity β', unit: 'pmol/kg/min per mg/dL' },
    ],
    tracks: T2D_TRACKS,
  });
}
