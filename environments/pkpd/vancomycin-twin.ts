import { type CohortSpec, samplePatient } from '../../engine/cohort.js';
import type { Env, Info } from '../../engine/env.js';
import type { EpisodeLog } from '../../engine/episode-log.js';
import { TwinlabError } from '../../engine/errors.js';
import { register } from '../../engine/registry.js';
import { isDiscrete } from '../../engine/spaces.js';
import { type BoundShield, type CohortMember, type CohortRequest, type EndpointDefinition, registerTwin, type ShieldDefinition, type TwinTracks } from '../../engine/twin.js';
import { VANCO_AGENTS_ENV_ID } from './vancomycin-agents.js';
import { VANCO_ENV_ID, VANCO_STEP_HOURS, VancomycinEnv, type VancoEnvOptions } from './vancomycin-env.js';
import { AUC_TARGET, cockcroftGault, GOTI_OMEGA2, typicalClearance, typicalV1, GOTI } from './vancomycin-model.js';

export const VANCO_TWIN_ID = 'vancomycin';
export const VANCO_DAYS = 7;
export const VANCO_MAX_STEPS = (VANCO_DAYS * 24) / VANCO_STEP_HOURS;
const STEPS_PER_DAY = 24 / VANCO_STEP_HOURS;

function num(info: Info, key: string): number {
  const v = info[key];
  if (typeof v !== 'number') throw new TwinlabError('INVALID_ARGUMENT', `vancomycin endpoint: episode log info has no numeric "${key}"`);
  return v;
}

/** AUC/MIC over each complete calendar day of the episode (day d = steps 2d and 2d+1). */
export function dailyAucOverMic(log: EpisodeLog): number[] {
  const days: number[] = [];
  const steps = log.steps;
  for (let d = 0; (d + 1) * STEPS_PER_DAY <= steps.length; d++) {
    let auc = 0;
    for (let k = d * STEPS_PER_DAY; k < (d + 1) * STEPS_PER_DAY; k++) auc += num(steps[k]?.info as Info, 'aucStep');
    days.push(auc / num(steps[d * STEPS_PER_DAY]?.info as Info, 'mic'));
  }
  return days;
}

/** AUC24 (mg·h/L, whatever the MIC) above which the risk of acute kidney injury rises: Rybak et al., Am J Health-Syst Pharm 2020;77:835–864. */
const AKI_AUC24 = 600;

const inTarget = (x: number): boolean => x >= AUC_TARGET.low && x <= AUC_TARGET.high;

function dayValue(log: EpisodeLog, day: 'day2' | 'final'): number {
  const days = dailyAucOverMic(log);
  if (days.length === 0) return Number.NaN;
  return day === 'day2' ? (days[Math.min(1, days.length - 1)] as number) : (days[days.length - 1] as number);
}

export const VANCO_ENDPOINTS: EndpointDefinition[] = [
  {
    id: 'target_attained_final',
    label: 'AUC24/MIC in 400–600 on the last day',
    unit: '',
    kind: 'binary',
    better: 'higher',
    compute: (log) => (inTarget(dayValue(log, 'final')) ? 1 : 0),
  },
  {
    id: 'aki',
    label: 'Acute kidney injury (synthetic exposure-driven model)',
    unit: '',
    kind: 'binary',
    better: 'lower',
    safety: true,
    compute: (log) => (log.steps.some((s) => s.info.aki === true) ? 1 : 0),
  },
  {
    id: 'target_attained_day2',
    label: 'AUC24/MIC in 400–600 on day 2 (24–48 h)',
    unit: '',
    kind: 'binary',
    better: 'higher',
    compute: (log) => (inTarget(dayValue(log, 'day2')) ? 1 : 0),
  },
  {
    id: 'days_in_target',
    label: 'Fraction of days from day 2 on with AUC24/MIC in 400–600',
    unit: 'fraction',
    kind: 'continuous',
    better: 'higher',
    compute: (log) => {
      const days = dailyAucOverMic(log).slice(1);
      return days.length === 0 ? 0 : days.filter(inTarget).length / days.length;
    },
  },
  {
    id: 'auc24_day2',
    label: 'AUC24/MIC on day 2',
    unit: 'mg·h/L',
    kind: 'continuous',
    better: 'none',
    compute: (log) => dayValue(log, 'day2'),
  },
  {
    id: 'auc24_final',
    label: 'AUC24/MIC on the last day',
    unit: 'mg·h/L',
    kind: 'continuous',
    better: 'none',
    compute: (log) => dayValue(log, 'final'),
  },
  {
    id: 'auc24_above_600_final',
    label: 'AUC24 above 600 mg·h/L on the last day (where the risk of kidney injury rises; Rybak 2020)',
    unit: '',
    kind: 'binary',
    better: 'lower',
    safety: true,
    compute: (log) => {
      const days = dailyAucOverMic(log);
      if (days.length === 0) return Number.NaN;
      return (days[days.length - 1] as number) * num(log.steps[0]?.info as Info, 'mic') > AKI_AUC24 ? 1 : 0;
    },
  },
  {
    id: 'trough_final',
    label: 'True trough at the end of the episode',
    unit: 'mg/L',
    kind: 'continuous',
    better: 'none',
    compute: (log) => (log.steps.length === 0 ? Number.NaN : num(log.steps[log.steps.length - 1]?.info as Info, 'trough')),
  },
  {
    id: 'max_trough',
    label: 'Highest true trough concentration',
    unit: 'mg/L',
    kind: 'continuous',
    better: 'lower',
    safety: true,
    compute: (log) => log.steps.reduce((m, s) => Math.max(m, num(s.info, 'trough')), 0),
  },
  {
    id: 'total_dose',
    label: 'Total vancomycin given',
    unit: 'g',
    kind: 'continuous',
    better: 'none',
    compute: (log) => log.steps.reduce((s, r) => s + num(r.info, 'dose'), 0) / 1000,
  },
];

// ---- virtual cohort ----------------------------------------------------------------------------

/** Renal-function strata by CrCL (mL/min). */
export const RENAL_STRATA = Object.freeze([
  { id: 'crcl-lt30', label: 'CrCL < 30', lo: 0, hi: 30 },
  { id: 'crcl-30-59', label: 'CrCL 30–59', lo: 30, hi: 60 },
  { id: 'crcl-60-89', label: 'CrCL 60–89', lo: 60, hi: 90 },
  { id: 'crcl-ge90', label: 'CrCL ≥ 90', lo: 90, hi: Number.POSITIVE_INFINITY },
]);

export function renalStratum(crcl: number): string {
  return (RENAL_STRATA.find((s) => crcl >= s.lo && crcl < s.hi) ?? RENAL_STRATA[0])?.id as string;
}

function crclOf(c: Record<string, number>): number {
  return cockcroftGault(c.age as number, c.weight as number, c.female === 1, c.scr as number);
}

/**
 * Hospitalised adults, not on dialysis. Covariate distributions are SYNTHETIC and illustrative (not
 * fitted to a demographic table): sex female with probability 0.45; age ~ N(60, 16²) truncated to [18, 95];
 * weight log-normal, median 78 kg, sd(log) 0.22, in [40, 180]; serum creatinine log-normal, median
 * 1.0 mg/dL, sd(log) 0.5, in [0.4, 6]. CrCL by Cockcroft–Gault with the Goti rules; patients with
 * CrCL < 15 mL/min are excluded (they would be dialysis candidates). PK: Goti 2018 with ω² = ln(1 + CV²).
 */
export function vancoCohortSpec(stratum?: string): CohortSpec {
  const range = stratum === undefined ? undefined : RENAL_STRATA.find((s) => s.id === stratum);
  return {
    parameters: ['CL', 'V1', 'V2'],
    thetaPop: {
      CL: (c) => typicalClearance(crclOf(c), false),
      V1: (c) => typicalV1(c.weight as number, false),
      V2: GOTI.v2,
    },
    omega: [
      [GOTI_OMEGA2.cl, 0, 0],
      [0, GOTI_OMEGA2.v1, 0],
      [0, 0, GOTI_OMEGA2.v2],
    ],
    covariates: {
      female: { type: 'categorical', values: [0, 1], weights: [0.55, 0.45] },
      age: (rng) => {
        // truncated normal: resample inside [18, 95] so covariate models never see an implausible age
        for (;;) {
          const a = rng.normal(60, 16);
          if (a >= 18 && a <= 95) return a;
        }
      },
      weight: (rng) => 78 * Math.exp(0.22 * rng.normal()),
      scr: (rng) => Math.exp(0.5 * rng.normal()),
    },
    bounds: { weight: [40, 180], scr: [0.4, 6] },
    accept: (p) => {
      const crcl = crclOf(p.covariates);
      if (crcl < 15) return 'crcl<15';
      if (range && !(crcl >= range.lo && crcl < range.hi)) return 'stratum';
      return true;
    },
    maxAttempts: 10_000,
  };
}

const COHORTS: Record<string, CohortSpec> = Object.fromEntries([
  ['adult', vancoCohortSpec()],
  ...RENAL_STRATA.map((s) => [s.id, vancoCohortSpec(s.id)] as const),
]);

export const VANCO_POPULATIONS = ['adult', ...RENAL_STRATA.map((s) => s.id), 'typical'];

function vancoCohortMember(request: CohortRequest, index: number): CohortMember {
  if (request.population === 'typical') {
    return { index, patientId: `typical#${index}`, envOptions: { patientId: 'typical', weight: 70, crcl: 90 }, covariates: { weight: 70, crcl: 90, renalStratum: renalStratum(90) } };
  }
  const spec = COHORTS[request.population];
  if (!spec) throw new TwinlabError('NOT_FOUND', `twin ${VANCO_TWIN_ID}: unknown population "${request.population}"; known: ${VANCO_POPULATIONS.join(', ')}`);
  // The same seed stream for every population: patient i of a stratum is the i-th accepted draw of that stratum.
  const p = samplePatient(spec, `${request.seed}/${VANCO_TWIN_ID}/${request.population}`, index);
  const c = p.covariates;
  const crcl = crclOf(c);
  const patientId = `${request.population}#${index}`;
  return {
    index,
    patientId,
    envOptions: { patientId, weight: c.weight, crcl, etaCl: p.eta[0], etaV1: p.eta[1], etaV2: p.eta[2] },
    covariates: { age: c.age as number, sex: c.female === 1 ? 'F' : 'M', weight: c.weight as number, scr: c.scr as number, crcl, renalStratum: renalStratum(crcl), CL: p.params.CL as number, V1: p.params.V1 as number },
  };
}

/**
 * Episode tracks: dose given each 12 h, central concentration and the sampled levels, and AUC24 with
 * the 400–600 mg·h/L band (AUC/MIC 400–600 at MIC 1 mg/L: Rybak et al., Am J Health-Syst Pharm
 * 2020;77:835–864), creatinine clearance and the AKI flag.
 */
export const VANCO_TRACKS: TwinTracks = {
  clock: { minutesPerStep: VANCO_STEP_HOURS * 60, startMinute: 0, timeField: 'info.hour', fieldUnit: 'hour' },
  tracks: [
    { field: 'info.dose', label: 'dose', unit: 'mg', kind: 'dose', panel: 'dose' },
    { field: 'info.concentration', label: 'central concentration', unit: 'mg/L', kind: 'continuous', panel: 'concentration' },
    { field: 'info.trough', label: 'trough', unit: 'mg/L', kind: 'event', panel: 'concentration' },
    { field: 'info.peak', label: 'peak', unit: 'mg/L', kind: 'event', panel: 'concentration' },
    {
      field: 'info.auc24',
      label: 'AUC24',
      unit: 'mg·h/L',
      kind: 'continuous',
      panel: 'exposure',
      band: { low: AUC_TARGET.low, high: AUC_TARGET.high, label: 'target 400–600 (MIC 1 mg/L)', source: 'Rybak et al., Am J Health-Syst Pharm 2020;77:835–864 (vancomycin consensus guideline)' },
    },
    { field: 'info.crcl', label: 'CrCL', unit: 'mL/min', kind: 'continuous', panel: 'renal function' },
    { field: 'info.aki', label: 'acute kidney injury', unit: '', kind: 'categorical', panel: 'AKI', categories: ['no', 'yes'] },
  ],
};

let registered = false;

/** Registers `pkpd/vancomycin-v1` and the vancomycin twin (idempotent). */
export function registerVancomycin(): void {
  if (registered) return;
  registered = true;
  register({
    id: VANCO_ENV_ID,
    description: 'Vancomycin dosing every 12 h (Goti 2018 two-compartment PK, AUC24/MIC 400–600 target, synthetic exposure-driven AKI), 7 days',
    entryPoint: (options) => new VancomycinEnv(options as VancoEnvOptions),
    maxEpisodeSteps: VANCO_MAX_STEPS,
    decisionInterval: '12 h',
    optionNames: ['weight', 'crcl', 'dialysis', 'etaCl', 'etaV1', 'etaV2', 'mic', 'days', 'doseLevels', 'sampleEvery', 'assayError', 'aki', 'akiPenalty', 'patientId', 'patients'],
    reference: 'Goti et al., Ther Drug Monit 2018;40(2):212–221; Rybak et al., Am J Health-Syst Pharm 2020;77:835–864',
    optionDocs: {
      weight: 'body weight, kg (default 70)',
      crcl: 'creatinine clearance, mL/min (default 90; capped at 150)',
      dialysis: 'haemodialysis patient (default false)',
      'etaCl, etaV1, etaV2': 'patient random effects on the log scale (default 0)',
      mic: 'MIC, mg/L (default 1)',
      days: 'episode length in days (default 7; the env truncates itself)',
      doseLevels: 'dose levels in mg, e.g. "0,500,1000,1500" (default 0 = hold, 500 … 2500)',
      sampleEvery: 'levels drawn every N dose intervals (default 2 = once a day)',
      assayError: 'add Goti 2018 residual error to levels (default true)',
      aki: 'synthetic kidney-injury model on (default true)',
      akiPenalty: 'reward at AKI onset (default −10)',
      patients:
        'a pool [{ patientId?, weight, crcl, dialysis?, etaCl, etaV1, etaV2 }], one drawn per reset (stream patient); instead of the single-patient options (set by personal cohorts)',
    },
  });
  registerTwin({
    id: VANCO_TWIN_ID,
    title: 'Vancomycin AUC-targeted dosing (Goti 2018 population PK)',
    // v1 and the same twin as agents (environments/pkpd/vancomycin-agents.ts; option lab.turnaroundHours)
    envIds: [VANCO_ENV_ID, VANCO_AGENTS_ENV_ID],
    defaultEnvId: VANCO_ENV_ID,
    endpoints: VANCO_ENDPOINTS,
    primaryEndpoints: ['target_attained_final', 'aki', 'target_attained_day2'],
    populations: VANCO_POPULATIONS,
    cohortMember: vancoCohortMember,
    // units of the Goti 2018 covariate model (vancomycin-model.ts): weight kg, SCr mg/dL, CrCL mL/min
    // (Cockcroft–Gault), CL L/h, V1 L
    covariates: [
      { key: 'age', label: 'Age', unit: 'years' },
      { key: 'sex', label: 'Sex', unit: '' },
      { key: 'weight', label: 'Body weight', unit: 'kg' },
      { key: 'scr', label: 'Serum creatinine', unit: 'mg/dL' },
      { key: 'crcl', label: 'Creatinine clearance (Cockcroft–Gault)', unit: 'mL/min' },
      { key: 'renalStratum', label: 'Renal stratum', unit: '' },
      { key: 'CL', label: 'Vancomycin clearance CL', unit: 'L/h' },
      { key: 'V1', label: 'Central volume V1', unit: 'L' },
    ],
    shields: [VANCO_DAILY_CAP_SHIELD],
    tracks: VANCO_TRACKS,
  });
}

/** Daily vancomycin dose above which the shield masks a dose, mg/day. */
export const VANCO_DAILY_CAP_MG = 4000;

/**
 * Dose cap: a dose is masked when, given every decision interval of the day, it would exceed
 * 4 g/day (q12h: > 2000 mg per dose). A masked dose is replaced by the largest allowed dose below it
 * (the cap, as a pharmacist would round down), not by a hold. Bound from the env's action labels
 * (`hold`, `${d} mg`) and its decision interval.
 */
export const VANCO_DAILY_CAP_SHIELD: ShieldDefinition = {
  id: 'vancomycin/daily-dose-cap-4g',
  title: `Vancomycin ≤ ${VANCO_DAILY_CAP_MG / 1000} g/day`,
  rationale:
    'Daily doses ≥ 4 g are associated with nephrotoxicity (Lodise et al. 2008, Clin Infect Dis 46:1213), a risk the ASHP/IDSA/PIDS/SIDP consensus ' +
    'reviews when recommending AUC-guided dosing (Rybak et al. 2020, Am J Health-Syst Pharm 77:835); a 4 g/day cap keeps the agent inside that experience.',
  bind(env: Env): BoundShield | undefined {
    const space = env.actionSpace;
    const hours = env.stepDuration?.unit === 'h' ? env.stepDuration.value : undefined;
    if (!isDiscrete(space) || space.labels === undefined || hours === undefined) return undefined;
    const doses: number[] = [];
    for (const label of space.labels) {
      const m = label === 'hold' ? ['', '0'] : /^([0-9.]+) mg$/.exec(label);
      if (!m) return undefined;
      doses.push(Number(m[1]));
    }
    const perDoseCap = (VANCO_DAILY_CAP_MG * hours) / 24;
    if (!doses.some((d) => d <= perDoseCap)) return undefined;
    const start = space.start;
    return {
      mask(_observation, _info, allowed) {
        for (let i = 0; i < doses.length; i++) allowed[i] = (doses[i] as number) <= perDoseCap ? 1 : 0;
        return allowed;
      },
      safest(action, allowed) {
        const requested = doses[action - start] as number;
        let best = -1;
        for (let i = 0; i < doses.length; i++) {
          if (allowed[i] === 1 && (doses[i] as number) <= requested && (best < 0 || (doses[i] as number) > (doses[best] as number))) best = i;
        }
        return start + (best < 0 ? allowed.indexOf(1) : best);
      },
    };
  },
};
