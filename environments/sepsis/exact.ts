import { TwinlabError } from '../../engine/errors.js';
import type { TabularMdp } from './mdp.js';
import { N_ACTIONS, N_FULL, N_OBS, obsToProj } from './state.js';

/**
 * Exact finite-horizon evaluation of a stochastic stationary policy on the full 1440-state sepsis MDP:
 * the state distribution d_t is pushed forward through the transition tensor for `horizon` steps (the
 * paper's NSTEPS = 20), accumulating the probability of death and discharge, the expected discharge
 * step and the expected treatment-days. No sampling error — the ground truth that Monte Carlo
 * simulations and learned policies are compared with.
 */
export interface ExactOutcome {
  pDeath: number;
  pDischarge: number;
  /** Probability of neither by the horizon (truncated episodes). */
  pOngoing: number;
  /** Undiscounted expected return = pDischarge − pDeath (the paper's reporting convention, γ = 1). */
  expectedReturn: number;
  /** E[discharge step], death or no discharge counted as `horizon` (the endpoint `time-to-discharge`). */
  expectedTimeToDischarge: number;
  /** E[steps on each treatment]: antibiotics, ventilation, vasopressors, and any treatment. */
  expectedAntibioticDays: number;
  expectedVentilationDays: number;
  expectedVasopressorDays: number;
  expectedTreatmentDays: number;
  /** Expected visits of each (full state, action) before the episode ends: w[s·8 + a]. */
  occupancy: Float64Array;
}

/** `probs[s·8 + a]` = π(a | s) over the 1440 full states. */
export function evaluateExact(full: TabularMdp, probs: Float64Array, initial: Float64Array, horizon: number): ExactOutcome {
  if (probs.length !== N_FULL * N_ACTIONS) throw new TwinlabError('INVALID_ARGUMENT', `policy table must have ${N_FULL * N_ACTIONS} entries, got ${probs.length}`);
  let d = Float64Array.from(initial);
  let nextD = new Float64Array(N_FULL);
  const occupancy = new Float64Array(N_FULL * N_ACTIONS);
  let pDeath = 0;
  let pDischarge = 0;
  let dischargeTime = 0;
  let abx = 0;
  let vent = 0;
  let vaso = 0;
  let any = 0;
  for (let t = 0; t < horizon; t++) {
    nextD.fill(0);
    for (let s = 0; s < N_FULL; s++) {
      const ms = d[s] as number;
      if (ms === 0) continue;
      for (let a = 0; a < N_ACTIONS; a++) {
        const m = ms * (probs[s * N_ACTIONS + a] as number);
        if (m === 0) continue;
        occupancy[s * N_ACTIONS + a] = (occupancy[s * N_ACTIONS + a] as number) + m;
        abx += m * (a >> 2);
        vent += m * ((a >> 1) & 1);
        vaso += m * (a & 1);
        if (a !== 0) any += m;
        const row = s * N_ACTIONS + a;
        for (let k = full.rowStart[row] as number; k < (full.rowStart[row + 1] as number); k++) {
          const sp = full.next[k] as number;
          const mass = m * (full.prob[k] as number);
          const r = full.arrivalReward[sp] as number;
          if (r < 0) pDeath += mass;
          else if (r > 0) {
            pDischarge += mass;
            dischargeTime += (t + 1) * mass;
          } else nextD[sp] = (nextD[sp] as number) + mass;
        }
      }
    }
    const tmp = d;
    d = nextD;
    nextD = tmp;
  }
  let pOngoing = 0;
  for (let s = 0; s < N_FULL; s++) pOngoing += d[s] as number;
  return {
    pDeath,
    pDischarge,
    pOngoing,
    expectedReturn: pDischarge - pDeath,
    expectedTimeToDischarge: dischargeTime + horizon * (1 - pDischarge),
    expectedAntibioticDays: abx,
    expectedVentilationDays: vent,
    expectedVasopressorDays: vaso,
    expectedTreatmentDays: any,
    occupancy,
  };
}

/** Deterministic action table over full states → π table. */
export function deterministicProbs(actionOfFull: (full: number) => number): Float64Array {
  const probs = new Float64Array(N_FULL * N_ACTIONS);
  for (let s = 0; s < N_FULL; s++) probs[s * N_ACTIONS + actionOfFull(s)] = 1;
  return probs;
}

/**
 * The paper's behaviour ("physician") policy (`plots-main-paper.ipynb`, PHYS_EPSILON = 0.05): the
 * greedy action of the full-information optimal policy gets 1 − ε, each of the other 7 actions ε/7.
 */
export function softenedProbs(greedyFull: Int32Array, epsilon: number): Float64Array {
  if (!(epsilon >= 0 && epsilon <= 1)) throw new TwinlabError('INVALID_ARGUMENT', `epsilon must be in [0, 1], got ${epsilon}`);
  const probs = new Float64Array(N_FULL * N_ACTIONS);
  for (let s = 0; s < N_FULL; s++) {
    for (let a = 0; a < N_ACTIONS; a++) probs[s * N_ACTIONS + a] = a === greedyFull[s] ? 1 - epsilon : epsilon / (N_ACTIONS - 1);
  }
  return probs;
}

/** Lift a 720-state observed policy (diabetes unseen) to full states. */
export function liftObserved(policy: Int32Array): Float64Array {
  return deterministicProbs((s) => policy[s % N_OBS] as number);
}

/** Lift a projected policy (144 states + 2 sinks; glucose unseen) to full states. */
export function liftProjected(policy: Int32Array): Float64Array {
  return deterministicProbs((s) => policy[obsToProj(s % N_OBS)] as number);
}
