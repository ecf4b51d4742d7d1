import type { EpisodeLog } from '../../engine/episode-log.js';
import { TwinlabError } from '../../engine/errors.js';
import { Rng } from '../../engine/random.js';
import { register } from '../../engine/registry.js';
import { type CohortMember, type CohortRequest, type EndpointDefinition, registerTwin, type TwinTracks } from '../../engine/twin.js';
import { OPC_AGENTS_ENV_ID } from './opc-agents.js';
import { OPC_ENV_ID, type OpcEnvOptions, OpcSequencingEnv } from './opc-env.js';
import { type OpcCourse, samplePatient } from './opc-model.js';

function finalCourse(log: EpisodeLog): OpcCourse | undefined {
  const last = log.steps[log.steps.length - 1];
  return last?.terminated ? (last.info.course as OpcCourse | undefined) : undefined;
}

export const OPC_ENDPOINTS: EndpointDefinition[] = [
  { id: 'survival', label: '5-year overall survival (SYNTHETIC SCM)', unit: 'fraction', kind: 'binary', better: 'higher', compute: (log) => finalCourse(log)?.os ?? 0 },
  { id: 'dysphagia', label: 'Late dysphagia / feeding-tube dependence (SYNTHETIC SCM)', unit: 'fraction', kind: 'binary', better: 'lower', safety: true, compute: (log) => finalCourse(log)?.dys ?? 0 },
  { id: 'utility', label: 'Utility OS − λ·dysphagia, λ = 0.3 unless set (SYNTHETIC SCM)', unit: 'utility', kind: 'continuous', better: 'higher', compute: (log) => log.totalReward },
  { id: 'dlt', label: 'Any dose-limiting toxicity, induction or concurrent (SYNTHETIC SCM)', unit: 'fraction', kind: 'binary', better: 'lower', safety: true, compute: (log) => ((finalCourse(log)?.dlt1 ?? 0) + (finalCourse(log)?.dlt2 ?? 0) > 0 ? 1 : 0) },
];

export const OPC_POPULATIONS = ['opc', 'hpv-positive', 'hpv-negative'] as const;

/**
 * Patient i: covariates and latent frailty from the SCM's covariate law on substream
 * `opc/<population>/patient/i` of the cohort seed ("hpv-±" populations by rejection on HPV status).
 */
export function opcCohortMember(request: CohortRequest, index: number): CohortMember {
  if (!(OPC_POPULATIONS as readonly string[]).includes(request.population)) {
    throw new TwinlabError('NOT_FOUND', `opc twin: unknown population "${request.population}"; known: ${OPC_POPULATIONS.join(', ')}`);
  }
  const rng = Rng.fromSeed(request.seed).fork(`opc/${request.population}/patient/${index}`);
  const want = request.population === 'hpv-positive' ? 1 : request.population === 'hpv-negative' ? 0 : -1;
  let p = samplePatient(rng);
  while (want >= 0 && p.hpv !== want) p = samplePatient(rng);
  return {
    index,
    patientId: `opc-${request.population}-${index}`,
    envOptions: { patient: p },
    covariates: { age: Math.round(p.age * 10) / 10, hpv: p.hpv, smoker: p.smoker, T: p.T, N: p.N, PS: p.PS },
  };
}

/** Episode tracks of the three decisions (no clock: a step is a treatment phase); outcomes are revealed as their phase happens. */
export const OPC_TRACKS: TwinTracks = {
  tracks: [
    { field: 'info.stage', label: 'next decision', unit: '', kind: 'categorical', panel: 'stage', categories: ['induction chemo', 'chemoradiation', 'neck dissection', 'done'] },
    { field: 'action', label: 'treatment given', unit: '', kind: 'categorical', panel: 'treatment', categories: ['no', 'yes'] },
    { field: 'info.course.r1', label: 'induction response', unit: '', kind: 'categorical', panel: 'induction response', categories: ['no', 'yes'] },
    { field: 'info.course.lrc', label: 'locoregional control', unit: '', kind: 'categorical', panel: 'locoregional control', categories: ['no', 'yes'] },
    { field: 'info.course.dlt2', label: 'dose-limiting toxicity (CRT)', unit: '', kind: 'categorical', panel: 'toxicity', categories: ['no', 'yes'] },
  ],
};

let done = false;

export function registerOpc(): void {
  if (done) return;
  done = true;
  register({
    id: OPC_ENV_ID,
    description:
      'SYNTHETIC structural causal model (not fitted to data) of oropharyngeal cancer treatment sequencing after Tardini et al. JMIR 2022: induction chemo → concurrent chemoradiation vs RT → neck dissection; hidden frailty; reward OS − λ·dysphagia',
    entryPoint: (options) => new OpcSequencingEnv(options as OpcEnvOptions),
    maxEpisodeSteps: 3,
    defaultOptions: { lambda: 0.3 },
    optionNames: ['lambda', 'patient'],
    optionDocs: { lambda: 'dysphagia weight λ in OS − λ·Dys (default 0.3)', patient: 'fixed virtual patient { age, hpv, smoker, T, N, PS, F } (cohort members)' },
    decisionInterval: '1 treatment phase',
    reference: 'SYNTHETIC SCM (docs/MODELS.md §5) after Tardini E et al., J Med Internet Res 2022;24(4):e29455',
  });
  registerTwin({
    id: 'opc',
    title: 'Oropharyngeal cancer treatment sequencing — SYNTHETIC SCM (not fitted to data)',
    envIds: [OPC_ENV_ID, OPC_AGENTS_ENV_ID],
    defaultEnvId: OPC_ENV_ID,
    endpoints: OPC_ENDPOINTS,
    primaryEndpoints: ['survival', 'dysphagia', 'utility'],
    populations: [...OPC_POPULATIONS],
    cohortMember: opcCohortMember,
    // the SCM's covariates (opc-model.ts): age in years, stages and status as categories, 0/1 flags
    covariates: [
      { key: 'age', label: 'Age', unit: 'years' },
      { key: 'hpv', label: 'HPV-positive', unit: '' },
      { key: 'smoker', label: 'Smoker', unit: '' },
      { key: 'T', label: 'T stage', unit: '' },
      { key: 'N', label: 'N stage', unit: '' },
      { key: 'PS', label: 'Performance status', unit: '' },
    ],
    tracks: OPC_TRACKS,
  });
}
