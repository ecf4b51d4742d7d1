import { type CohortSpec, samplePatient } from '../../engine/cohort.js';
import type { Info } from '../../engine/env.js';
import type { EpisodeLog } from '../../engine/episode-log.js';
import { TwinlabError } from '../../engine/errors.js';
import { register } from '../../engine/registry.js';
import { type CohortMember, type CohortRequest, type CostDefinition, type EndpointDefinition, registerTwin, type TwinTracks } from '../../engine/twin.js';
import { CHEMO_AGENTS_ENV_ID } from './chemo-agents.js';
import { ChemoEnv, type ChemoEnvOptions, CHEMO_CLEARANCE_THRESHOLD, CHEMO_ENV_ID, CHEMO_MAX_STEPS, CHEMO_STEP_DAYS } from './chemo-env.js';
import { CHEMO_PARAM_NAMES, DTR_BENCH_INITIAL, PUBLISHED_CHEMO_PARAMS } from './chemo-model.js';

export const CHEMO_TWIN_ID = 'chemo';
export { CHEMO_MAX_STEPS };
export const CHEMO_HORIZON_DAYS = CHEMO_MAX_STEPS * CHEMO_STEP_DAYS;

// ---- endpoints ---------------------------------------------------------------------------------

function num(info: Info, key: string): number {
  const v = info[key];
  if (typeof v !== 'number') throw new TwinlabError('INVALID_ARGUMENT', `chemo endpoint: episode log info has no numeric "${key}"`);
  return v;
}

function lastInfo(log: EpisodeLog): Info {
  return log.steps.length > 0 ? (log.steps[log.steps.length - 1]?.info as Info) : log.resetInfo;
}

function initialTumour(log: EpisodeLog): number {
  const initial = log.resetInfo.initial as { T?: number } | undefined;
  return typeof initial?.T === 'number' ? initial.T : num(log.resetInfo, 'T');
}

function died(log: EpisodeLog): boolean {
  return lastInfo(log).dead === true;
}

/** First day with T < 1e−3, or the 150-day horizon when the tumour is never cleared (censored). */
export function timeToClearance(log: EpisodeLog): number {
  for (const s of log.steps) if (num(s.info, 'T') < CHEMO_CLEARANCE_THRESHOLD) return num(s.info, 'day');
  return CHEMO_HORIZON_DAYS;
}

/**
 * Time to durable clearance (a composite; death and failure ranked worst): the first day with T < 1e−3
 * if the patient is alive and tumour-free (T < 1e−3) at the end of the episode, otherwise the 150-day
 * horizon. Unlike `time_to_clearance` it does not reward a schedule that clears the tumour and then kills
 * the patient with toxicity (possible with `toxicity: 'cumulative'`), nor a clearance followed by regrowth.
 */
export function timeToDurableClearance(log: EpisodeLog): number {
  const last = lastInfo(log);
  if (died(log) || !(num(last, 'T') < CHEMO_CLEARANCE_THRESHOLD)) return CHEMO_HORIZON_DAYS;
  return timeToClearance(log);
}

export const RECIST = { CR: 0, PR: 1, SD: 2, PD: 3 } as const;

/**
 * RECIST 1.1-style response at the end of the episode — an ADAPTATION: RECIST measures the sum of lesion
 * diameters, the model gives a tumour burden T (a cell population ∝ volume), so the diameter ratio is
 * taken as (T_end/T0)^(1/3). CR: T_end < 1e−3 (the clearance threshold); PR: diameter ratio ≤ 0.7 (≥ 30 %
 * shrinkage, i.e. burden ratio ≤ 0.343); PD: diameter ratio ≥ 1.2 (burden ratio ≥ 1.728) or death;
 * SD otherwise. Codes CR = 0, PR = 1, SD = 2, PD = 3.
 */
export function recistCategory(log: EpisodeLog): number {
  if (died(log)) return RECIST.PD;
  const tEnd = num(lastInfo(log), 'T');
  if (tEnd < CHEMO_CLEARANCE_THRESHOLD) return RECIST.CR;
  const diameterRatio = Math.cbrt(tEnd / initialTumour(log));
  if (diameterRatio <= 0.7) return RECIST.PR;
  if (diameterRatio >= 1.2) return RECIST.PD;
  return RECIST.SD;
}

export const CHEMO_ENDPOINTS: EndpointDefinition[] = [
  {
    id: 'time_to_clearance',
    label: 'Time to tumour clearance (T < 1e-3; censored at 150 days)',
    unit: 'day',
    kind: 'continuous',
    better: 'lower',
    compute: timeToClearance,
  },
  {
    id: 'time_to_durable_clearance',
    label: 'Time to clearance if cleared and alive at the end; death or no clearance = 150 days',
    unit: 'day',
    kind: 'continuous',
    better: 'lower',
    compute: timeToDurableClearance,
  },
  {
    id: 'death',
    label: 'Death (normal cells below 0.7·N0)',
    unit: '',
    kind: 'binary',
    better: 'lower',
    safety: true,
    compute: (log) => (died(log) ? 1 : 0),
  },
  {
    id: 'normal_nadir',
    label: 'Nadir of normal cells relative to N0',
    unit: 'N/N0',
    kind: 'continuous',
    better: 'higher',
    safety: true,
    compute: (log) => num(lastInfo(log), 'nadirRatio'),
  },
  {
    id: 'tumour_reduction',
    label: 'Tumour reduction at end of episode, 1 − T_end/T0',
    unit: 'fraction',
    kind: 'continuous',
    better: 'higher',
    compute: (log) => 1 - num(lastInfo(log), 'T') / initialTumour(log),
  },
  {
    id: 'cleared',
    label: 'Tumour cleared (T < 1e-3) and alive at end of episode',
    unit: '',
    kind: 'binary',
    better: 'higher',
    compute: (log) => (!died(log) && num(lastInfo(log), 'T') < CHEMO_CLEARANCE_THRESHOLD ? 1 : 0),
  },
  {
    id: 'recist',
    label: 'RECIST-style response (0 CR, 1 PR, 2 SD, 3 PD; adapted from burden, see README)',
    unit: 'category',
    kind: 'continuous',
    better: 'lower',
    compute: recistCategory,
  },
  {
    id: 'objective_response',
    label: 'Objective response (RECIST-style CR or PR)',
    unit: '',
    kind: 'binary',
    better: 'higher',
    compute: (log) => (recistCategory(log) <= RECIST.PR ? 1 : 0),
  },
  {
    id: 'cumulative_dose',
    label: 'Cumulative dose Σ v·Δt',
    unit: 'dose·day',
    kind: 'continuous',
    better: 'lower',
    compute: (log) => num(lastInfo(log), 'cumulativeDose'),
  },
];

// ---- virtual cohort ----------------------------------------------------------------------------

const cv2omega = (cv: number): number => Math.log(1 + cv * cv);

/**
 * ILLUSTRATIVE inter-individual variability (not fitted to any data): log-normal on tumour growth r1
 * (CV 15 %), immune kill c2 (CV 20 %), drug kill of tumour a2 (CV 20 %) and initial tumour burden T0
 * (CV 40 %), Ω diagonal with ω² = ln(1 + CV²); T0 bounded to [0.02, 0.6]. Typical values are the
 * published parameters and the DTR-Bench start.
 */
export const CHEMO_COHORT: CohortSpec = {
  parameters: ['r1', 'c2', 'a2', 'T0'],
  thetaPop: { r1: PUBLISHED_CHEMO_PARAMS.r1, c2: PUBLISHED_CHEMO_PARAMS.c2, a2: PUBLISHED_CHEMO_PARAMS.a2, T0: DTR_BENCH_INITIAL.T },
  omega: [
    [cv2omega(0.15), 0, 0, 0],
    [0, cv2omega(0.2), 0, 0],
    [0, 0, cv2omega(0.2), 0],
    [0, 0, 0, cv2omega(0.4)],
  ],
  bounds: { T0: [0.02, 0.6] },
};

export const CHEMO_POPULATIONS = ['reference', 'virtual', 'reference-toxic', 'virtual-toxic'] as const;

function chemoCohortMember(request: CohortRequest, index: number): CohortMember {
  const population = request.population;
  if (!(CHEMO_POPULATIONS as readonly string[]).includes(population)) {
    throw new TwinlabError('NOT_FOUND', `twin ${CHEMO_TWIN_ID}: unknown population "${population}"; known: ${CHEMO_POPULATIONS.join(', ')}`);
  }
  const toxic = population.endsWith('-toxic');
  const base: Record<string, unknown> = toxic ? { toxicity: 'cumulative' } : {};
  if (population.startsWith('reference')) {
    return { index, patientId: `dtr-bench-default#${index}`, envOptions: { ...base, patientId: 'dtr-bench-default' }, covariates: { T0: DTR_BENCH_INITIAL.T } };
  }
  const p = samplePatient(CHEMO_COHORT, `${request.seed}/${CHEMO_TWIN_ID}`, index);
  const params = p.params as { r1: number; c2: number; a2: number; T0: number };
  const patientId = `${population}#${index}`;
  return {
    index,
    patientId,
    envOptions: { ...base, patientId, r1: params.r1, c2: params.c2, a2: params.a2, T0: params.T0 },
    covariates: { r1: params.r1, c2: params.c2, a2: params.a2, T0: params.T0 },
  };
}

/** Episode tracks (populations normalised and dimensionless in de Pillis & Radunskaya 2003; v is the dose rate in [0, 1]). */
export const CHEMO_TRACKS: TwinTracks = {
  clock: { minutesPerStep: CHEMO_STEP_DAYS * 1440, startMinute: 0, timeField: 'info.day', fieldUnit: 'day' },
  tracks: [
    { field: 'info.dose', label: 'dose rate v', unit: 'fraction of maximum', kind: 'dose', panel: 'dose' },
    { field: 'info.B', label: 'drug concentration B', unit: 'normalised', kind: 'continuous', panel: 'drug' },
    { field: 'info.T', label: 'tumour cells T', unit: 'normalised', kind: 'continuous', panel: 'tumour' },
    { field: 'info.N', label: 'normal cells N', unit: 'normalised', kind: 'continuous', panel: 'normal cells' },
    { field: 'info.I', label: 'immune cells I', unit: 'normalised', kind: 'continuous', panel: 'immune cells' },
  ],
};

let registered = false;

/** Registers `oncology/chemo-v1` and the chemo twin (idempotent). */
export function registerChemo(): void {
  if (registered) return;
  registered = true;
  register({
    id: CHEMO_ENV_ID,
    description: 'Tumour–immune–normal-cell chemotherapy (de Pillis & Radunskaya 2003; DTR-Bench AhnChemoEnv), 6-h discrete dose decisions over 150 days',
    entryPoint: (options) => new ChemoEnv(options as ChemoEnvOptions),
    maxEpisodeSteps: CHEMO_MAX_STEPS,
    decisionInterval: '6 h',
    optionNames: ['doseLevels', 'observeNormal', 'observeLogTumour', 'toxicity', 'deathPenalty', 'N0', 'T0', 'I0', 'patientId', ...CHEMO_PARAM_NAMES],
    reference: 'de Pillis & Radunskaya, Math Comput Model 37 (2003) 1221–1244; Luo et al., DTR-Bench, arXiv 2405.18610',
    optionDocs: {
      doseLevels: 'number of evenly spaced dose levels v ∈ [0, 1] (default 5; 11 as the DTR-Bench README)',
      observeNormal: 'true: observe (N, T, I, B); default (T, I, B) as DTR-Bench',
      observeLogTumour: 'true: append log10(max(T, 1e−12)) to the observation',
      toxicity: '"published" (default, de Pillis 2003) or "cumulative" (synthetic cumulative-exposure toxicity)',
      deathPenalty: 'reward when N < 0.7·N0 (default −100, DTR-Bench)',
      'N0, T0, I0': 'initial normal, tumour, immune populations (default 0.9, 0.2, 0.005)',
      'a1 … rho, toxEmax, toxX50, toxHill, toxDecay': 'override a model parameter',
    },
  });
  registerTwin({
    id: CHEMO_TWIN_ID,
    title: 'Chemotherapy dosing: tumour–immune–normal-cell model (de Pillis & Radunskaya 2003)',
    envIds: [CHEMO_ENV_ID, CHEMO_AGENTS_ENV_ID],
    defaultEnvId: CHEMO_ENV_ID,
    endpoints: CHEMO_ENDPOINTS,
    primaryEndpoints: ['time_to_clearance', 'death', 'normal_nadir'],
    populations: [...CHEMO_POPULATIONS],
    cohortMember: chemoCohortMember,
    // rates per day as chemo-model.ts ChemoParams documents them (c2·I·T in dT/dt with the immune
    // cells I normalised, so c2 is per day too); T0 is a normalised cell count, without a unit
    covariates: [
      { key: 'r1', label: 'Tumour growth rate r1', unit: '/day' },
      { key: 'a2', label: 'Drug kill of tumour cells a2', unit: '/day' },
      { key: 'c2', label: 'Tumour kill by immune cells c2', unit: '/day' },
      { key: 'T0', label: 'Initial tumour burden T0 (normalised)', unit: '' },
    ],
    costs: [CHEMO_DRUG_COST],
    tracks: CHEMO_TRACKS,
  });
}

/**
 * Cost of a step = the drug given in it, v·Δt (dose rate × 0.25 day), so an episode's summed cost is
 * its `cumulative_dose` endpoint — the total-drug toxicity measure this twin reports beside the
 * normal-cell nadir. No clinical threshold is built in: the budget (`constraint.budget` with
 * `episodeCost: 'sum'`) is the trial designer's. Reads info.dose only; trajectories are unchanged.
 */
export const CHEMO_DRUG_COST: CostDefinition = {
  id: 'chemo/drug',
  title: 'Drug given (dose rate × days)',
  unit: 'v·day per step (v ∈ [0, 1] the normalised dose rate, 0.25 day per step)',
  rationale:
    'The total drug given is the toxicity endpoint cumulative_dose of this twin (de Pillis & Radunskaya 2003 dose rate v ∈ [0, 1]); a budget on it asks for a policy that clears the tumour with less drug.',
  bind(env) {
    if (env.id !== CHEMO_ENV_ID && env.id !== CHEMO_AGENTS_ENV_ID) return undefined;
    return {
      cost(info) {
        const dose = info.dose;
        if (typeof dose !== 'number') throw new TwinlabError('INVALID_STATE', `cost chemo/drug: step info has no numeric dose (got ${typeof dose})`);
        return dose * CHEMO_STEP_DAYS;
      },
    };
  },
};
