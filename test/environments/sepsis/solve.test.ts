import { describe, expect, it } from 'vitest';
import { make } from '../../../engine/registry.js';
import { Rng } from '../../../engine/random.js';
import { drawInitialState } from '../../../environments/sepsis/env.js';
import { deterministicProbs, evaluateExact, liftObserved, liftProjected } from '../../../environments/sepsis/exact.js';
import { registerSepsis } from '../../../environments/sepsis/index.js';
import { transitionRow } from '../../../environments/sepsis/mdp.js';
import { PAPER, solveSepsis } from '../../../environments/sepsis/solve.js';
import { N_FULL, N_OBS } from '../../../environments/sepsis/state.js';
import { SEPSIS_ENDPOINTS, sepsisCohortMember } from '../../../environments/sepsis/twin.js';
import { evaluatePolicy } from '../../../policies/evaluate.js';
import { makePolicy } from '../../../policies/registry.js';
import '../../../policies/index.js';

// Sources: Oberst & Sontag ICML 2019 (clinicalml/gumbel-max-scm, plots-main-paper.ipynb settings:
// γ = 0.99, NSTEPS = 20, PHYS_EPSILON = 0.05, PROB_DIAB = 0.2) and docs/MODELS.md §2.
registerSepsis();
const solution = solveSepsis(true);

describe('value iteration on the exact tensors (γ = 0.99)', () => {
  for (const [name, model, vi] of [
    ['full', solution.full, solution.fullVI],
    ['observed', solution.observed, solution.observedVI],
    ['projected', solution.projected, solution.projectedVI],
  ] as const) {
    it(`${name}: Bellman residual ≈ 0, policy = argmax Q, and V is the value of that policy`, () => {
      expect(vi.residual).toBeLessThan(1e-10);
      const { nStates, nActions } = model;
      // independent Bellman backup from the rows
      for (let s = 0; s < nStates; s++) {
        if (model.terminal[s]) continue;
        let best = -Infinity;
        for (let a = 0; a < nActions; a++) {
          let q = 0;
          for (const [sp, p] of transitionRow(model, s, a)) q += p * ((model.arrivalReward[sp] as number) + (model.terminal[sp] ? 0 : PAPER.gamma * (vi.V[sp] as number)));
          expect(q).toBeCloseTo(vi.Q[s * nActions + a] as number, 10);
          best = Math.max(best, q);
        }
        expect(vi.Q[s * nActions + (vi.policy[s] as number)]).toBeCloseTo(best, 11);
      }
      // iterative policy evaluation of the greedy policy reproduces V
      let V = new Float64Array(nStates);
      for (let it = 0; it < 5000; it++) {
        const W = new Float64Array(nStates);
        for (let s = 0; s < nStates; s++) {
          if (model.terminal[s]) continue;
          let v = 0;
          for (const [sp, p] of transitionRow(model, s, vi.policy[s] as number)) v += p * ((model.arrivalReward[sp] as number) + (model.terminal[sp] ? 0 : PAPER.gamma * (V[sp] as number)));
          W[s] = v;
        }
        V = W;
      }
      for (let s = 0; s < nStates; s++) if (!model.terminal[s]) expect(V[s]).toBeCloseTo(vi.V[s] as number, 8);
    });
  }

  it('knowing diabetes is worth something: V_full ≥ V_observed-policy on every observed state (exact evaluation)', () => {
    const opt = evaluateExact(solution.full, deterministicProbs((s) => solution.fullVI.policy[s] as number), solution.initial, PAPER.horizon);
    const obs = evaluateExact(solution.full, liftObserved(solution.observedVI.policy), solution.initial, PAPER.horizon);
    expect(opt.expectedReturn).toBeGreaterThan(obs.expectedReturn);
  });
});

describe('baselines on the true simulator (exact 20-step evaluation, docs/MODELS.md §2)', () => {
  for (const glucoseDefect of [true, false]) {
    it(`mortality: optimal < physician < no treatment; treat-all never discharges (glucoseDefect ${glucoseDefect})`, () => {
      const sol = solveSepsis(glucoseDefect);
      const ev = (p: Float64Array) => evaluateExact(sol.full, p, sol.initial, PAPER.horizon);
      const optimal = ev(deterministicProbs((s) => sol.fullVI.policy[s] as number));
      const physician = ev(sol.physician);
      const none = ev(deterministicProbs(() => 0));
      const all = ev(deterministicProbs(() => 7));
      const rl = ev(liftProjected(sol.projectedVI.policy));
      expect(optimal.pDeath).toBeLessThan(physician.pDeath);
      expect(physician.pDeath).toBeLessThan(none.pDeath);
      expect(optimal.expectedReturn).toBeGreaterThan(physician.expectedReturn);
      expect(all.pDischarge).toBe(0);
      expect(none.expectedTreatmentDays).toBe(0);
      for (const o of [optimal, physician, none, all]) expect(o.pDeath + o.pDischarge + o.pOngoing).toBeCloseTo(1, 12);
      // the paper's qualitative finding: the RL policy on the projected (glucose-blind) MDP does worse
      // than the physician policy when run on the true simulator
      expect(rl.expectedReturn).toBeLessThan(physician.expectedReturn);
    });
  }
});

describe('initial-state law (docs/MODELS.md §2 fact 5) and cohorts', () => {
  it('10^5 draws match the exact rejection-sampled law: ≈ 20 % diabetic, glucose marginals', () => {
    const rng = Rng.fromSeed(11).fork('init');
    const n = 100_000;
    const counts = new Float64Array(N_FULL);
    for (let i = 0; i < n; i++) counts[drawInitialState(rng, 0.2)]++;
    let diab = 0;
    let diabExact = 0;
    const g = new Float64Array(5);
    const gExact = new Float64Array(5);
    for (let s = 0; s < N_FULL; s++) {
      if (s >= N_OBS) {
        diab += counts[s] as number;
        diabExact += solution.initial[s] as number;
      }
      const glu = Math.floor((s % N_OBS) / 8) % 5;
      g[glu] = (g[glu] as number) + (counts[s] as number) / n;
      gExact[glu] = (gExact[glu] as number) + (solution.initial[s] as number);
    }
    expect(diabExact).toBeGreaterThan(0.18);
    expect(diabExact).toBeLessThan(0.2);
    const se = Math.sqrt((diabExact * (1 - diabExact)) / n);
    expect(Math.abs(diab / n - diabExact)).toBeLessThan(4 * se);
    for (let k = 0; k < 5; k++) expect(Math.abs((g[k] as number) - (gExact[k] as number))).toBeLessThan(4 * Math.sqrt((gExact[k] as number) / n) + 1e-9);
  });

  it('cohort member i depends only on (population, seed, i)', () => {
    const a = sepsisCohortMember({ population: 'icu', size: 10, seed: 3 }, 7);
    const b = sepsisCohortMember({ population: 'icu', size: 1000, seed: 3 }, 7);
    expect(a).toEqual(b);
    const d = Array.from({ length: 50 }, (_, i) => sepsisCohortMember({ population: 'diabetic', size: 50, seed: 1 }, i));
    expect(d.every((m) => m.covariates?.diabetic === 1)).toBe(true);
    expect(() => sepsisCohortMember({ population: 'martian', size: 1, seed: 1 }, 0)).toThrow(/unknown population "martian"/);
  });
});

describe('env + policy + endpoints agree with the exact evaluation (Monte Carlo, seed 5)', () => {
  it('physician policy: mortality, discharge and treatment-days within 4 SE of the exact values', () => {
    const env = make('sepsis/oberst-v1');
    const policy = makePolicy('sepsis/physician', env);
    const episodes = 3000;
    const result = evaluatePolicy(env, policy, { seed: 5, episodes, record: { keyframeInterval: 1000 } });
    const mean = (id: string) => {
      const e = SEPSIS_ENDPOINTS.find((x) => x.id === id);
      return result.episodes.reduce((acc, ep) => acc + (e?.compute(ep.log as never) ?? 0), 0) / episodes;
    };
    const exact = evaluateExact(solution.full, solution.physician, solution.initial, PAPER.horizon);
    const binary = (p: number) => 4 * Math.sqrt((p * (1 - p)) / episodes);
    expect(Math.abs(mean('mortality') - exact.pDeath)).toBeLessThan(binary(exact.pDeath));
    expect(Math.abs(mean('discharge') - exact.pDischarge)).toBeLessThan(binary(exact.pDischarge));
    expect(Math.abs(mean('treatment-days') - exact.expectedTreatmentDays)).toBeLessThan(0.4);
    expect(Math.abs(mean('time-to-discharge') - exact.expectedTimeToDischarge)).toBeLessThan(0.4);
    expect(Math.abs(result.meanReturn - exact.expectedReturn)).toBeLessThan(4 * Math.sqrt(1 / episodes));
  });
});
