import { evaluateExact, softenedProbs } from './exact.js';
import { type TabularMdp, type ValueIterationResult, valueIteration } from './mdp.js';
import { buildFullModel, buildObservedModel, buildProjectedModel, initialDistribution } from './tensor.js';

/** Settings of `plots-main-paper.ipynb`: DISCOUNT_Pol = 0.99, NSTEPS = 20, PHYS_EPSILON = 0.05, PROB_DIAB = 0.2. */
export const PAPER = { gamma: 0.99, horizon: 20, physicianEpsilon: 0.05, pDiabetes: 0.2 } as const;

/**
 * Everything derived from the exact tensors for one simulator variant: the full (1440), observed
 * (720, diabetes marginalised by its prior) and projected (144 + 2, glucose marginalised by the
 * physician's occupancy) MDPs, each solved by value iteration with γ = 0.99, and the physician policy.
 */
export interface SepsisSolution {
  glucoseDefect: boolean;
  pDiabetes: number;
  initial: Float64Array;
  full: TabularMdp;
  observed: TabularMdp;
  projected: TabularMdp;
  fullVI: ValueIterationResult;
  observedVI: ValueIterationResult;
  projectedVI: ValueIterationResult;
  /** π_phys[s·8 + a] over full states. */
  physician: Float64Array;
}

const cache = new Map<string, SepsisSolution>();

export function solveSepsis(glucoseDefect: boolean, pDiabetes: number = PAPER.pDiabetes): SepsisSolution {
  const key = `${glucoseDefect}/${pDiabetes}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const full = buildFullModel({ glucoseDefect });
  const initial = initialDistribution(pDiabetes);
  const fullVI = valueIteration(full, { gamma: PAPER.gamma });
  const observed = buildObservedModel(full, pDiabetes);
  const observedVI = valueIteration(observed, { gamma: PAPER.gamma });
  const physician = softenedProbs(fullVI.policy, PAPER.physicianEpsilon);
  const occupancy = evaluateExact(full, physician, initial, PAPER.horizon).occupancy;
  const projected = buildProjectedModel(full, occupancy);
  const projectedVI = valueIteration(projected, { gamma: PAPER.gamma });
  const solution = { glucoseDefect, pDiabetes, initial, full, observed, projected, fullVI, observedVI, projectedVI, physician };
  cache.set(key, solution);
  return solution;
}
