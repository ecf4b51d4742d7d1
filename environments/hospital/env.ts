import { BaseEnv, type Info, type ResetOptions, type ResetResult, type StepResult } from '../../engine/env.js';
import type { EpisodeLog } from '../../engine/episode-log.js';
import { describeValue, TwinlabError } from '../../engine/errors.js';
import { register } from '../../engine/registry.js';
import { Rng, type RngState } from '../../engine/random.js';
import { Box, Discrete } from '../../engine/spaces.js';
import { Rk4 } from '../../engine/ode.js';
import { type EndpointDefinition, registerTwin, type TwinTracks } from '../../engine/twin.js';
import type { VancoRhs } from '../pkpd/vancomycin-model.js';
import { decodeFull, numAbnormal } from '../sepsis/state.js';
import {
  MIN_PER_DAY,
  MIN_PER_HOUR,
  NURSE_TASKS,
  news2OfSepsisState,
  SERVE_RULES,
  type StaffAgent,
  type Task,
  type TaskKind,
  type PatientClass,
  type WardOptions,
  type WardPatient,
  WardSimulation,
  type WardSummary,
} from './ward.js';

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

/** One occupied bed of `info.ward.beds` (null: an empty bed). */
export interface WardBedInfo {
  /** Patient id (arrival order in the simulation). */
  id: number;
  cls: PatientClass;
  /** Minutes from the first decision to the admission (negative: admitted during the warm-up). */
  admitted: number;
  /** Last NEWS2-like score a nurse observed (null before the admission assessment). */
  news2: number | null;
  /** Sepsis: NEWS2-like score of the true (hidden) state, vitals out of range, antibiotics on (0/1). */
  score?: number;
  abnormal?: number;
  abx?: number;
  /** Vancomycin: central concentration (mg/L), AUC of the last 24 h (mg·h/L; null in the first 24 h), AKI (0/1), doses given. */
  conc?: number;
  auc24?: number | null;
  aki?: number;
  doses?: number;
}

/**
 * A stay on the ward that ended since the previous step's `info.ward` (discharge, death or transfer to
 * critical care, as the ward reports it). `bed` is the bed the stay occupied in `beds`, or null for a
 * stay that began and ended between two steps (it never appeared in `beds`).
 */
export interface WardLeftInfo {
  id: number;
  cls: PatientClass;
  bed: number | null;
  /** Minutes from the first decision to the admission and to the end of the stay. */
  admitted: number;
  ended: number;
  outcome: 'discharged' | 'died' | 'transferred';
}

/** `info.ward` of every step: what a ward view draws (beds, queues, staff). */
export interface WardStepInfo {
  /** Minutes since the first decision. */
  minute: number;
  /** Bed k → its patient (beds keep their patient for the whole stay; a freed bed takes the next admission). */
  beds: (WardBedInfo | null)[];
  /** Patients waiting for a bed. */
  queue: number;
  /** Nurse tasks due now, by kind. */
  due: Record<string, number>;
  dueTotal: number;
  nursesOnShift: number;
  /** Nurses busy with a task (on shift or finishing one after it). */
  nursesBusy: number;
  /** Nurses and the pharmacist → the kind of task they are doing, 'idle' (on shift) or 'off'. */
  staff: Record<string, string>;
  /** Stays that ended since the previous step (by patient id); waiting patients who die never had a stay. */
  left: WardLeftInfo[];
}

/** Minutes per integration step of the display-only PK projection (as the ward's own 0.05 h). */
const PK_DISPLAY_H = 0.05;
const pkDisplayRk4 = new Rk4(3);
const pkDisplayY = new Float64Array(3);

/**
 * A vancomycin patient's PK state at `now` without touching the simulation: the ward integrates a
 * patient's PK lazily (at doses, draws, checks), so the display integrates a copy from there and puts
 * the infusion rate back — advancing the patient itself would split the integration differently and
 * change the course.
 */
function pkAt(p: WardPatient, now: number): Float64Array {
  pkDisplayY.set(p.y);
  const rhs = p.rhs as VancoRhs;
  const rate = rhs.rate;
  let t = p.pkTime;
  while (t < now) {
    const infusing = t < p.infusionEnd;
    const to = infusing ? Math.min(now, p.infusionEnd) : now;
    rhs.rate = infusing ? rate : 0;
    pkDisplayRk4.integrate(rhs.f, pkDisplayY, t / 60, to / 60, PK_DISPLAY_H);
    t = to;
  }
  rhs.rate = rate;
  return pkDisplayY;
}

const round = (x: number, digits: number): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

/** The task a staff member is doing (StaffAgent keeps it private; read-only use for display). */
function currentTask(n: StaffAgent): Task | null {
  return (n as unknown as { current: Task | null }).current;
}

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
  /** Bed k → its patient (display bookkeeping for info.ward; the simulation has no bed numbers). */
  private bedSlots: (WardPatient | null)[] = [];
  /** Bed k → simulation minute its last patient left (−∞: empty since the start), so a new patient never overlaps the previous one. */
  private slotFreedAt: number[] = [];
  /** Vancomycin patient id → cumulative AUC (mg·h/L) at each step of its stay, for the AUC of the last 24 h. */
  private aucHistory = new Map<number, number[]>();
  private startMinute = 0;
  /** Simulation minute of the previous info.ward (stays ended after it are reported in `left`). */
  private lastInfoMinute = 0;

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
    this.bedSlots = Number.isFinite(this.ward.options.beds) ? Array.from({ length: this.ward.options.beds }, () => null) : [];
    this.slotFreedAt = this.bedSlots.map(() => Number.NEGATIVE_INFINITY);
    this.aucHistory = new Map();
    this.startMinute = this.ward.time;
    this.lastInfoMinute = this.ward.time;
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
    i.ward = this.wardInfo();
  }

  private wardInfo(): WardStepInfo {
    const w = this.ward;
    const now = w.time;
    const slots = this.bedSlots;
    const left: WardLeftInfo[] = [];
    const leftInfo = (p: WardPatient, bed: number | null): WardLeftInfo => ({
      id: p.id,
      cls: p.cls,
      bed,
      admitted: round(p.admitted - this.startMinute, 1),
      ended: round(p.end - this.startMinute, 1),
      outcome: p.outcome as WardLeftInfo['outcome'],
    });
    for (let k = 0; k < slots.length; k++) {
      const p = slots[k];
      if (p && p.outcome !== 'inpatient') {
        left.push(leftInfo(p, k));
        slots[k] = null;
        this.slotFreedAt[k] = p.end;
      }
    }
    // stays that began and ended between two steps (never in a bed slot)
    for (const p of w.ward.patients) {
      if (p.end > this.lastInfoMinute && !Number.isNaN(p.admitted) && p.outcome !== 'inpatient' && p.outcome !== 'waiting' && !left.some((l) => l.id === p.id)) left.push(leftInfo(p, null));
    }
    left.sort((a, b) => a.id - b.id);
    this.lastInfoMinute = now;
    // New inpatients in order of admission, each to a free bed whose last patient had left by then (the
    // earliest freed): a stay never overlaps the previous one on its bed. One always exists, because the
    // ward never holds more patients than beds.
    const arrived = w.ward.inpatients.filter((p) => !slots.includes(p)).sort((a, b) => a.admitted - b.admitted || a.id - b.id);
    for (const p of arrived) {
      let free = -1;
      for (let k = 0; k < slots.length; k++) {
        if (slots[k] !== null || (this.slotFreedAt[k] as number) > p.admitted) continue;
        if (free < 0 || (this.slotFreedAt[k] as number) < (this.slotFreedAt[free] as number)) free = k;
      }
      if (free < 0) free = slots.indexOf(null);
      if (free >= 0) slots[free] = p;
      else {
        slots.push(p);
        this.slotFreedAt.push(Number.NEGATIVE_INFINITY);
      }
    }
    for (const id of this.aucHistory.keys()) if (!slots.some((p) => p?.id === id)) this.aucHistory.delete(id);
    const beds = slots.map((p): WardBedInfo | null => {
      if (p === null) return null;
      const bed: WardBedInfo = { id: p.id, cls: p.cls, admitted: round(p.admitted - this.startMinute, 1), news2: Number.isNaN(p.observedScore) ? null : p.observedScore };
      if (p.cls === 'sepsis') {
        const v = decodeFull(p.full);
        bed.score = news2OfSepsisState(p.full);
        bed.abnormal = numAbnormal(v.hr, v.sysbp, v.o2, v.glucose);
        bed.abx = p.abxOn ? 1 : 0;
      } else {
        const y = pkAt(p, now);
        const history = this.aucHistory.get(p.id) ?? [];
        history.push(y[2] as number);
        if (history.length > 25) history.shift();
        this.aucHistory.set(p.id, history);
        bed.conc = round((y[0] as number) / (p.rhs as VancoRhs).pk.v1, 2);
        bed.auc24 = history.length === 25 ? round((history[24] as number) - (history[0] as number), 1) : null;
        bed.aki = p.aki ? 1 : 0;
        bed.doses = p.dosesGiven;
      }
      return bed;
    });
    const due: Record<string, number> = {};
    for (const k of NURSE_TASKS) due[k] = 0;
    let dueTotal = 0;
    for (const t of w.ward.tasks) {
      if (t.due > now || !(t.kind in due)) continue;
      due[t.kind] = (due[t.kind] as number) + 1;
      dueTotal++;
    }
    const staff: Record<string, string> = {};
    let nursesOnShift = 0;
    let nursesBusy = 0;
    for (const n of [...w.nurses, w.pharmacist]) {
      const task = currentTask(n);
      const on = n.onShift(now);
      staff[n.name] = task ? task.kind : on ? 'idle' : 'off';
      if (n.nurse) {
        if (on) nursesOnShift++;
        if (task) nursesBusy++;
      }
    }
    return { minute: now - this.startMinute, beds, queue: w.ward.queue.length, due, dueTotal, nursesOnShift, nursesBusy, staff, left };
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

/**
 * Episode tracks of the ward: beds occupied and patients waiting, nurse tasks due by kind, nurses on
 * shift and busy (from info.ward, see WardStepInfo). The clock starts at Monday 00:00 (the warm-up is
 * whole days), one step per hour.
 */
export const WARD_TRACKS: TwinTracks = {
  clock: { minutesPerStep: MIN_PER_HOUR, startMinute: 0 },
  // the viewer's ward page (bed Gantt, staff timeline, patient panels) from info.ward (ward-timeline.ts)
  view: 'ward',
  tracks: [
    { field: 'info.inpatients', label: 'occupied beds', unit: 'beds', kind: 'continuous', panel: 'beds' },
    { field: 'info.ward.queue', label: 'waiting for a bed', unit: 'patients', kind: 'continuous', panel: 'admission queue' },
    ...NURSE_TASKS.map((k) => ({ field: `info.ward.due.${k}`, label: `${k} due`, unit: 'tasks', kind: 'continuous' as const, panel: 'nurse tasks due' })),
    { field: 'info.ward.nursesOnShift', label: 'nurses on shift', unit: 'nurses', kind: 'continuous', panel: 'nurses' },
    { field: 'info.ward.nursesBusy', label: 'nurses busy', unit: 'nurses', kind: 'continuous', panel: 'nurses' },
  ],
};

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
    tracks: WARD_TRACKS,
    cohortMember: (request, index) => {
      if (request.population !== 'ward-week') throw new TwinlabError('NOT_FOUND', `unknown hospital population '${request.population}'; expected ward-week`);
      // Members differ by their episode seed (a different week of arrivals); every arm sees the same week.
      return { index, patientId: `week-${index}`, envOptions: {} };
    },
  });
}
