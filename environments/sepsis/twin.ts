import type { EpisodeLog } from '../../engine/episode-log.js';
import { TwinlabError } from '../../engine/errors.js';
import { Rng } from '../../engine/random.js';
import type { Env } from '../../engine/env.js';
import { isDiscrete } from '../../engine/spaces.js';
import {
  type BoundShield,
  type CohortMember,
  type CohortRequest,
  type EndpointDefinition,
  type ShieldDefinition,
  type TwinDefinition,
  type TwinTracks,
  registerTwin,
} from '../../engine/twin.js';
import { register } from '../../engine/registry.js';
import { SEPSIS_ENV_ID, SEPSIS_OPTION_DOCS, SepsisEnv, type SepsisEnvOptions, drawInitialState } from './env.js';
import { registerSepsisAgents, SEPSIS_AGENTS_ENV_ID } from './oberst-agents.js';
import { PAPER } from './solve.js';
import { LEVEL_NAMES, N_OBS, decodeFull } from './state.js';

/**
 * Clinical endpoints of the sepsis twin, computed from an episode log. Outcome is read from the final
 * reward (−1 death, +1 discharge — `MDP.calculateReward`); treatment-days from the action bits.
 */
function outcome(log: EpisodeLog): 'death' | 'discharge' | 'ongoing' {
  const last = log.steps[log.steps.length - 1];
  if (!last?.terminated) return 'ongoing';
  return last.reward < 0 ? 'death' : 'discharge';
}

function actionDays(log: EpisodeLog, bit: number): number {
  let n = 0;
  for (const s of log.steps) if (((s.action as number) & bit) !== 0) n++;
  return n;
}

export const SEPSIS_ENDPOINTS: EndpointDefinition[] = [
  { id: 'mortality', label: 'In-episode death (≥ 3 abnormal vitals)', unit: 'fraction', kind: 'binary', better: 'lower', safety: true, compute: (log) => (outcome(log) === 'death' ? 1 : 0) },
  { id: 'discharge', label: 'Discharged within the episode (all vitals normal, off treatment)', unit: 'fraction', kind: 'binary', better: 'higher', compute: (log) => (outcome(log) === 'discharge' ? 1 : 0) },
  {
    id: 'time-to-discharge',
    label: `Steps to discharge (death or no discharge counted as ${PAPER.horizon}, the paper's horizon)`,
    unit: 'steps',
    kind: 'continuous',
    better: 'lower',
    compute: (log) => (outcome(log) === 'discharge' ? log.length : PAPER.horizon),
  },
  {
    id: 'treatment-days',
    label: 'Steps with any treatment given',
    unit: 'steps',
    kind: 'continuous',
    better: 'lower',
    compute: (log) => log.steps.filter((s) => (s.action as number) !== 0).length,
  },
  { id: 'antibiotic-days', label: 'Steps on antibiotics', unit: 'steps', kind: 'continuous', better: 'lower', compute: (log) => actionDays(log, 4) },
  { id: 'ventilation-days', label: 'Steps on mechanical ventilation', unit: 'steps', kind: 'continuous', better: 'lower', compute: (log) => actionDays(log, 2) },
  { id: 'vasopressor-days', label: 'Steps on vasopressors', unit: 'steps', kind: 'continuous', better: 'lower', compute: (log) => actionDays(log, 1) },
];

export const SEPSIS_POPULATIONS = ['icu', 'diabetic', 'non-diabetic'] as const;

/**
 * Patient i of a cohort: an initial full state drawn from the paper's initial-state law (diabetes
 * prevalence 0.2 before the absorbing-state rejection) on substream `sepsis/<population>/patient/i`
 * of the cohort seed — so it depends only on (population, seed, i). "diabetic"/"non-diabetic"
 * condition the draw on diabetes (`random_cond_diab`).
 */
export function sepsisCohortMember(request: CohortRequest, index: number): CohortMember {
  const population = request.population;
  if (!(SEPSIS_POPULATIONS as readonly string[]).includes(population)) {
    throw new TwinlabError('NOT_FOUND', `sepsis twin: unknown population "${population}"; known: ${SEPSIS_POPULATIONS.join(', ')}`);
  }
  if (!Number.isInteger(index) || index < 0) throw new TwinlabError('INVALID_ARGUMENT', `sepsis cohort index must be an integer ≥ 0, got ${index}`);
  const rng = Rng.fromSeed(request.seed).fork(`sepsis/${population}/patient/${index}`);
  const diabetic = population === 'diabetic' ? 1 : population === 'non-diabetic' ? 0 : undefined;
  const full = drawInitialState(rng, PAPER.pDiabetes, diabetic);
  const s = decodeFull(full);
  return {
    index,
    patientId: `sepsis-${population}-${index}`,
    envOptions: { initialState: full },
    covariates: {
      diabetic: s.diabetic,
      hr: LEVEL_NAMES.hr[s.hr] as string,
      sysbp: LEVEL_NAMES.sysbp[s.sysbp] as string,
      o2: LEVEL_NAMES.o2[s.o2] as string,
      glucose: LEVEL_NAMES.glucose[s.glucose] as string,
      stateIndex: full % N_OBS,
    },
  };
}

/**
 * No vasopressor escalation while systolic BP is high: when the observation says sysbp=high and
 * vaso=off, actions with vasopressors are masked and replaced by the same action without them.
 * Needs the factored observation (the default); other encodings are not shielded.
 */
export const SEPSIS_NO_VASO_WHEN_HYPERTENSIVE: ShieldDefinition = {
  id: 'sepsis/no-vasopressor-escalation-when-bp-high',
  title: 'No vasopressor start while systolic BP is high',
  rationale:
    'Vasopressors are indicated to raise a low mean arterial pressure (initial target MAP 65 mmHg; Evans et al. 2021, Surviving Sepsis Campaign ' +
    'guidelines, Crit Care Med 49:e1063); starting one in a patient whose systolic pressure is already high has no indication and raises it further.',
  bind(env: Env): BoundShield | undefined {
    const space = env.actionSpace;
    const labels = env.observationSpace.labels ?? [];
    const high = labels.indexOf('sysbp=high');
    const vasoOff = labels.indexOf('vaso=off');
    if (!isDiscrete(space) || space.labels === undefined || high < 0 || vasoOff < 0) return undefined;
    const actionLabels = space.labels;
    const withVaso = actionLabels.map((l) => l.split('+').includes('vasopressors'));
    const without = actionLabels.map((l) => {
      const rest = l
        .split('+')
        .filter((p) => p !== 'vasopressors')
        .join('+');
      const i = actionLabels.indexOf(rest === '' ? 'no treatment' : rest);
      return i;
    });
    if (without.some((i, a) => withVaso[a] && i < 0)) return undefined;
    const start = space.start;
    return {
      mask(observation, _info, allowed) {
        const escalationBarred = observation[high] === 1 && observation[vasoOff] === 1;
        for (let a = 0; a < withVaso.length; a++) allowed[a] = escalationBarred && withVaso[a] ? 0 : 1;
        return allowed;
      },
      safest: (action) => start + (without[action - start] as number),
    };
  },
};

const cat = (variable: keyof typeof LEVEL_NAMES, label: string, panel: string) =>
  ({ field: `info.${variable}`, label, unit: '', kind: 'categorical', panel, categories: LEVEL_NAMES[variable] }) as const;

/**
 * Episode tracks: the simulator's states are discretised levels (Oberst & Sontag 2019), not
 * measurements, so every vital is categorical; treatments are on/off. No clock: its steps are abstract.
 */
export const SEPSIS_TRACKS: TwinTracks = {
  tracks: [
    cat('hr', 'heart rate', 'heart rate'),
    cat('sysbp', 'systolic BP', 'systolic BP'),
    cat('o2', 'O2 saturation', 'O2 saturation'),
    cat('glucose', 'glucose level', 'glucose level'),
    cat('abx', 'antibiotics', 'antibiotics'),
    cat('vaso', 'vasopressors', 'vasopressors'),
    cat('vent', 'ventilation', 'ventilation'),
    { field: 'info.numAbnormal', label: 'abnormal vitals', unit: 'count', kind: 'continuous', panel: 'abnormal vitals' },
  ],
};

export const SEPSIS_TWIN: TwinDefinition = {
  id: 'sepsis',
  title: 'Sepsis ICU patient — Oberst & Sontag (ICML 2019) discrete simulator with hidden diabetes',
  // v1 and the same twin as agents (oberst-agents.ts; option lab.glucoseEverySteps)
  envIds: [SEPSIS_ENV_ID, SEPSIS_AGENTS_ENV_ID],
  defaultEnvId: SEPSIS_ENV_ID,
  endpoints: SEPSIS_ENDPOINTS,
  primaryEndpoints: ['mortality', 'discharge', 'time-to-discharge', 'treatment-days'],
  populations: [...SEPSIS_POPULATIONS],
  cohortMember: sepsisCohortMember,
  shields: [SEPSIS_NO_VASO_WHEN_HYPERTENSIVE],
  tracks: SEPSIS_TRACKS,
};

let registered = false;

/** Registers `sepsis/oberst-v1`, the same twin as agents (`sepsis/oberst-agents-v0`) and the sepsis twin (endpoints, cohorts); idempotent. */
export function registerSepsis(): void {
  if (registered) return;
  registered = true;
  register({
    id: SEPSIS_ENV_ID,
    description:
      'Oberst & Sontag (ICML 2019) sepsis simulator exactly: 4 vitals × 3 treatments, hidden diabetes, 8 actions (antibiotics × ventilation × vasopressors), +1 discharge / −1 death; glucoseDefect option reproduces the paper (true) or the corrected rule',
    entryPoint: (options) => new SepsisEnv(options as SepsisEnvOptions),
    maxEpisodeSteps: PAPER.horizon,
    defaultOptions: { glucoseDefect: true, pDiabetes: PAPER.pDiabetes, observation: 'factored', view: 'observed' },
    optionDocs: SEPSIS_OPTION_DOCS,
    optionNames: ['glucoseDefect', 'pDiabetes', 'observation', 'view', 'initialState', 'diabetic'],
    decisionInterval: '1 step (abstract)',
    reference: 'Oberst M, Sontag D. Counterfactual off-policy evaluation with Gumbel-max structural causal models. ICML 2019; clinicalml/gumbel-max-scm',
  });
  registerSepsisAgents();
  registerTwin(SEPSIS_TWIN);
}

