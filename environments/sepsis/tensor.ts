import { TwinlabError } from '../../engine/errors.js';
import { CsrBuilder, type TabularMdp } from './mdp.js';
import { N_ACTIONS, N_FULL, N_OBS, N_PROJ, OBS_REWARD, decodeFull, numAbnormal, obsToProj } from './state.js';

/**
 * Exact transition tensors of the Oberst & Sontag (2019) simulator by enumeration, instead of the
 * 10,000-samples-per-(diabetes, s, a) Monte Carlo estimate of `learn_mdp_parameters.ipynb`.
 *
 * Given (state, action, diabetes) the four vitals move independently (each rule draws its own uniforms),
 * so each row is the product of four per-variable categorical distributions, each obtained by applying
 * the stage matrices of docs/MODELS.md §2 in the simulator's order (antibiotics → ventilation → vasopressors →
 * fluctuation). The treatment flags of the next state equal the action bits. This is a second,
 * independent implementation of the rules of `model.ts::sampleTransition`; the tests compare them.
 */

type Dist = Float64Array;

function oneHot(n: number, k: number): Dist {
  const d = new Float64Array(n);
  d[k] = 1;
  return d;
}

/** Apply a per-level rule: `rule(level)` returns [[nextLevel, p], …] summing to 1. */
function apply(d: Dist, rule: (level: number) => Array<[number, number]>): Dist {
  const out = new Float64Array(d.length);
  for (let l = 0; l < d.length; l++) {
    const m = d[l] as number;
    if (m === 0) continue;
    for (const [to, p] of rule(l)) out[to] = (out[to] as number) + m * p;
  }
  return out;
}

/** ±1 fluctuation w.p. down/up, clipped to [0, top]; `upTo` overrides the up move's target. */
const fluctuate =
  (down: number, up: number, top: number, upTo: (l: number) => number = (l) => Math.min(top, l + 1)) =>
  (l: number): Array<[number, number]> => [
    [Math.max(0, l - 1), down],
    [upTo(l), up],
    [l, 1 - down - up],
  ];
const moveIf =
  (from: number, to: number, p: number) =>
  (l: number): Array<[number, number]> =>
    l === from ? [[to, p], [from, 1 - p]] : [[l, 1]];

export interface VariableMarginals {
  hr: Dist;
  sysbp: Dist;
  o2: Dist;
  glucose: Dist;
}

/** The four independent next-state marginals of (full state, action). */
export function nextMarginals(full: number, action: number, glucoseDefect: boolean): VariableMarginals {
  const s = decodeFull(full);
  const aAbx = action >> 2;
  const aVent = (action >> 1) & 1;
  const aVaso = action & 1;
  const diab = s.diabetic === 1;

  let hr = oneHot(3, s.hr);
  let sysbp = oneHot(3, s.sysbp);
  let sysbpFluct = true;
  if (aAbx === 1) {
    hr = apply(hr, moveIf(2, 1, 0.5));
    sysbp = apply(sysbp, moveIf(2, 1, 0.5));
    sysbpFluct = false;
  } else if (s.abx === 1) {
    hr = apply(hr, moveIf(1, 2, 0.1));
    sysbp = apply(sysbp, moveIf(1, 2, 0.1));
    sysbpFluct = false;
  } else {
    hr = apply(hr, fluctuate(0.1, 0.1, 2));
  }

  let o2 = oneHot(2, s.o2);
  if (aVent === 1) o2 = apply(o2, moveIf(0, 1, 0.7));
  else if (s.vent === 1) o2 = apply(o2, moveIf(1, 0, 0.1));
  else o2 = apply(o2, fluctuate(0.1, 0.1, 1));

  let glucose = oneHot(5, s.glucose);
  if (aVaso === 1) {
    sysbp = diab
      ? apply(sysbp, (l) => (l === 1 ? [[2, 0.9], [1, 0.1]] : l === 0 ? [[1, 0.5], [2, 0.4], [0, 0.1]] : [[2, 1]]))
      : apply(sysbp, (l) => (l === 2 ? [[2, 1]] : [[l + 1, 0.7], [l, 0.3]]));
    if (diab) glucose = apply(glucose, (l) => [[Math.min(4, l + 1), 0.5], [l, 0.5]]);
    sysbpFluct = false;
  } else {
    if (s.vaso === 1) {
      const p = diab ? 0.05 : 0.1;
      sysbp = apply(sysbp, (l) => [[Math.max(0, l - 1), p], [l, 1 - p]]);
      sysbpFluct = false;
    }
    glucose = diab
      ? apply(glucose, fluctuate(0.3, 0.3, 4))
      : apply(glucose, fluctuate(0.1, 0.1, 4, (l) => (glucoseDefect ? Math.min(1, l + 1) : Math.min(4, l + 1))));
  }
  if (sysbpFluct) sysbp = apply(sysbp, fluctuate(0.1, 0.1, 2));
  return { hr, sysbp, o2, glucose };
}

export interface SepsisModelOptions {
  glucoseDefect: boolean;
}

/**
 * The full-information MDP: 1440 states (diabetes × 720 observed), 8 actions, block diagonal in
 * diabetes. Arrival rewards −1/0/+1 (`State.calculateReward`); states with reward ≠ 0 are terminal.
 */
export function buildFullModel(options: SepsisModelOptions): TabularMdp {
  const b = new CsrBuilder(N_FULL, N_ACTIONS, N_FULL * N_ACTIONS * 24);
  for (let s = 0; s < N_FULL; s++) {
    const diabOffset = s >= N_OBS ? N_OBS : 0;
    for (let a = 0; a < N_ACTIONS; a++) {
      const m = nextMarginals(s, a, options.glucoseDefect);
      const flags = ((a >> 2) << 2) | ((a & 1) << 1) | ((a >> 1) & 1); // abx, vaso, vent digits
      for (let hr = 0; hr < 3; hr++) {
        const ph = m.hr[hr] as number;
        if (ph === 0) continue;
        for (let bp = 0; bp < 3; bp++) {
          const pb = ph * (m.sysbp[bp] as number);
          if (pb === 0) continue;
          for (let o2 = 0; o2 < 2; o2++) {
            const po = pb * (m.o2[o2] as number);
            if (po === 0) continue;
            for (let g = 0; g < 5; g++) {
              const p = po * (m.glucose[g] as number);
              if (p === 0) continue;
              b.push(diabOffset + (((hr * 3 + bp) * 2 + o2) * 5 + g) * 8 + flags, p);
            }
          }
        }
      }
      b.endRow();
    }
  }
  const reward = new Float64Array(N_FULL);
  const terminal = new Uint8Array(N_FULL);
  for (let s = 0; s < N_FULL; s++) {
    reward[s] = OBS_REWARD[s % N_OBS] as number;
    terminal[s] = reward[s] !== 0 ? 1 : 0;
  }
  return b.build(reward, terminal);
}

/**
 * The observed (720-state) MDP with diabetes marginalised by its prior, as
 * `cf.MatrixMDP.policyIteration` does (tx_obs = Σ_c p_c·tx_c, p = (1 − p_diabetes, p_diabetes)).
 * Note this is the fixed-prior marginal, not the belief-state POMDP: it ignores what the history
 * reveals about diabetes.
 */
export function buildObservedModel(full: TabularMdp, pDiabetes: number): TabularMdp {
  if (!(pDiabetes >= 0 && pDiabetes <= 1)) throw new TwinlabError('INVALID_ARGUMENT', `pDiabetes must be in [0, 1], got ${pDiabetes}`);
  const b = new CsrBuilder(N_OBS, N_ACTIONS, N_OBS * N_ACTIONS * 30);
  const acc = new Float64Array(N_OBS);
  const touched: number[] = [];
  for (let s = 0; s < N_OBS; s++) {
    for (let a = 0; a < N_ACTIONS; a++) {
      for (const [c, w] of [
        [0, 1 - pDiabetes],
        [1, pDiabetes],
      ] as const) {
        if (w === 0) continue;
        const row = (c * N_OBS + s) * N_ACTIONS + a;
        for (let k = full.rowStart[row] as number; k < (full.rowStart[row + 1] as number); k++) {
          const sp = (full.next[k] as number) - c * N_OBS;
          if (acc[sp] === 0) touched.push(sp);
          acc[sp] = (acc[sp] as number) + w * (full.prob[k] as number);
        }
      }
      touched.sort((x, y) => x - y);
      for (const sp of touched) {
        b.push(sp, acc[sp] as number);
        acc[sp] = 0;
      }
      touched.length = 0;
      b.endRow();
    }
  }
  return b.build(full.arrivalReward.slice(0, N_OBS), full.terminal.slice(0, N_OBS));
}

export const PROJ_DEATH = N_PROJ;
export const PROJ_DISCHARGE = N_PROJ + 1;

/**
 * The projected MDP (144 states with glucose marginalised out, + death (144) and discharge (145) sinks)
 * of `plots-main-paper.ipynb`, in its large-sample limit: the notebook estimates it from behaviour-policy
 * counts, whose limit is the occupancy-weighted mixture
 *   P(j′ | j, a) = Σ_{s→j} w(s,a)·P(j′ | s,a) / Σ_{s→j} w(s,a),   w(s,a) = expected visits of (s, a),
 * with w over the 1440 full states. (s, a) pairs never visited are instant death, as in the notebook.
 * Arrivals in death/discharge full states map to the sinks directly (the notebook reaches its sinks one
 * projected step later; with γ = 0.99 this changes values by ≤ 1 %, documented in the README).
 */
export function buildProjectedModel(full: TabularMdp, occupancy: Float64Array): TabularMdp {
  const n = N_PROJ + 2;
  if (occupancy.length !== N_FULL * N_ACTIONS) throw new TwinlabError('INVALID_ARGUMENT', `occupancy must have ${N_FULL * N_ACTIONS} entries, got ${occupancy.length}`);
  const b = new CsrBuilder(n, N_ACTIONS, n * N_ACTIONS * 24);
  const members: number[][] = Array.from({ length: N_PROJ }, () => []);
  for (let s = 0; s < N_FULL; s++) members[obsToProj(s % N_OBS)]?.push(s);
  const acc = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    for (let a = 0; a < N_ACTIONS; a++) {
      if (j >= N_PROJ) {
        b.push(j, 1);
        b.endRow();
        continue;
      }
      acc.fill(0);
      let total = 0;
      for (const s of members[j] as number[]) {
        const w = occupancy[s * N_ACTIONS + a] as number;
        if (w === 0) continue;
        total += w;
        const row = s * N_ACTIONS + a;
        for (let k = full.rowStart[row] as number; k < (full.rowStart[row + 1] as number); k++) {
          const sp = full.next[k] as number;
          const r = full.arrivalReward[sp] as number;
          const target = r < 0 ? PROJ_DEATH : r > 0 ? PROJ_DISCHARGE : obsToProj(sp % N_OBS);
          acc[target] = (acc[target] as number) + w * (full.prob[k] as number);
        }
      }
      if (total === 0) b.push(PROJ_DEATH, 1);
      else for (let t = 0; t < n; t++) if ((acc[t] as number) > 0) b.push(t, (acc[t] as number) / total);
      b.endRow();
    }
  }
  const reward = new Float64Array(n);
  const terminal = new Uint8Array(n);
  reward[PROJ_DEATH] = -1;
  reward[PROJ_DISCHARGE] = 1;
  terminal[PROJ_DEATH] = 1;
  terminal[PROJ_DISCHARGE] = 1;
  return b.build(reward, terminal);
}

/** Raw initial categorical tables (`MDP.generate_random_state`). */
export const INITIAL = {
  hr: [0.25, 0.5, 0.25],
  sysbp: [0.25, 0.5, 0.25],
  o2: [0.2, 0.8],
  glucose: [
    [0.05, 0.15, 0.6, 0.15, 0.05],
    [0.01, 0.05, 0.15, 0.6, 0.19],
  ],
} as const;

/**
 * Exact initial-state distribution over the 1440 full states: diabetes ~ Bern(pDiabetes), hr, sysbp,
 * O2, glucose from the tables above, treatments off, *jointly* redrawn while the state is absorbing
 * (`MDP.get_new_state` redraws diabetes too), i.e. the product law conditioned on non-absorbing.
 * `diabetic` fixes diabetes (`random_cond_diab`).
 */
export function initialDistribution(pDiabetes: number, diabetic?: 0 | 1): Float64Array {
  const d = new Float64Array(N_FULL);
  let total = 0;
  for (let c = 0; c < 2; c++) {
    const pc = diabetic === undefined ? (c === 1 ? pDiabetes : 1 - pDiabetes) : c === diabetic ? 1 : 0;
    if (pc === 0) continue;
    for (let hr = 0; hr < 3; hr++)
      for (let bp = 0; bp < 3; bp++)
        for (let o2 = 0; o2 < 2; o2++)
          for (let g = 0; g < 5; g++) {
            const k = numAbnormal(hr, bp, o2, g);
            if (k >= 3 || k === 0) continue;
            const p = pc * (INITIAL.hr[hr] as number) * (INITIAL.sysbp[bp] as number) * (INITIAL.o2[o2] as number) * (INITIAL.glucose[c]?.[g] as number);
            d[c * N_OBS + (((hr * 3 + bp) * 2 + o2) * 5 + g) * 8] = p;
            total += p;
          }
  }
  for (let s = 0; s < N_FULL; s++) d[s] = (d[s] as number) / total;
  return d;
}
