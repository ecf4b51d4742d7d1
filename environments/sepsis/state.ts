import { TwinlabError } from '../../engine/errors.js';

/**
 * State space of the Oberst & Sontag (ICML 2019) sepsis simulator, `clinicalml/gumbel-max-scm`,
 * `sepsisSimDiabetes/State.py` and `Action.py`.
 *
 * Variables (all categorical): hr 0 low/1 normal/2 high; sysbp 0/1/2 likewise; percoxyg (O2 sat) 0 low/1 normal;
 * glucose 0 very low … 2 normal … 4 very high; antibiotics, vasopressors, ventilation 0 off/1 on; diabetic
 * (hidden) 0/1.
 *
 * Index encodings (mixed radix, most significant first, exactly as `State.get_state_idx`):
 *   obs  = ((((((hr·3 + sysbp)·2 + o2)·5 + glucose)·2 + abx)·2 + vaso)·2 + vent)    ∈ [0, 720)
 *   full = diabetic·720 + obs                                                         ∈ [0, 1440)
 *   proj = (((((hr·3 + sysbp)·2 + o2)·2 + abx)·2 + vaso)·2 + vent)                    ∈ [0, 144)
 * Action (Action.py): a = 4·antibiotic + 2·ventilation + vasopressors ∈ [0, 8).
 */
export const N_OBS = 720;
export const N_FULL = 1440;
export const N_PROJ = 144;
export const N_ACTIONS = 8;

export const VARIABLES = ['hr', 'sysbp', 'o2', 'glucose', 'abx', 'vaso', 'vent'] as const;
export type Variable = (typeof VARIABLES)[number];
export const LEVEL_NAMES: Record<Variable, readonly string[]> = {
  hr: ['low', 'normal', 'high'],
  sysbp: ['low', 'normal', 'high'],
  o2: ['low', 'normal'],
  glucose: ['very-low', 'low', 'normal', 'high', 'very-high'],
  abx: ['off', 'on'],
  vaso: ['off', 'on'],
  vent: ['off', 'on'],
};
/** Action meanings (a = 4·antibiotics + 2·ventilation + vasopressors). */
export const ACTION_LABELS = [
  'no treatment',
  'vasopressors',
  'ventilation',
  'ventilation+vasopressors',
  'antibiotics',
  'antibiotics+vasopressors',
  'antibiotics+ventilation',
  'antibiotics+ventilation+vasopressors',
] as const;

export interface SepsisState {
  hr: number;
  sysbp: number;
  o2: number;
  glucose: number;
  abx: number;
  vaso: number;
  vent: number;
  diabetic: number;
}

export function encodeObs(s: Omit<SepsisState, 'diabetic'>): number {
  return ((((((s.hr * 3 + s.sysbp) * 2 + s.o2) * 5 + s.glucose) * 2 + s.abx) * 2 + s.vaso) * 2 + s.vent);
}

export function encodeFull(s: SepsisState): number {
  return s.diabetic * N_OBS + encodeObs(s);
}

export function encodeProj(s: Omit<SepsisState, 'diabetic' | 'glucose'>): number {
  return (((((s.hr * 3 + s.sysbp) * 2 + s.o2) * 2 + s.abx) * 2 + s.vaso) * 2 + s.vent);
}

export function decodeFull(full: number): SepsisState {
  if (!Number.isInteger(full) || full < 0 || full >= N_FULL) {
    throw new TwinlabError('INVALID_ARGUMENT', `sepsis full state index must be an integer in [0, ${N_FULL}), got ${full}`);
  }
  let r = full;
  const vent = r % 2;
  r = (r - vent) / 2;
  const vaso = r % 2;
  r = (r - vaso) / 2;
  const abx = r % 2;
  r = (r - abx) / 2;
  const glucose = r % 5;
  r = (r - glucose) / 5;
  const o2 = r % 2;
  r = (r - o2) / 2;
  const sysbp = r % 3;
  r = (r - sysbp) / 3;
  const hr = r % 3;
  const diabetic = (r - hr) / 3;
  return { hr, sysbp, o2, glucose, abx, vaso, vent, diabetic };
}

/** Observed index → projected index (drops the glucose digit). */
export function obsToProj(obs: number): number {
  const low = obs % 8; // abx, vaso, vent
  const high = Math.floor(obs / 40); // hr, sysbp, o2
  return high * 8 + low;
}

/** `State.get_num_abnormal`: [hr≠1] + [sysbp≠1] + [o2≠1] + [glucose≠2]. */
export function numAbnormal(hr: number, sysbp: number, o2: number, glucose: number): number {
  return (hr !== 1 ? 1 : 0) + (sysbp !== 1 ? 1 : 0) + (o2 !== 1 ? 1 : 0) + (glucose !== 2 ? 1 : 0);
}

/**
 * `MDP.calculateReward` on the state after a transition: −1 (death) if ≥ 3 vitals are abnormal, +1
 * (discharge) if none is abnormal and no treatment is on, else 0. A non-zero reward ends the episode.
 */
export function rewardOfObs(obs: number): number {
  const s = decodeFull(obs % N_OBS);
  const k = numAbnormal(s.hr, s.sysbp, s.o2, s.glucose);
  if (k >= 3) return -1;
  if (k === 0 && s.abx === 0 && s.vaso === 0 && s.vent === 0) return 1;
  return 0;
}

/** Arrival reward of every observed state (−1, 0, +1), precomputed. */
export const OBS_REWARD: Int8Array = Int8Array.from({ length: N_OBS }, (_, i) => rewardOfObs(i));
