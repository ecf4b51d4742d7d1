import { describeValue, TwinlabError } from '../../engine/errors.js';
import { Rk4 } from '../../engine/ode.js';
import { Rng } from '../../engine/random.js';
import { type DataCollector, type ScheduledEvent, type SimAgent, Simulation } from '../../engine/simulation.js';
import { infusionHours } from '../pkpd/vancomycin-env.js';
import { AKI_MODEL, akiHazardPerDay, cockcroftGault, GOTI, GOTI_OMEGA2, individualPk, VANCO_DIM, type VancoRhs, vancoRhs } from '../pkpd/vancomycin-model.js';
import { drawInitialState } from '../sepsis/env.js';
import { sampleTransition } from '../sepsis/model.js';
import { decodeFull, N_OBS, numAbnormal, OBS_REWARD } from '../sepsis/state.js';

/**
 * The ward twin: a hospital ward over days to weeks, composed from engine/simulation.ts agents and the
 * physiology of two existing twins (the sepsis MDP patient of environments/sepsis/ and the vancomycin
 * PK patient of environments/pkpd/). Time unit: minutes from Monday 00:00. Every parameter, the
 * agents and their sources: environments/hospital/README.md.
 *
 * Agents (insertion order): arrivals (Poisson process with an hour-of-day profile), the ward (beds,
 * admission queue, task list, outcomes), the nurses (one agent per nurse, 12-h shifts), the
 * pharmacist, the lab (turnaround delay). Patients are physiology twins held by the ward; each one
 * draws only from its own seed (drawn from the 'arrivals' substream at arrival), so a patient's course
 * depends on the others only through the staff's time and the beds.
 */

export const MIN_PER_HOUR = 60;
export const MIN_PER_DAY = 1440;
/** Simulation step of the ward (minutes): idle staff pick their next task at step boundaries. */
export const WARD_TICK_MIN = 5;

/**
 * Relative arrival rate by hour of day (mean 1 after normalisation): a stylised shape with the trough
 * at 03–05 h and the plateau from late morning to early evening reported for hourly emergency
 * department arrivals (McCarthy et al. 2008, Acad Emerg Med 15:337–346, Fig. 2). Not fitted to a ward.
 */
export const HOURLY_ARRIVAL_PROFILE: readonly number[] = normalise([
  0.55, 0.45, 0.4, 0.35, 0.33, 0.35, 0.45, 0.65, 0.95, 1.25, 1.45, 1.55, 1.55, 1.5, 1.45, 1.4, 1.35, 1.3, 1.25, 1.15, 1.05, 0.95, 0.8, 0.65,
]);

function normalise(xs: number[]): number[] {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return xs.map((x) => x / mean);
}

export type PatientClass = 'sepsis' | 'vancomycin';
export type Outcome = 'waiting' | 'inpatient' | 'discharged' | 'died' | 'transferred';
export type TaskKind = 'admission' | 'abx' | 'obs' | 'vanco-dose' | 'level' | 'care' | 'discharge' | 'verify' | 'review';
export const NURSE_TASKS: readonly TaskKind[] = ['admission', 'abx', 'obs', 'vanco-dose', 'level', 'care', 'discharge'];
/** Minutes between a patient's rounds of direct care and documentation (assumed). */
export const CARE_INTERVAL_MIN = 180;

/** Minutes each task takes (assumed; configurable with `taskMinutes`). */
export const DEFAULT_TASK_MINUTES: Readonly<Record<TaskKind, number>> = Object.freeze({
  admission: 30,
  abx: 20,
  obs: 10,
  'vanco-dose': 20,
  level: 10,
  // direct care, hygiene, mobility and documentation, which take most of a ward nurse's time (Westbrook et al. 2011, BMJ Qual Saf 20:1027)
  care: 15,
  discharge: 20,
  verify: 15,
  review: 10,
});

/** The nurse's serving rules (the ward-level decision the RL env controls). */
export const SERVE_RULES = ['fcfs', 'news2', 'antibiotics-first', 'medications-first'] as const;
export type ServeRule = (typeof SERVE_RULES)[number];
export type AdmissionRule = 'fcfs' | 'sepsis-first';
export type LevelRule = 'before-4th-dose' | 'before-2nd-dose' | 'none';

export interface WardOptions {
  beds?: number;
  /** Mean arrivals per day (the hourly profile modulates it). */
  arrivalsPerDay?: number;
  /** Share of arrivals that are sepsis patients (the rest are vancomycin-treated). */
  sepsisShare?: number;
  /** Scripted arrivals instead of the Poisson process (each patient by its seed). */
  arrivals?: { minute: number; seed: number }[];
  nursesDay?: number;
  nursesNight?: number;
  /** Every task starts at the first step boundary at or after it is due (no staff limit). */
  unlimitedStaff?: boolean;
  pharmacistHours?: [number, number];
  labTurnaroundMinutes?: number;
  sepsisTickMinutes?: number;
  transferScore?: number;
  maxStayDays?: number;
  admissionRule?: AdmissionRule;
  levelRule?: LevelRule;
  serveRule?: ServeRule;
  taskMinutes?: Partial<Record<TaskKind, number>>;
  collectAgents?: boolean;
}

export type ResolvedWardOptions = Required<Omit<WardOptions, 'arrivals' | 'taskMinutes'>> & {
  arrivals: { minute: number; seed: number }[] | null;
  taskMinutes: Record<TaskKind, number>;
};

export const DEFAULT_WARD_OPTIONS = Object.freeze({
  beds: 30,
  arrivalsPerDay: 4.5,
  sepsisShare: 0.5,
  // NICE SG1 (2014): more than 8 patients per registered nurse on a day shift is a red flag.
  nursesDay: 4,
  nursesNight: 3,
  unlimitedStaff: false,
  pharmacistHours: [8, 16] as [number, number],
  labTurnaroundMinutes: 60,
  sepsisTickMinutes: 240,
  transferScore: 6,
  maxStayDays: 14,
  admissionRule: 'fcfs' as AdmissionRule,
  levelRule: 'before-4th-dose' as LevelRule,
  serveRule: 'fcfs' as ServeRule,
  collectAgents: true,
});

function bad(field: string, expected: string, got: unknown): TwinlabError {
  return new TwinlabError('INVALID_ARGUMENT', `ward option ${field} must be ${expected}, got ${describeValue(got)}`, { field });
}

export function resolveWardOptions(o: WardOptions = {}): ResolvedWardOptions {
  const d = DEFAULT_WARD_OPTIONS;
  const int = (name: keyof WardOptions, min: number): number => {
    const v = o[name] ?? d[name as keyof typeof d];
    if (!(typeof v === 'number' && Number.isInteger(v) && v >= min)) throw bad(name, `an integer ≥ ${min}`, v);
    return v;
  };
  const num = (name: keyof WardOptions, min: number, max: number): number => {
    const v = o[name] ?? d[name as keyof typeof d];
    if (!(typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max)) throw bad(name, `a number in [${min}, ${max}]`, v);
    return v;
  };
  const oneOf = <T extends string>(name: keyof WardOptions, values: readonly T[]): T => {
    const v = o[name] ?? d[name as keyof typeof d];
    if (!values.includes(v as T)) throw bad(name, `one of ${values.join(', ')}`, v);
    return v as T;
  };
  const taskMinutes = { ...DEFAULT_TASK_MINUTES, ...(o.taskMinutes ?? {}) };
  for (const [k, v] of Object.entries(taskMinutes)) {
    if (!(k in DEFAULT_TASK_MINUTES)) throw bad(`taskMinutes.${k}`, `one of ${Object.keys(DEFAULT_TASK_MINUTES).join(', ')}`, k);
    if (!(typeof v === 'number' && v > 0 && Number.isFinite(v))) throw bad(`taskMinutes.${k}`, 'a number of minutes > 0', v);
  }
  let arrivals: { minute: number; seed: number }[] | null = null;
  if (o.arrivals !== undefined) {
    if (!Array.isArray(o.arrivals)) throw bad('arrivals', 'a list of { minute, seed }', o.arrivals);
    arrivals = o.arrivals.map((a, i) => {
      if (!(a && typeof a.minute === 'number' && a.minute >= 0 && Number.isFinite(a.minute))) throw bad(`arrivals[${i}].minute`, 'a number ≥ 0', a?.minute);
      if (!(Number.isInteger(a.seed) && a.seed >= 0)) throw bad(`arrivals[${i}].seed`, 'an integer ≥ 0', a?.seed);
      return { minute: a.minute, seed: a.seed };
    });
    arrivals.sort((a, b) => a.minute - b.minute);
  }
  const hours = o.pharmacistHours ?? d.pharmacistHours;
  if (!(Array.isArray(hours) && hours.length === 2 && hours.every((h) => Number.isInteger(h) && h >= 0 && h <= 24) && hours[0] < hours[1])) {
    throw bad('pharmacistHours', '[start, end] hours with 0 ≤ start < end ≤ 24', hours);
  }
  const beds = o.beds ?? d.beds;
  if (!(beds === Number.POSITIVE_INFINITY || (Number.isInteger(beds) && beds >= 1))) throw bad('beds', 'an integer ≥ 1 (or Infinity)', beds);
  return {
    beds,
    arrivalsPerDay: num('arrivalsPerDay', 0, 1000),
    sepsisShare: num('sepsisShare', 0, 1),
    arrivals,
    nursesDay: int('nursesDay', 0),
    nursesNight: int('nursesNight', 0),
    unlimitedStaff: o.unlimitedStaff ?? d.unlimitedStaff,
    pharmacistHours: [hours[0], hours[1]],
    labTurnaroundMinutes: num('labTurnaroundMinutes', 0, 10 * MIN_PER_DAY),
    sepsisTickMinutes: int('sepsisTickMinutes', 1),
    transferScore: num('transferScore', 0, 100),
    maxStayDays: num('maxStayDays', 0.1, 365),
    admissionRule: oneOf('admissionRule', ['fcfs', 'sepsis-first'] as const),
    levelRule: oneOf('levelRule', ['before-4th-dose', 'before-2nd-dose', 'none'] as const),
    serveRule: oneOf('serveRule', SERVE_RULES),
    taskMinutes,
    collectAgents: o.collectAgents ?? d.collectAgents,
  };
}

// ---------------------------------------------------------------------------------------------
// Patients
// ---------------------------------------------------------------------------------------------

/**
 * NEWS2-like score of a sepsis MDP state: each discrete level scored as NEWS2 scores a representative
 * value (Royal College of Physicians 2017, NEWS2 chart 1): heart rate low (≤ 40/min) 3, high
 * (111–130/min) 2; systolic BP low (≤ 90 mmHg) 3; SpO2 low (≤ 91 %) 3. Glucose is not in NEWS2.
 */
export function news2OfSepsisState(full: number): number {
  const s = decodeFull(full);
  return (s.hr === 0 ? 3 : s.hr === 2 ? 2 : 0) + (s.sysbp === 0 ? 3 : 0) + (s.o2 === 0 ? 3 : 0);
}

/** Minimum observation interval for a NEWS2 score (RCP 2017, chart 3; "continuous" taken as 30 min). */
export function observationIntervalMinutes(score: number): number {
  if (score >= 7) return 30;
  if (score >= 5) return 60;
  if (score >= 1) return 240;
  return 720;
}

export interface WardPatient {
  readonly id: number;
  readonly seed: number;
  readonly cls: PatientClass;
  readonly arrival: number;
  admitted: number;
  end: number;
  outcome: Outcome;
  /** Last NEWS2-like score a nurse observed (NaN before the admission assessment). */
  observedScore: number;
  // sepsis
  full: number;
  abxGiven: number;
  abxOn: boolean;
  // vancomycin
  weight: number;
  crcl: number;
  eta: { cl: number; v1: number; v2: number };
  rhs: VancoRhs | null;
  y: Float64Array;
  pkTime: number;
  infusionEnd: number;
  maintenanceDose: number;
  dosesGiven: number;
  nextDoseDue: number;
  aki: boolean;
  aucAtCheck: number;
  levelsDrawn: number;
  courseEnd: number;
  dyn: Rng;
  assay: Rng;
  akiRng: Rng;
}

/** A new patient from its seed: class, covariates and own random streams. */
export function makePatient(id: number, seed: number, arrival: number, sepsisShare: number): WardPatient {
  const root = Rng.fromSeed(seed);
  const caseRng = root.fork('case');
  const cls: PatientClass = caseRng.next() < sepsisShare ? 'sepsis' : 'vancomycin';
  const p: WardPatient = {
    id,
    seed,
    cls,
    arrival,
    admitted: Number.NaN,
    end: Number.NaN,
    outcome: 'waiting',
    observedScore: Number.NaN,
    full: 0,
    abxGiven: Number.NaN,
    abxOn: false,
    weight: 0,
    crcl: 0,
    eta: { cl: 0, v1: 0, v2: 0 },
    rhs: null,
    y: new Float64Array(VANCO_DIM),
    pkTime: arrival,
    infusionEnd: Number.NEGATIVE_INFINITY,
    maintenanceDose: 0,
    dosesGiven: 0,
    nextDoseDue: Number.NaN,
    aki: false,
    aucAtCheck: 0,
    levelsDrawn: 0,
    courseEnd: Number.NaN,
    dyn: root.fork('dynamics'),
    assay: root.fork('assay'),
    akiRng: root.fork('aki'),
  };
  if (cls === 'sepsis') {
    // the sepsis twin's initial-state law (20 % diabetic, as environments/sepsis/env.ts)
    p.full = drawInitialState(caseRng.fork('initial-state'), 0.2);
  } else {
    // Adult ward covariates (assumed): age 30–85 y, weight N(78, 15²) kg in [45, 140], SCr log-normal
    // around 1.0 mg/dL (sd of log 0.3); Goti 2018 inter-individual variability on CL, V1, V2.
    const age = caseRng.uniform(30, 85);
    p.weight = Math.min(140, Math.max(45, caseRng.normal(78, 15)));
    const scr = Math.exp(caseRng.normal(0, 0.3));
    const female = caseRng.next() < 0.5;
    p.crcl = cockcroftGault(age, p.weight, female, scr);
    p.eta = { cl: caseRng.normal(0, Math.sqrt(GOTI_OMEGA2.cl)), v1: caseRng.normal(0, Math.sqrt(GOTI_OMEGA2.v1)), v2: caseRng.normal(0, Math.sqrt(GOTI_OMEGA2.v2)) };
    p.rhs = vancoRhs(individualPk(p.crcl, p.weight, false, p.eta));
    // Course length 5–10 days (assumed; typical for complicated skin and bone infections).
    p.courseEnd = Number.NaN;
    p.maintenanceDose = roundDose(15 * p.weight, 500, 2000);
  }
  return p;
}

/** Round to 250 mg and clamp (vial-based dosing). */
export function roundDose(mg: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Math.round(mg / 250) * 250));
}

const VANCO_RK4_H = 0.05;
const rk4 = new Rk4(VANCO_DIM);

/** Integrate a vancomycin patient's PK from pkTime to t (minutes), splitting at the infusion end. */
function advancePk(p: WardPatient, t: number): void {
  const rhs = p.rhs as VancoRhs;
  while (p.pkTime < t) {
    const infusing = p.pkTime < p.infusionEnd;
    const to = infusing ? Math.min(t, p.infusionEnd) : t;
    if (!infusing) rhs.rate = 0;
    rk4.integrate(rhs.f, p.y, p.pkTime / 60, to / 60, VANCO_RK4_H);
    p.pkTime = to;
  }
  if (!(p.pkTime < p.infusionEnd)) rhs.rate = 0;
}

// ---------------------------------------------------------------------------------------------
// Tasks and workers
// ---------------------------------------------------------------------------------------------

export interface Task {
  readonly kind: TaskKind;
  readonly patient: WardPatient;
  readonly due: number;
  readonly seq: number;
  /** For reviews: the measured level (mg/L). */
  readonly value: number;
}

function serveKey(rule: ServeRule, t: Task): number {
  switch (rule) {
    case 'news2': {
      const s = t.patient.observedScore;
      return -(Number.isNaN(s) ? 3 : s);
    }
    case 'antibiotics-first':
      return t.kind === 'abx' ? 0 : 1;
    case 'medications-first':
      return t.kind === 'abx' || t.kind === 'vanco-dose' ? 0 : t.kind === 'level' ? 1 : 2;
    default:
      return 0;
  }
}

/** Index in `tasks` of the due task the rule serves next (−1 if none is due); ties by due time, then creation. */
export function pickTask(tasks: readonly Task[], now: number, rule: ServeRule, nurse: boolean): number {
  let best = -1;
  let bk = 0;
  for (let i = 0; i < tasks.length; i++) {
    const t = tasks[i] as Task;
    if (t.due > now) continue;
    const isNurse = t.kind !== 'verify' && t.kind !== 'review';
    if (isNurse !== nurse) continue;
    const k = nurse ? serveKey(rule, t) : 0;
    if (best < 0) {
      best = i;
      bk = k;
      continue;
    }
    const b = tasks[best] as Task;
    if (k < bk || (k === bk && (t.due < b.due || (t.due === b.due && t.seq < b.seq)))) {
      best = i;
      bk = k;
    }
  }
  return best;
}

/** A nurse or the pharmacist: serves one task at a time during its shift, finishing the last one after it (overtime). */
export class StaffAgent implements SimAgent {
  busyUntil = Number.NEGATIVE_INFINITY;
  busyMinutes = 0;
  overtimeMinutes = 0;
  shiftMinutes = 0;
  tasksDone = 0;
  private current: Task | null = null;
  private readonly done: ScheduledEvent;

  constructor(
    readonly name: string,
    private readonly ward: WardAgent,
    readonly nurse: boolean,
    /** Shift start and end hours of the day (end may be ≤ start: the shift crosses midnight). */
    readonly shift: [number, number],
  ) {
    const self = this;
    this.done = {
      time: 0,
      name: `${name} task done`,
      fire(sim: Simulation): void {
        const task = self.current as Task;
        self.current = null;
        self.tasksDone++;
        self.ward.complete(sim, task);
        if (self.onShift(sim.time)) self.startNext(sim);
      },
    };
  }

  onShift(t: number): boolean {
    const h = (t % MIN_PER_DAY) / 60;
    const [a, b] = this.shift;
    return a < b ? h >= a && h < b : h >= a || h < b;
  }

  /** Minutes from t to the end of the shift that contains t. */
  private toShiftEnd(t: number): number {
    const m = t % MIN_PER_DAY;
    const end = this.shift[1] * 60;
    return end > m ? end - m : end + MIN_PER_DAY - m;
  }

  get idle(): boolean {
    return this.current === null;
  }

  decide(sim: Simulation): void {
    if (this.current === null && this.onShift(sim.time)) this.startNext(sim);
  }

  private startNext(sim: Simulation): void {
    const task = this.ward.take(sim.time, this.nurse);
    if (task === null) return;
    const minutes = this.ward.options.taskMinutes[task.kind];
    this.current = task;
    this.busyMinutes += minutes;
    this.overtimeMinutes += Math.max(0, minutes - this.toShiftEnd(sim.time));
    this.done.time = sim.time + minutes;
    sim.schedule(this.done);
  }

  advance(_sim: Simulation, t0: number, t1: number): void {
    // on-shift minutes in [t0, t1): shifts change on the hour and steps never straddle one mid-way
    if (this.onShift(t0)) this.shiftMinutes += t1 - t0;
  }

  collect(_sim: Simulation, out: DataCollector): void {
    if (this.ward.options.collectAgents) out.record(`${this.name}/busy`, this.current === null ? 0 : 1);
  }
}

// ---------------------------------------------------------------------------------------------
// Arrivals, lab and the ward
// ---------------------------------------------------------------------------------------------

/** Arrivals: a non-homogeneous Poisson process drawn by thinning (Lewis & Shedler 1979) from substream 'arrivals'. */
export class ArrivalsAgent implements SimAgent {
  readonly name = 'arrivals';
  private rng!: Rng;
  private readonly next: ScheduledEvent;
  private nextSeed = 0;
  private script = 0;

  constructor(private readonly ward: WardAgent) {
    const self = this;
    this.next = {
      time: 0,
      name: 'arrival',
      priority: -1,
      fire(sim: Simulation): void {
        self.ward.arrive(sim, self.nextSeed);
        self.scheduleNext(sim);
      },
    };
  }

  start(sim: Simulation): void {
    this.rng = sim.rng('arrivals');
    this.script = 0;
    this.scheduleNext(sim);
  }

  private scheduleNext(sim: Simulation): void {
    const o = this.ward.options;
    if (o.arrivals !== null) {
      const a = o.arrivals[this.script++];
      if (a === undefined || a.minute < sim.time) return;
      this.nextSeed = a.seed;
      this.next.time = a.minute;
      sim.schedule(this.next);
      return;
    }
    if (!(o.arrivalsPerDay > 0)) return;
    const perMinute = o.arrivalsPerDay / MIN_PER_DAY;
    let max = 0;
    for (const f of HOURLY_ARRIVAL_PROFILE) max = Math.max(max, f);
    const rmax = perMinute * max;
    let t = sim.time;
    for (;;) {
      t += -Math.log(1 - this.rng.next()) / rmax;
      const hour = Math.floor((t % MIN_PER_DAY) / 60);
      if (this.rng.next() * max < (HOURLY_ARRIVAL_PROFILE[hour] as number)) break;
    }
    this.nextSeed = this.rng.uint32();
    this.next.time = t;
    sim.schedule(this.next);
  }
}

/** The lab: a sample drawn at t is reported at t + turnaround (then reviewed by the pharmacist). */
export class LabAgent implements SimAgent {
  readonly name = 'lab';
  samples = 0;
  constructor(private readonly ward: WardAgent) {}

  receive(sim: Simulation, patient: WardPatient, level: number): void {
    this.samples++;
    sim.schedule({
      time: sim.time + this.ward.options.labTurnaroundMinutes,
      name: 'lab result',
      fire: (s) => this.ward.addTask(s, 'review', patient, s.time, level),
    });
  }
}

export interface WardCounters {
  arrivals: number;
  admissions: number;
  discharged: number;
  died: number;
  transferred: number;
  aki: number;
  sepsisPatients: number;
  vancoPatients: number;
  abxHoursSum: number;
  abxGiven: number;
  abxWithin1h: number;
  waitMinutesSum: number;
  staySum: number;
  stays: number;
  occupancyArea: number;
  deathsWaiting: number;
  levelsDrawn: number;
  obsOverdueArea: number;
}

export class WardAgent implements SimAgent {
  readonly name = 'ward';
  readonly inpatients: WardPatient[] = [];
  readonly queue: WardPatient[] = [];
  readonly tasks: Task[] = [];
  readonly patients: WardPatient[] = [];
  serveRule: ServeRule;
  admissionRule: AdmissionRule;
  lab!: LabAgent;
  readonly counters: WardCounters = {
    arrivals: 0,
    admissions: 0,
    discharged: 0,
    died: 0,
    transferred: 0,
    aki: 0,
    sepsisPatients: 0,
    vancoPatients: 0,
    abxHoursSum: 0,
    abxGiven: 0,
    abxWithin1h: 0,
    waitMinutesSum: 0,
    staySum: 0,
    stays: 0,
    occupancyArea: 0,
    deathsWaiting: 0,
    levelsDrawn: 0,
    obsOverdueArea: 0,
  };
  private seq = 0;

  constructor(readonly options: ResolvedWardOptions) {
    this.serveRule = options.serveRule;
    this.admissionRule = options.admissionRule;
  }

  get occupied(): number {
    return this.inpatients.length;
  }

  addTask(sim: Simulation, kind: TaskKind, patient: WardPatient, due: number, value = 0): void {
    this.tasks.push({ kind, patient, due: Math.max(due, sim.time), seq: this.seq++, value });
  }

  /** Remove and return the task the serving rule picks for a nurse (or the pharmacist); drops tasks of patients who left. */
  take(now: number, nurse: boolean): Task | null {
    for (;;) {
      const i = pickTask(this.tasks, now, nurse ? this.serveRule : 'fcfs', nurse);
      if (i < 0) return null;
      const task = this.tasks[i] as Task;
      this.tasks.splice(i, 1);
      const left = task.patient.outcome !== 'inpatient';
      if (!left || task.kind === 'discharge') return task;
    }
  }

  arrive(sim: Simulation, seed: number): void {
    const p = makePatient(this.patients.length, seed, sim.time, this.options.sepsisShare);
    this.patients.push(p);
    this.counters.arrivals++;
    if (p.cls === 'sepsis') {
      this.counters.sepsisPatients++;
      this.scheduleSepsisTick(sim, p, sim.time + this.options.sepsisTickMinutes);
    } else {
      this.counters.vancoPatients++;
    }
    if (this.inpatients.length < this.options.beds) this.admit(sim, p);
    else this.queue.push(p);
  }

  private admit(sim: Simulation, p: WardPatient): void {
    p.outcome = 'inpatient';
    p.admitted = sim.time;
    this.counters.admissions++;
    this.counters.waitMinutesSum += sim.time - p.arrival;
    this.inpatients.push(p);
    this.addTask(sim, 'admission', p, sim.time);
    this.addTask(sim, 'care', p, sim.time + CARE_INTERVAL_MIN);
    if (p.cls === 'sepsis') {
      this.addTask(sim, 'abx', p, sim.time);
    } else {
      p.pkTime = sim.time;
      p.courseEnd = sim.time + (5 + 5 * p.dyn.next()) * MIN_PER_DAY;
      p.nextDoseDue = sim.time;
      this.addTask(sim, 'vanco-dose', p, sim.time);
      this.addTask(sim, 'verify', p, sim.time);
      sim.schedule({ time: sim.time + MIN_PER_DAY, name: 'aki check', fire: (s) => this.akiCheck(s, p) });
      sim.schedule({ time: p.courseEnd, name: 'course end', fire: (s) => this.courseEnd(s, p) });
    }
    sim.schedule({ time: sim.time + Math.floor(this.options.maxStayDays * MIN_PER_DAY), name: 'max stay', fire: (s) => this.leave(s, p, 'discharged') });
  }

  private scheduleSepsisTick(sim: Simulation, p: WardPatient, time: number): void {
    sim.schedule({ time, name: 'sepsis tick', fire: (s) => this.sepsisTick(s, p) });
  }

  /** One step of the sepsis MDP (Oberst & Sontag 2019): antibiotics on once given, stopped when every vital is normal. */
  private sepsisTick(sim: Simulation, p: WardPatient): void {
    if (p.outcome !== 'inpatient' && p.outcome !== 'waiting') return;
    const action = p.abxOn ? 4 : 0;
    p.full = sampleTransition(p.full, action, p.dyn, false);
    const r = OBS_REWARD[p.full % N_OBS] as number;
    if (r < 0) {
      this.leave(sim, p, 'died');
      return;
    }
    if (r > 0) {
      this.leave(sim, p, 'discharged');
      return;
    }
    if (!Number.isNaN(p.abxGiven)) {
      const s = decodeFull(p.full);
      p.abxOn = numAbnormal(s.hr, s.sysbp, s.o2, s.glucose) > 0;
    }
    this.scheduleSepsisTick(sim, p, sim.time + this.options.sepsisTickMinutes);
  }

  private akiCheck(sim: Simulation, p: WardPatient): void {
    if (p.outcome !== 'inpatient') return;
    advancePk(p, sim.time);
    const auc24 = (p.y[2] as number) - p.aucAtCheck;
    p.aucAtCheck = p.y[2] as number;
    // one draw per day whatever the hazard, so the stream stays aligned across ward policies
    const u = p.akiRng.next();
    if (!p.aki && u < 1 - Math.exp(-akiHazardPerDay(auc24))) {
      p.aki = true;
      this.counters.aki++;
      p.crcl *= AKI_MODEL.crclFactor;
      (p.rhs as VancoRhs).pk = individualPk(p.crcl, p.weight, false, p.eta);
      // AKI prolongs the stay by 2 days (assumed)
      p.courseEnd += 2 * MIN_PER_DAY;
      sim.schedule({ time: p.courseEnd, name: 'course end', fire: (s) => this.courseEnd(s, p) });
    }
    sim.schedule({ time: sim.time + MIN_PER_DAY, name: 'aki check', fire: (s) => this.akiCheck(s, p) });
  }

  private courseEnd(sim: Simulation, p: WardPatient): void {
    if (p.outcome === 'inpatient' && sim.time >= p.courseEnd) this.leave(sim, p, 'discharged');
  }

  /** The patient leaves (bed freed at once; a discharge leaves 20 min of paperwork as a nurse task). */
  leave(sim: Simulation, p: WardPatient, outcome: 'discharged' | 'died' | 'transferred'): void {
    if (p.outcome !== 'inpatient' && p.outcome !== 'waiting') return;
    const wasWaiting = p.outcome === 'waiting';
    p.outcome = outcome;
    p.end = sim.time;
    const c = this.counters;
    if (outcome === 'died') c.died++;
    else if (outcome === 'transferred') c.transferred++;
    else c.discharged++;
    if (wasWaiting) {
      if (outcome === 'died') c.deathsWaiting++;
      this.queue.splice(this.queue.indexOf(p), 1);
      return;
    }
    if (p.cls === 'vancomycin') advancePk(p, sim.time);
    c.staySum += sim.time - p.admitted;
    c.stays++;
    this.inpatients.splice(this.inpatients.indexOf(p), 1);
    if (outcome === 'discharged') this.addTask(sim, 'discharge', p, sim.time);
    this.admitFromQueue(sim);
  }

  private admitFromQueue(sim: Simulation): void {
    while (this.queue.length > 0 && this.inpatients.length < this.options.beds) {
      let k = 0;
      if (this.admissionRule === 'sepsis-first') {
        const s = this.queue.findIndex((q) => q.cls === 'sepsis');
        if (s >= 0) k = s;
      }
      const p = this.queue[k] as WardPatient;
      this.queue.splice(k, 1);
      this.admit(sim, p);
    }
  }

  private scheduleObs(sim: Simulation, p: WardPatient): void {
    this.addTask(sim, 'obs', p, sim.time + observationIntervalMinutes(p.observedScore));
  }

  private observe(sim: Simulation, p: WardPatient): void {
    p.observedScore = p.cls === 'sepsis' ? news2OfSepsisState(p.full) : 0;
    if (p.cls === 'sepsis' && p.observedScore >= this.options.transferScore) {
      this.leave(sim, p, 'transferred');
      return;
    }
    this.scheduleObs(sim, p);
  }

  /** Apply a finished task (effects take place when the task ends). */
  complete(sim: Simulation, task: Task): void {
    const p = task.patient;
    if (p.outcome !== 'inpatient') return;
    switch (task.kind) {
      case 'admission':
      case 'obs':
        this.observe(sim, p);
        break;
      case 'care':
        this.addTask(sim, 'care', p, sim.time + CARE_INTERVAL_MIN);
        break;
      case 'abx':
        p.abxGiven = sim.time;
        p.abxOn = true;
        this.counters.abxGiven++;
        this.counters.abxHoursSum += (sim.time - p.arrival) / 60;
        if (sim.time - p.arrival <= 60) this.counters.abxWithin1h++;
        break;
      case 'vanco-dose': {
        advancePk(p, sim.time);
        // Loading dose 25 mg/kg (Rybak et al. 2020: 20–35 mg/kg), then the maintenance dose, over ~1 h per g.
        const dose = p.dosesGiven === 0 ? roundDose(25 * p.weight, 1000, 3000) : p.maintenanceDose;
        const rhs = p.rhs as VancoRhs;
        rhs.rate = dose / infusionHours(dose);
        p.infusionEnd = sim.time + infusionHours(dose) * 60;
        p.dosesGiven++;
        p.nextDoseDue += 12 * 60;
        if (p.nextDoseDue < p.courseEnd) {
          this.addTask(sim, 'vanco-dose', p, p.nextDoseDue);
          const n = p.dosesGiven + 1;
          const rule = this.options.levelRule;
          const draw = rule === 'before-4th-dose' ? n >= 4 && (n - 4) % 6 === 0 : rule === 'before-2nd-dose' ? n === 2 || (n > 2 && (n - 2) % 6 === 0) : false;
          // trough drawn in the 30 min before the dose is due (steady state from the 4th dose: Rybak 2020)
          if (draw) this.addTask(sim, 'level', p, p.nextDoseDue - 30);
        }
        break;
      }
      case 'level': {
        advancePk(p, sim.time);
        const c = (p.y[0] as number) / (p.rhs as VancoRhs).pk.v1;
        const e = GOTI.residual;
        const measured = Math.max(0.5, c * (1 + e.proportional * p.assay.normal()) + e.additive * p.assay.normal());
        p.levelsDrawn++;
        this.counters.levelsDrawn++;
        this.lab.receive(sim, p, measured);
        break;
      }
      case 'review':
        // proportional (linear-PK) adjustment to a 15 mg/L trough; Rybak 2020 relate troughs of 15–20 mg/L to AUC24 > 400
        p.maintenanceDose = roundDose((p.maintenanceDose * 15) / task.value, 500, 2500);
        break;
      default:
        break;
    }
  }

  advance(_sim: Simulation, t0: number, t1: number): void {
    this.counters.occupancyArea += this.inpatients.length * (t1 - t0);
  }

  collect(sim: Simulation, out: DataCollector): void {
    let overdue = 0;
    for (const t of this.tasks) if (t.kind === 'obs' && t.due < sim.time - 60) overdue++;
    this.counters.obsOverdueArea += overdue;
    out.record('occupied', this.inpatients.length);
    out.record('queue', this.queue.length);
    out.record('pending_tasks', this.tasks.length);
    out.record('deaths', this.counters.died);
    out.record('obs_overdue', overdue);
  }
}

// ---------------------------------------------------------------------------------------------
// The ward simulation
// ---------------------------------------------------------------------------------------------

export interface WardSummary {
  days: number;
  arrivals: number;
  admissions: number;
  inpatients: number;
  waiting: number;
  discharged: number;
  died: number;
  transferred: number;
  /** Deaths over patients whose stay ended. */
  mortality: number;
  meanHoursToAntibiotics: number;
  antibioticsWithin1h: number;
  akiRate: number;
  meanOccupancy: number;
  meanWaitHours: number;
  meanStayHours: number;
  nurseUtilisation: number;
  nurseOvertimeHours: number;
  nurseTasks: number;
  levelsDrawn: number;
}

/** The ward: the agents above in one Simulation (5-min steps). */
export class WardSimulation {
  readonly options: ResolvedWardOptions;
  readonly sim: Simulation;
  readonly ward: WardAgent;
  readonly arrivals: ArrivalsAgent;
  readonly nurses: StaffAgent[] = [];
  readonly pharmacist: StaffAgent;
  readonly lab: LabAgent;

  constructor(seed: number, options: WardOptions = {}) {
    this.options = resolveWardOptions(options);
    const o = this.options;
    this.sim = new Simulation({ seed, startTime: 0 });
    this.ward = new WardAgent(o);
    this.arrivals = new ArrivalsAgent(this.ward);
    this.lab = new LabAgent(this.ward);
    this.ward.lab = this.lab;
    this.sim.addAgent(this.arrivals);
    this.sim.addAgent(this.ward);
    if (o.unlimitedStaff) {
      this.sim.addAgent(new UnlimitedStaff(this.ward));
    } else {
      for (let i = 0; i < o.nursesDay; i++) this.nurses.push(this.sim.addAgent(new StaffAgent(`nurse/day-${i}`, this.ward, true, [7, 19])));
      for (let i = 0; i < o.nursesNight; i++) this.nurses.push(this.sim.addAgent(new StaffAgent(`nurse/night-${i}`, this.ward, true, [19, 7])));
    }
    this.pharmacist = new StaffAgent('pharmacist', this.ward, false, o.pharmacistHours);
    if (!o.unlimitedStaff) this.sim.addAgent(this.pharmacist);
    this.sim.addAgent(this.lab);
    this.arrivals.start(this.sim);
  }

  get time(): number {
    return this.sim.time;
  }

  /** Start the endpoint counters afresh (after a warm-up): patients already present keep their course. */
  resetCounters(): void {
    const c = this.ward.counters;
    for (const k of Object.keys(c) as (keyof WardCounters)[]) c[k] = 0;
    // patients present now count as this period's (for the per-patient rates)
    for (const p of [...this.ward.inpatients, ...this.ward.queue]) {
      if (p.cls === 'sepsis') c.sepsisPatients++;
      else c.vancoPatients++;
    }
    for (const n of [...this.nurses, this.pharmacist]) {
      n.busyMinutes = 0;
      n.overtimeMinutes = 0;
      n.shiftMinutes = 0;
      n.tasksDone = 0;
    }
    this.countersFrom = this.sim.time;
  }

  private countersFrom = 0;

  /** Run until `minute` (a multiple of the 5-min tick). */
  runUntil(minute: number): void {
    if (minute > this.sim.time) this.sim.runUntil(minute, WARD_TICK_MIN);
  }

  summary(): WardSummary {
    const c = this.ward.counters;
    const t = this.sim.time - this.countersFrom;
    const ended = c.discharged + c.died + c.transferred;
    let busy = 0;
    let shift = 0;
    let overtime = 0;
    let tasks = 0;
    for (const n of this.nurses) {
      busy += n.busyMinutes;
      shift += n.shiftMinutes;
      overtime += n.overtimeMinutes;
      tasks += n.tasksDone;
    }
    return {
      days: t / MIN_PER_DAY,
      arrivals: c.arrivals,
      admissions: c.admissions,
      inpatients: this.ward.inpatients.length,
      waiting: this.ward.queue.length,
      discharged: c.discharged,
      died: c.died,
      transferred: c.transferred,
      mortality: ended > 0 ? c.died / ended : 0,
      meanHoursToAntibiotics: c.abxGiven > 0 ? c.abxHoursSum / c.abxGiven : 0,
      antibioticsWithin1h: c.abxGiven > 0 ? c.abxWithin1h / c.abxGiven : 0,
      akiRate: c.vancoPatients > 0 ? c.aki / c.vancoPatients : 0,
      meanOccupancy: t > 0 ? c.occupancyArea / t : 0,
      meanWaitHours: c.admissions > 0 ? c.waitMinutesSum / c.admissions / 60 : 0,
      meanStayHours: c.stays > 0 ? c.staySum / c.stays / 60 : 0,
      nurseUtilisation: shift > 0 ? busy / shift : 0,
      nurseOvertimeHours: overtime / 60,
      nurseTasks: tasks,
      levelsDrawn: c.levelsDrawn,
    };
  }
}

/** No staff limit: every due task starts at the step boundary at or after its due time. */
class UnlimitedStaff implements SimAgent {
  readonly name = 'unlimited-staff';
  constructor(private readonly ward: WardAgent) {}

  decide(sim: Simulation): void {
    for (;;) {
      const task = this.ward.take(sim.time, true) ?? this.ward.take(sim.time, false);
      if (task === null) return;
      const ward = this.ward;
      sim.schedule({ time: sim.time + ward.options.taskMinutes[task.kind], name: 'task done', fire: (s) => ward.complete(s, task) });
    }
  }
}
