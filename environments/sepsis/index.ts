import { register } from '../../engine/registry.js';
import { SEPSIS_ENV_ID, SEPSIS_OPTION_DOCS, SepsisEnv, type SepsisEnvOptions } from './env.js';
import { PAPER } from './solve.js';
import { registerSepsisTwin } from './twin.js';

export { SepsisEnv, SEPSIS_ENV_ID } from './env.js';

let done = false;

/** Registers `sepsis/oberst-v1` and the sepsis twin (endpoints, cohorts). */
export function registerSepsis(): void {
  if (done) return;
  done = true;
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
  registerSepsisTwin();
}
