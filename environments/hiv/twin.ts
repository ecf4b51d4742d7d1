import { type CohortSpec, samplePatient } from '../../engine/cohort.js';
import type { Info } from '../../engine/env.js';
import type { EpisodeLog } from '../../engine/episode-log.js';
import { TwinlabError } from '../../engine/errors.js';
import { register } from '../../engine/registry.js';
import { type CohortMember, type CohortRequest, type EndpointDefinition, registerTwin, type TwinTracks } from '../../engine/twin.js';
import { HIV_ENV_ID, HivEnv, type HivEnvOptions } from './env.js';
import { ADAMS_PARAMS, HIV_PARAM_NAMES } from './model.js';
import { HIV_AGENTS_ENV_ID, registerHivAgents } from './sti-agents.js';

export const HIV_TWIN_ID = 'hiv';
export const HIV_MAX_STEPS = 200;

function num(info: Info, key: string): number {
  const v = info[key];
  if (typeof v !== 'number') throw new TwinlabError('INVALID_ARGUMENT', `HIV endpoint: episode log info has no numeric "${key}"`);
  return v;
}

function lastInfo(log: EpisodeLog): Info {
  return log.steps.length > 0 ? (log.steps[log.steps.length - 1]?.info as Info) : log.resetInfo;
}

/** Immune control (a heuristic definition, documented in README): V < 1000 copies/mL and E > 1e4 cells/mL at the end. */
export function immuneControl(log: EpisodeLog): number {
  const last = lastInfo(log);
  return num(last, 'V') < 1000 && num(last, 'E') > 1e4 ? 1 : 0;
}

export const HIV_ENDPOINTS: EndpointDefinition[] = [
  {
    id: 'log10_viral_load_final',
    label: 'Viral load at end of episode (log10 copies/mL)',
    unit: 'log10 copies/mL',
    kind: 'continuous',
    better: 'lower',
    compute: (log) => num(lastInfo(log), 'log10V'),
  },
  {
    id: 'cd4_final',
    label: 'Uninfected CD4+ T cells (T1) at end of episode',
    unit: 'cells/mL',
    kind: 'continuous',
    better: 'higher',
    compute: (log) => num(lastInfo(log), 'T1'),
  },
  {
    id: 'drug_days',
    label: 'Drug-days (RTI days + PI days)',
    unit: 'day',
    kind: 'continuous',
    better: 'lower',
    safety: true,
    compute: (log) => num(lastInfo(log), 'rtiDays') + num(lastInfo(log), 'piDays'),
  },
  {
    id: 'mean_log10_viral_load',
    label: 'Mean viral load over the episode (log10 copies/mL)',
    unit: 'log10 copies/mL',
    kind: 'continuous',
    better: 'lower',
    compute: (log) => (log.steps.length === 0 ? num(log.resetInfo, 'log10V') : log.steps.reduce((s, r) => s + num(r.info, 'log10V'), 0) / log.steps.length),
  },
  {
    id: 'log10_effector_final',
    label: 'HIV-specific CTL (E) at end of episode (log10 cells/mL)',
    unit: 'log10 cells/mL',
    kind: 'continuous',
    better: 'higher',
    compute: (log) => Math.log10(Math.max(1e-3, num(lastInfo(log), 'E'))),
  },
  {
    id: 'immune_control',
    label: 'Immune control at end (V < 1000 and E > 1e4)',
    unit: '',
    kind: 'binary',
    better: 'higher',
    compute: immuneControl,
  },
];

/**
 * Inter-patient variability of the gymnasium `HIVPatient` env's "domain randomisation" **[code]**:
 * k1 ~ U(5e−7, 8e−7), k2 ~ U(1e−5, 1e−4), f ~ U(0.29, 0.34). Drawn as covariates on patient i's own
 * stream (engine/cohort.ts) and passed through with zero log-scale variance.
 */
export const HIV_COHORT: CohortSpec = {
  parameters: ['k1', 'k2', 'f'],
  thetaPop: { k1: (c) => c.k1Draw as number, k2: (c) => c.k2Draw as number, f: (c) => c.fDraw as number },
  omega: [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ],
  covariates: {
    k1Draw: (rng) => rng.uniform(5e-7, 8e-7),
    k2Draw: (rng) => rng.uniform(1e-5, 1e-4),
    fDraw: (rng) => rng.uniform(0.29, 0.34),
  },
};

export const HIV_POPULATIONS = ['reference', 'randomized'] as const;

function hivCohortMember(request: CohortRequest, index: number): CohortMember {
  if (request.population === 'reference') {
    return { index, patientId: `adams-2004#${index}`, envOptions: { patientId: 'adams-2004' }, covariates: { k1: ADAMS_PARAMS.k1, k2: ADAMS_PARAMS.k2, f: ADAMS_PARAMS.f } };
  }
  if (request.population !== 'randomized') {
    throw new TwinlabError('NOT_FOUND', `twin ${HIV_TWIN_ID}: unknown population "${request.population}"; known: ${HIV_POPULATIONS.join(', ')}`);
  }
  const p = samplePatient(HIV_COHORT, `${request.seed}/${HIV_TWIN_ID}`, index).params as { k1: number; k2: number; f: number };
  const patientId = `randomized#${index}`;
  return { index, patientId, envOptions: { patientId, k1: p.k1, k2: p.k2, f: p.f }, covariates: { k1: p.k1, k2: p.k2, f: p.f } };
}

/** Episode tracks: viral load, CD4+ T cells, CTL (observation, log10) and the drug combination given each 5-day step. */
export const HIV_TRACKS: TwinTracks = {
  clock: { minutesPerStep: 5 * 1440, startMinute: 0, timeField: 'info.day', fieldUnit: 'day' },
  tracks: [
    { field: 'info.log10V', label: 'viral load', unit: 'log10 copies/mL', kind: 'continuous', panel: 'viral load' },
    { field: 'info.T1', label: 'uninfected CD4+ T cells (T1)', unit: 'cells/mL', kind: 'continuous', panel: 'CD4+ T cells' },
    { field: 'obs.log10 E', label: 'HIV-specific CTL (E)', unit: 'log10 cells/mL', kind: 'continuous', panel: 'immune effectors' },
    { field: 'action', label: 'drugs', unit: '', kind: 'categorical', panel: 'treatment', categories: ['none', 'RTI', 'PI', 'RTI+PI'] },
  ],
};

let registered = false;

/** Registers `hiv/sti-v1`, the same twin as agents (`hiv/sti-agents-v0`) and the HIV twin (idempotent). */
export function registerHiv(): void {
  if (registered) return;
  registered = true;
  register({
    id: HIV_ENV_ID,
    description: 'HIV structured treatment interruption (Adams et al. 2004 model; Ernst et al. 2006 RL formulation): RTI/PI on/off every 5 days for 1000 days',
    entryPoint: (options) => new HivEnv(options as HivEnvOptions),
    maxEpisodeSteps: HIV_MAX_STEPS,
    decisionInterval: '5 days',
    optionNames: ['piWeight', 'rewardScale', 'initial', 'inoculum', 'patientId', ...HIV_PARAM_NAMES],
    reference: 'Adams et al., Math Biosci Eng 1(2) (2004) 223–241; Ernst et al., IEEE CDC 2006',
    optionDocs: {
      piWeight: 'reward weight R2 on ε2² (default 2000 as RLPy; HIVPatient uses 20000)',
      rewardScale: 'multiplies the reward (default 1)',
      initial: '"unhealthy" (default), "healthy" or "uninfected" steady state',
      inoculum: 'virions/mL added when initial = "uninfected" (default 1)',
      'lambda1 … deltaE': 'override a model parameter (e.g. k1, k2, f)',
    },
  });
  registerHivAgents();
  registerTwin({
    id: HIV_TWIN_ID,
    title: 'HIV treatment interruption (Adams et al. 2004 / Ernst et al. 2006)',
    // v1 and the same twin as agents (sti-agents.ts; option lab.everySteps)
    envIds: [HIV_ENV_ID, HIV_AGENTS_ENV_ID],
    defaultEnvId: HIV_ENV_ID,
    endpoints: HIV_ENDPOINTS,
    primaryEndpoints: ['log10_viral_load_final', 'cd4_final', 'drug_days'],
    populations: [...HIV_POPULATIONS],
    cohortMember: hivCohortMember,
    // units of Adams et al. 2004 as environments/hiv/model.ts ADAMS_PARAMS states them
    covariates: [
      { key: 'k1', label: 'T1 infection rate k1', unit: 'mL/(virion·day)' },
      { key: 'k2', label: 'T2 infection rate k2', unit: 'mL/(virion·day)' },
      { key: 'f', label: 'Relative RTI efficacy in macrophages f', unit: '' },
    ],
    tracks: HIV_TRACKS,
  });
}
