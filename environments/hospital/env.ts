import { BaseEnv, type Info, type ResetOptions, type ResetResult, type StepResult } from '../../engine/env.js';
import type { EpisodeLog } from '../../engine/episode-log.js';
import { describeValue, TwinlabError } from '../../engine/errors.js';
import { register } from '../../engine/registry.js';
import { Rng, type RngState } from '../../engine/random.js';
import { Box, Discrete } from '../../engine/spaces.js';
import { type EndpointDefinition, registerTwin } from '../../engine/twin.js';
import { MIN_PER_DAY, MIN_PER_HOUR, SERVE_RULES, type TaskKind, type WardOptions, WardSimulation, type WardSummary } from './ward.js';

/**
 * `hospital/ward-v1`: the ward twin (ward.ts) as an RL env over the nurses' serving rule. Every hour
 * the action picks the rule the nurses use to choose their next task until the next decision:
 *   0 fcfs (earliest due first) · 1 news2 (highest observed NEWS2 first; RCP 2017) ·
 *   2 antibiotics-first (first antibiotic doses, then fcfs) · 3 medications-first (antibiotics and
 *   vancomycin doses, then level draws, then fcfs).
 * With `admissionDecision: true` the action also chooses whom to admit when a bed frees: actions
 * 4–7 are rules 0–3 with waiting sepsis patients admitted first (else first come, first served).
 * Observation: hour of day (sin, cos), occupied beds, admission queue, due tasks by kind, the highest
 * observed NEWS2 on the ward, nurses on shift and idle nurses.
 * Reward per hour: −(10·deaths + 3·AKI + 0.5·sepsis patients still without antibiotics > 1 h after
 * arrival + 0.05·observations overdue by > 1 h).
 * Each episode starts after `warmupDays` (default 7) simulated days under first come, first served,
 * so the ward is filled; the endpoints (info, summary) count from the first decision.
 * State for keyframes: the episode seed and the actions so far (the simulation is deterministic, so
 * setState replays them).
 */
export const WARD_ENV_ID = 'hospital/ward-v1';
export const WARD_HORIZON_HOURS = 168;

const OBS_LABELS = [
  'hour_sin',
  'hour_cos',
  'occupied_beds',
  'admission_queue',
  'due_admission',
  'due_abx',
  'due_obs',
  'due_vanco_dose',
  'due_level',
  'due_care',
  'due_discharge',
  'max_observed_news2',
  'nurses_on_shift',
  'nurses_idle',
] as const;
const DUE_KINDS: readonly TaskKind[] = ['admission', 'abx', 'obs', 'vanco-dose', 'level', 'care', 'discharge'];

export type WardEnvOptions = Omit<WardOptions, 'serveRule' | 'arrivals' | 'unlimitedStaff'> & { horizonHours?: number; warmupDays?: number; admissionDecision?: boolean };

/** Days simulated (first come, first served) before the first decision, so an episode starts from a filled ward. */
export const WARD_WARMUP_DAYS = 7;

export const WARD_OPTION_NAMES = [
  'beds',
  'arrivalsPerDay',
  'sepsisShare',
  'nursesDay',
  'nursesNight',
  'pharmacistHours',
  'labTurnaroundMinutes',
  'sepsisTickMinutes',
  'transferScore',
  'maxStayDays',
  'admissionRule',
  'levelRule',
  'taskMinutes',
  'collectAgents',
  'horizonHours',
  'warmupDays',
  'admissionDecision',
] as const;

interface WardEnvState {
  seed: number;
  seedStream: RngState;
  actions: number[];
}

export class WardEnv extends BaseEnv<number> {
  readonly id = WARD_ENV_ID;
  readonly observationSpace: Box;
  readonly actionSpace: Discrete;
  /** With `admissionDecision`, actions 4–7 are the serving rules 0–3 with sepsis patients admitted first. */
  readonly admissionDecision: boolean;
  readonly stepDuration = { value: 1, unit: 'h' };
  private readonly wardOptions: WardOptions;
  private readonly horizon: number;
  private readonly warmupDays: number;
  ward!: WardSimulation;
  private seed = 0;
  private seedStream = Rng.fromSeed(0).fork('episode-seeds');
  private actions: number[] = [];
  private readonly observation = new Float32Array(OBS_LABELS.length);
  private readonly info: Info = {};
  private readonly result: StepResult;
  private lastDeaths = 0;
  private lastAki = 0;

  constructor(options: WardEnvOptions = {}) {
    super();
    const { horizonHours, warmupDays, admissionDecision, ...rest } = options;
    if (admissionDecision !== undefined && typeof admissionDecision !== 'boolean') {
      throw new TwinlabError('INVALID_ARGUMENT', `${WARD_ENV_ID}: admissionDecision must be a boolean, got ${describeValue(admissionDecision)}`, { field: 'admissionDecision' });
    }
    if (admissionDecision && rest.admissionRule !== undefined) {
      throw new TwinlabError('INVALID_ARGUMENT', `${WARD_ENV_ID}: give admissionRule or admissionDecision, not both`, { field: 'admissionRule' });
    }
    this.admissionDecision = admissionDecision ?? false;
    this.actionSpace = this.admissionDecision
      ? new Discrete(2 * SERVE_RULES.length, 0, [...SERVE_RULES, ...SERVE_RULES.map((r) => `${r} + admit sepsis first`)])
      : new Discrete(SERVE_RULES.length, 0, [...SERVE_RULES]);
    const known = new Set<string>(WARD_OPTION_NAMES);
    const extra = Object.keys(options).find((k) => !known.has(k));
    if (extra !== undefined) throw new TwinlabError('INVALID_ARGUMENT', `${WARD_ENV_ID}: unknown option ${extra} (options: ${WARD_OPTION_NAMES.join(', ')})`, { field: extra });
    const h = horizonHours ?? WARD_HORIZON_HOURS;
    if (!(Number.isInteger(h) && h >= 1)) throw new TwinlabError('INVALID_ARGUMENT', `${WARD_ENV_ID}: horizonHours must be an integer ≥ 1, got ${describeValue(h)}`, { field: 'horizonHours' });
    if (rest.beds !== undefined && !Number.isFinite(rest.beds)) throw new TwinlabError('INVALID_ARGUMENT', `${WARD_ENV_ID}: beds must be finite`, { field: 'beds' });
    this.horizon = h;
    const warm = warmupDays ?? WARD_WARMUP_DAYS;
    if (!(Number.isInteger(warm) && warm >= 0 && warm <= 365)) throw new TwinlabError('INVALID_ARGUMENT', `${WARD_ENV_ID}: warmupDays must be an integer in [0, 365], got ${describeValue(warm)}`, { field: 'warmupDays' });
    this.warmupDays = warm;
    this.wardOptions = rest;
    // validate now (throws naming the field)
    this.ward = new WardSimulation(0, this.wardOptions);
    const high = [1, 1, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 20, 1000, 1000];
    const low = high.map((_, i) => (i < 2 ? -1 : 0));
    this.observationSpace = new Box(low, high, [OBS_LABELS.length], [...OBS_LABELS]);
    this.result = { observation: this.observation, reward: 0, terminated: false, truncated: false, info: this.info };
  }

  protected resetEnv(options: ResetOptions): ResetResult {
    if (options.seed !== undefined) {
      this.seed = options.seed;
      this.seedStream = Rng.fromSeed(options.seed).fork('episode-seeds');
    } else {
      this.seed = this.seedStream.uint32();
    }
    this.start();
    return { observation: this.observation, info: { ...this.info, episodeSeed: this.seed, rules: [...SERVE_RULES] } };
  }

  private start(): void {
    this.ward = new WardSimulation(this.seed, this.wardOptions);
    this.ward.runUntil(this.warmupDays * MIN_PER_DAY);
    this.ward.resetCounters();
    this.actions = [];
    this.lastDeaths = 0;
    this.lastAki = 0;
    this.writeObservation();
    this.writeInfo(this.ward.summary(), 0);
  }

  protected stepEnv(action: number): StepResult {
    this.actions.push(action);
    return this.advance(action);
  }

  private advance(action: number): StepResult {
    const w = this.ward;
    w.ward.serveRule = SERVE_RULES[action % SERVE_RULES.length] as (typeof SERVE_RULES)[number];
    if (this.admissionDecision) w.ward.admissionRule = action >= SERVE_RULES.length ? 'sepsis-first' : 'fcfs';
    w.runUntil(w.time + MIN_PER_HOUR);
    const c = w.ward.counters;
    const deaths = c.died - this.lastDeaths;
    const aki = c.aki - this.lastAki;
    this.lastDeaths = c.died;
    this.lastAki = c.aki;
    let untreated = 0;
    for (const p of w.ward.patients) {
      if (p.cls === 'sepsis' && (p.outcome === 'inpatient' || p.outcome === 'waiting') && Number.isNaN(p.abxGiven) && w.time - p.arrival > 60) untreated++;
    }
    let overdue = 0;
    for (const t of w.ward.tasks) if (t.kind === 'obs' && t.due < w.time - 60) overdue++;
    const r = this.result;
    r.reward = -(10 * deaths + 3 * aki + 0.5 * untreated + 0.05 * overdue);
    r.terminated = false;
    r.truncated = this.actions.length >= this.horizon;
    this.writeObservation();
    this.writeInfo(w.summary(), action);
    return r;
  }

  private writeObservation(): void {
    const w = this.ward;
    const o = this.observation;
    const angle = (2 * Math.PI * (w.time % MIN_PER_DAY)) / MIN_PER_DAY;
    o[0] = Math.sin(angle);
    o[1] = Math.cos(angle);
    o[2] = Math.min(1000, w.ward.inpatients.length);
    o[3] = Math.min(1000, w.ward.queue.length);
    for (let k = 0; k < DUE_KINDS.length; k++) o[4 + k] = 0;
    for (const t of w.ward.tasks) {
      if (t.due > w.time) continue;
      const k = DUE_KINDS.indexOf(t.kind);
      if (k >= 0) o[4 + k] = Math.min(1000, (o[4 + k] as number) + 1);
    }
    let maxScore = 0;
    for (const p of w.ward.inpatients) if (p.observedScore > maxScore) maxScore = p.observedScore;
    o[11] = Math.min(20, maxScore);
    let onShift = 0;
    let idle = 0;
    for (const n of w.nurses) {
      if (n.onShift(w.time)) {
        onShift++;
        if (n.idle) idle++;
      }
    }
    o[12] = Math.min(1000, onShift);
    o[13] = Math.min(1000, idle);
  }

  private writeInfo(s: WardSummary, action: number): void {
    const i = this.info;
    i.rule = SERVE_RULES[action % SERVE_RULES.length];
    i.admission = this.ward.ward.admissionRule;
    i.hour = this.ward.time / 60;
    for (const [k, v] of Object.entries(s)) i[k] = v;
  }

  getState(): WardEnvState {
    return { seed: this.seed, seedStream: this.seedStream.saveState(), actions: [...this.actions] };
  }

  setState(saved: unknown): void {
    const s = saved as WardEnvState;
    if (s === null || typeof s !== 'object' || !Number.isInteger(s.seed) || !Array.isArray(s.actions)) {
      throw new TwinlabError('INVALID_STATE', `${WARD_ENV_ID}: setState needs { seed, seedStream, actions } from getState(), got ${describeValue(saved)}`);
    }
    this.seed = s.seed;
    this.start();
    for (const a of s.actions) {
      this.actions.push(a);
      this.advance(a);
    }
    this.seedStream = Rng.restore(s.seedStream);
  }
}

// ---------------------------------------------------------------------------------------------
// Registration: the env and the twin (endpoints read the last step's info)
// ---------------------------------------------------------------------------------------------

function last(log: EpisodeLog, field: keyof WardSummary): number {
  const info = log.steps.length > 0 ? (log.steps[log.steps.length - 1]?.info ?? log.resetInfo) : log.resetInfo;
  const v = info[field];
  return typeof v === 'number' ? v : Number.NaN;
}

const endpoint = (id: string, label: string, unit: string, field: keyof WardSummary, better: 'higher' | 'lower' | 'none', safety = false): EndpointDefinition => ({
  id,
  label,
  unit,
  kind: 'continuous',
  better,
  safety,
  compute: (log) => last(log, field),
});

export const WARD_ENDPOINTS: EndpointDefinition[] = [
  endpoint('mortality', 'Deaths / patients whose stay ended', 'fraction', 'mortality', 'lower', true),
  endpoint('hours_to_abx', 'Mean hours from arrival to the first antibiotic dose (sepsis)', 'h', 'meanHoursToAntibiotics', 'lower'),
  endpoint('abx_within_1h', 'Sepsis patients with antibiotics within 1 h of arrival', 'fraction', 'antibioticsWithin1h', 'higher'),
  endpoint('aki_rate', 'Acute kidney injury per vancomycin patient', 'fraction', 'akiRate', 'lower', true),
  endpoint('nurse_utilisation', 'Nurse busy time / on-shift time', 'fraction', 'nurseUtilisation', 'none'),
  endpoint('overtime_hours', 'Nurse overtime (tasks finished after the shift)', 'h', 'nurseOvertimeHours', 'lower'),
  endpoint('occupancy', 'Mean occupied beds', 'beds', 'meanOccupancy', 'none'),
  endpoint('wait_hours', 'Mean wait for a bed', 'h', 'meanWaitHours', 'lower'),
];

let registered = false;

export function registerHospital(): void {
  if (registered) return;
  registered = true;
  register({
    id: WARD_ENV_ID,
    description:
      'Hospital ward (agents on engine/simulation.ts): Poisson arrivals by hour of day, beds, nurses on shifts, a pharmacist, a lab; sepsis-MDP and vancomycin-PK patients. Each hour choose the nurses’ serving rule',
    entryPoint: (options) => new WardEnv(options as WardEnvOptions),
    maxEpisodeSteps: WARD_HORIZON_HOURS,
    optionNames: WARD_OPTION_NAMES,
    optionDocs: {
      beds: 'number of beds (default 30)',
      arrivalsPerDay: 'mean arrivals per day (default 4.5), modulated by the hourly profile',
      sepsisShare: 'share of sepsis patients among arrivals (default 0.5; the rest are vancomycin-treated)',
      nursesDay: 'nurses on the 07–19 shift (default 4)',
      nursesNight: 'nurses on the 19–07 shift (default 3)',
      pharmacistHours: 'pharmacist working hours [start, end] (default [8, 16])',
      labTurnaroundMinutes: 'minutes from a level draw to its result (default 60)',
      sepsisTickMinutes: 'minutes per sepsis MDP transition (default 240)',
      transferScore: 'observed NEWS2 at or above which a patient is transferred to critical care (default 6)',
      maxStayDays: 'stays end (discharge) after this many days (default 14)',
      admissionRule: "'fcfs' (default) | 'sepsis-first': whom to admit when a bed frees",
      levelRule: "'before-4th-dose' (default; Rybak 2020) | 'before-2nd-dose' | 'none': when vancomycin troughs are drawn",
      taskMinutes: 'minutes per task kind (admission, abx, obs, vanco-dose, level, care, discharge, verify, review)',
      collectAgents: 'record agent-level columns (nurse busy flags) in the collector (default true)',
      horizonHours: 'episode length in hours (default 168 = one week)',
      admissionDecision: 'true: the action also chooses whom to admit when a bed frees (actions 4–7 = rules 0–3 with sepsis patients first); default false',
      warmupDays: 'days simulated with first come, first served before the first decision (default 7); endpoints count from the first decision',
    },
    decisionInterval: '1 h',
    reference: 'Oberst & Sontag 2019 (sepsis MDP); Goti et al. 2018 Ther Drug Monit 40:212 (vancomycin PK); RCP 2017 NEWS2; Rybak et al. 2020 Am J Health Syst Pharm 77:835',
  });
  registerTwin({
    id: 'hospital',
    title: 'Hospital ward (sepsis and vancomycin patients, nurses, pharmacist, lab)',
    envIds: [WARD_ENV_ID],
    defaultEnvId: WARD_ENV_ID,
    endpoints: WARD_ENDPOINTS,
    primaryEndpoints: ['mortality', 'hours_to_abx', 'aki_rate'],
    populations: ['ward-week'],
    cohortMember: (request, index) => {
      if (request.population !== 'ward-week') throw new TwinlabError('NOT_FOUND', `unknown hospital population '${request.population}'; expected ward-week`);
      // Members differ by their episode seed (a different week of arrivals); every arm sees the same week.
      return { index, patientId: `week-${index}`, envOptions: {} };
    },
  });
}
