/**
 * The ward over time from the `info.ward` snapshots of an episode (WardStepInfo in env.ts): bed stays
 * (one per patient and bed, with the outcome the ward reports), staff activity as intervals, the
 * admission queue and the nurse tasks due, and one patient's own tracks. Pure functions over plain
 * JSON, so the browser viewer (viewer/src/views/ward.ts) and the tests use the same code; this module
 * imports nothing but types.
 *
 * Time is minutes since the first decision (`info.ward.minute`; the reset snapshot is minute 0).
 */
import type { WardBedInfo, WardLeftInfo, WardStepInfo } from './env.js';

/** How a stay ended: the ward's outcome, `in bed` (still there at the last snapshot) or `unknown` (a log without `left`). */
export type StayOutcome = WardLeftInfo['outcome'] | 'in bed' | 'unknown';

export interface WardStay {
  /** Patient id (arrival order in the simulation). */
  id: number;
  cls: WardBedInfo['cls'];
  /** Bed index in `info.ward.beds`; null for a stay that began and ended between two snapshots. */
  bed: number | null;
  /** Admission minute (negative: admitted before the first decision). */
  start: number;
  /** Minute the stay ended, or the last snapshot's minute for a patient still in bed. */
  end: number;
  outcome: StayOutcome;
}

/** What a staff member was doing from `start` until `end` (the next snapshot that differs). */
export interface StaffInterval {
  staff: string;
  /** A task kind (`obs`, `abx`, …), `idle` (on shift, no task) or `off` (off shift). */
  state: string;
  start: number;
  end: number;
}

export interface WardTimeline {
  /** Snapshot minutes, ascending. */
  minutes: number[];
  /** Number of bed rows (the largest `beds` length seen). */
  beds: number;
  stays: WardStay[];
  /** Staff names in the order of the first snapshot (later newcomers appended). */
  staff: string[];
  staffIntervals: StaffInterval[];
  /** Per snapshot: patients waiting for a bed and nurse tasks due by kind. */
  queue: { minute: number; queue: number }[];
  due: { minute: number; kind: string; count: number }[];
}

/** `info.ward` of a step's info, when it looks like one (older logs have none). */
export function wardInfoOf(info: unknown): WardStepInfo | null {
  const w = info !== null && typeof info === 'object' ? (info as { ward?: unknown }).ward : undefined;
  if (w === null || typeof w !== 'object') return null;
  const ward = w as Partial<WardStepInfo>;
  return typeof ward.minute === 'number' && Array.isArray(ward.beds) && ward.staff !== null && typeof ward.staff === 'object' ? (ward as WardStepInfo) : null;
}

/**
 * Builds the timeline from snapshots in time order. A bed's stay runs from the patient's admission
 * minute to the end the ward reports in `left` (exact, even between snapshots); a bed whose patient
 * changes between two snapshots (re-used within a step) closes one stay and opens the next. A patient
 * still in bed at the last snapshot ends there with outcome `in bed`. Stays reported in `left` that
 * never appeared in a snapshot (shorter than a step) are kept with `bed: null`.
 *
 * Staff: each snapshot's state holds until the next snapshot; equal consecutive states merge. The
 * last snapshot's state has no duration (it is the end of the episode), so it adds nothing.
 */
export function wardTimeline(snapshots: readonly WardStepInfo[]): WardTimeline {
  const minutes = snapshots.map((s) => s.minute);
  const beds = snapshots.reduce((m, s) => Math.max(m, s.beds.length), 0);
  const stays: WardStay[] = [];
  const open: (WardStay | null)[] = Array.from({ length: beds }, () => null);
  const reported = new Set<number>();
  for (const s of snapshots) {
    const left = new Map<number, WardLeftInfo>();
    for (const l of s.left ?? []) left.set(l.id, l);
    for (let k = 0; k < beds; k++) {
      const b = s.beds[k] ?? null;
      const current = open[k] ?? null;
      if (current !== null && current.id !== b?.id) {
        const l = left.get(current.id);
        current.end = l ? l.ended : s.minute;
        current.outcome = l ? l.outcome : 'unknown';
        reported.add(current.id);
        open[k] = null;
      }
      if (b !== null && open[k] === null) {
        const stay: WardStay = { id: b.id, cls: b.cls, bed: k, start: b.admitted, end: s.minute, outcome: 'in bed' };
        stays.push(stay);
        open[k] = stay;
      }
      const o = open[k];
      if (o) o.end = s.minute;
    }
    for (const l of s.left ?? []) {
      if (l.bed === null && !reported.has(l.id)) {
        stays.push({ id: l.id, cls: l.cls, bed: null, start: l.admitted, end: l.ended, outcome: l.outcome });
        reported.add(l.id);
      }
    }
  }

  const staff: string[] = [];
  for (const s of snapshots) for (const name of Object.keys(s.staff)) if (!staff.includes(name)) staff.push(name);
  const staffIntervals: StaffInterval[] = [];
  for (const name of staff) {
    let run: StaffInterval | null = null;
    for (let i = 0; i + 1 < snapshots.length; i++) {
      const s = snapshots[i] as WardStepInfo;
      const next = (snapshots[i + 1] as WardStepInfo).minute;
      const state = s.staff[name];
      if (state === undefined) {
        run = null;
        continue;
      }
      if (run !== null && run.state === state && run.end === s.minute) run.end = next;
      else {
        run = { staff: name, state, start: s.minute, end: next };
        staffIntervals.push(run);
      }
    }
  }

  const queue = snapshots.map((s) => ({ minute: s.minute, queue: s.queue }));
  const due = snapshots.flatMap((s) => Object.entries(s.due).map(([kind, count]) => ({ minute: s.minute, kind, count })));
  return { minutes, beds, stays, staff, staffIntervals, queue, due };
}

/** One quantity of a patient's own tracks, with its unit and the chart panel it goes to. */
export interface PatientTrackDefinition {
  field: keyof WardBedInfo;
  label: string;
  unit: string;
  panel: string;
  /** Names of codes 0, 1 for on/off quantities. */
  categories?: readonly string[];
  /** A reference band drawn behind the track. */
  band?: { lo: number; hi: number; label: string };
}

/**
 * What a patient's panel shows, by class. The NEWS2-like score is the ward's (environments/hospital/
 * README.md: RCP 2017 NEWS2 chart 1 applied to the sepsis MDP's levels); AUC24 400–600 mg·h/L is the
 * target of Rybak et al. 2020 (ASHP/IDSA/PIDS/SIDP vancomycin guideline, MIC 1 mg/L).
 */
export const PATIENT_TRACKS: Readonly<Record<WardBedInfo['cls'], readonly PatientTrackDefinition[]>> = {
  sepsis: [
    { field: 'news2', label: 'NEWS2 observed by a nurse', unit: 'points', panel: 'NEWS2-like score (points)' },
    { field: 'score', label: 'NEWS2 of the true state', unit: 'points', panel: 'NEWS2-like score (points)' },
    { field: 'abnormal', label: 'vitals out of range', unit: 'count', panel: 'vitals out of range (count)' },
    { field: 'abx', label: 'antibiotics', unit: 'off/on', panel: 'antibiotics', categories: ['off', 'on'] },
  ],
  vancomycin: [
    { field: 'news2', label: 'NEWS2 observed by a nurse', unit: 'points', panel: 'NEWS2-like score (points)' },
    { field: 'conc', label: 'central concentration', unit: 'mg/L', panel: 'vancomycin concentration (mg/L)' },
    { field: 'auc24', label: 'AUC of the last 24 h', unit: 'mg·h/L', panel: 'AUC24 (mg·h/L)', band: { lo: 400, hi: 600, label: 'target 400–600 (Rybak 2020)' } },
    { field: 'doses', label: 'doses given', unit: 'count', panel: 'vancomycin doses given (count)' },
    { field: 'aki', label: 'acute kidney injury', unit: 'no/yes', panel: 'acute kidney injury', categories: ['no', 'yes'] },
  ],
};

export interface PatientTrackRow {
  minute: number;
  field: string;
  label: string;
  unit: string;
  panel: string;
  value: number;
}

export interface PatientTracks {
  id: number;
  cls: WardBedInfo['cls'];
  definitions: readonly PatientTrackDefinition[];
  /** One row per snapshot in bed and quantity with a value (nulls, e.g. AUC24 in the first 24 h, are left out). */
  rows: PatientTrackRow[];
}

/** A patient's tracks over the snapshots in which they are in a bed; null if they never are. */
export function patientTracks(snapshots: readonly WardStepInfo[], id: number): PatientTracks | null {
  let cls: WardBedInfo['cls'] | null = null;
  const rows: PatientTrackRow[] = [];
  for (const s of snapshots) {
    const b = s.beds.find((x) => x !== null && x.id === id);
    if (!b) continue;
    cls = b.cls;
    for (const d of PATIENT_TRACKS[b.cls]) {
      const v = b[d.field];
      if (typeof v === 'number' && Number.isFinite(v)) rows.push({ minute: s.minute, field: d.field, label: d.label, unit: d.unit, panel: d.panel, value: v });
    }
  }
  return cls === null ? null : { id, cls, definitions: PATIENT_TRACKS[cls], rows };
}
