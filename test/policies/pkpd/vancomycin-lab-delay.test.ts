import { describe, expect, it } from 'vitest';
import type { Env } from '../../../engine/env.js';
import { TrajectoryHasher } from '../../../engine/hash.js';
import { Rng } from '../../../engine/random.js';
import { make } from '../../../engine/registry.js';
import { getTwin } from '../../../engine/twin.js';
import '../../../environments/index.js';
import { loadSpecFile } from '../../../experiments/spec.js';
import '../../../policies/index.js';
import type { VancoBayesian } from '../../../policies/pkpd/vancomycin-bayesian.js';
import { type Policy, policyContext } from '../../../policies/policy.js';
import { makePolicy } from '../../../policies/registry.js';

// The level-reading vancomycin protocols act at the first decision at which a set of levels is visible,
// so a lab turnaround (pkpd/vancomycin-agents-v0 option lab.turnaroundHours) delays their adjustment
// instead of suppressing it. Levels are drawn in every second 12-h interval (the env's sampleEvery 2):
// the first set in interval 1, its trough at 24 h.

const twin = getTwin('vancomycin');
const AGENTS = 'pkpd/vancomycin-agents-v0';
/** The protocols draw nothing; act() takes an Rng all the same. */
const RNG = Rng.fromSeed(0);
const LEVEL_READERS = ['pkpd/vancomycin-auc-guided', 'pkpd/vancomycin-trough', 'pkpd/vancomycin-bayesian'] as const;

interface Episode {
  actions: number[];
  finalAuc24: number;
  policy: Policy;
}

/** One episode of `policy` on `env` (reset seed `seed`); `onStep` sees the policy after each decision. */
function episode(env: Env, policyName: string, seed: number, policyOptions: Record<string, unknown> = {}, hasher?: TrajectoryHasher, onStep?: (t: number, p: Policy) => void): Episode {
  const policy = makePolicy(policyName, env, policyOptions);
  const r = env.reset({ seed });
  policy.reset?.(policyContext(env, r.info));
  let obs = r.observation;
  hasher?.observation(obs);
  const actions: number[] = [];
  let finalAuc24 = 0;
  for (let t = 0; ; t++) {
    const a = policy.act(obs, RNG) as number;
    onStep?.(t, policy);
    actions.push(a);
    const s = env.step(a);
    hasher?.step(a, s.reward, s.observation);
    obs = s.observation;
    finalAuc24 = s.info.auc24 as number;
    if (s.terminated || s.truncated) break;
  }
  hasher?.episodeBoundary();
  return { actions, finalAuc24, policy };
}

/** Trajectory hash of `policy` over 12 adult cohort members (cohort seed 11), reset seed = member index. */
function cohortDigest(envId: string, policy: string, extra: Record<string, unknown>): string {
  const h = new TrajectoryHasher();
  const n = 12;
  for (let i = 0; i < n; i++) {
    const m = twin.cohortMember({ population: 'adult', size: n, seed: 11 }, i);
    episode(make(envId, { ...m.envOptions, ...extra }), policy, i, policy === 'pkpd/vancomycin-bayesian' ? { samples: 300 } : {}, h);
  }
  return h.digest();
}

/** First decision whose dose differs from the first decision's. */
const firstChange = (actions: number[]): number => actions.findIndex((a) => a !== actions[0]);

describe('vancomycin protocols with a lab turnaround', () => {
  it('with levels reported at the next decision they act exactly as before (v1 and the agent env at turnaround 0)', () => {
    // Digests recorded with the protocols as they were before they learned to wait for delayed levels
    // (commit 200f438: act only when hours_since_levels is 0), on pkpd/vancomycin-v1.
    const before: Record<string, [string, string]> = {
      'pkpd/vancomycin-auc-guided': ['6275f00102105d82e65f808b25b9fb5b6230b9c728afa3fb0902b91488ec833f', '55c34c2456b88a92af34424c243ae2bd07d04c612963fc293b69cc43121194de'],
      'pkpd/vancomycin-trough': ['361191193f52bba34a7a5c866f04e2aea993a5c976d2c2ad794d88b57eaaf7a0', '47216d07b89e3127e2ed2a5594636ad5000574afbdd836e522d01ac214585cb7'],
      'pkpd/vancomycin-bayesian': ['249fae6be647be6320a9dda3008086d183666ff8cec742e2b2287c8795199c71', 'a6893265ac0fae9433bd9bfb1d0669178c35c9777a002c659bf189b18c07e05a'],
    };
    for (const policy of LEVEL_READERS) {
      const [daily, everyInterval] = before[policy] as [string, string];
      expect(cohortDigest('pkpd/vancomycin-v1', policy, {}), policy).toBe(daily);
      expect(cohortDigest('pkpd/vancomycin-v1', policy, { sampleEvery: 1 }), `${policy} sampleEvery 1`).toBe(everyInterval);
      expect(cohortDigest(AGENTS, policy, { lab: { turnaroundHours: 0 } }), `${policy} on ${AGENTS}`).toBe(daily);
    }
  });

  it('they first adjust at the first decision at or after the turnaround (12-h decisions), not never', () => {
    const patient = { weight: 70, crcl: 40, assayError: false, aki: false };
    // the first set's trough is drawn at 24 h; it is visible at the decision at 24 h + turnaround, rounded up to 12 h
    for (const [turnaround, visibleAt] of [
      [0, 2],
      [6, 3],
      [12, 3],
      [24, 4],
    ] as const) {
      const env = make(AGENTS, { ...patient, lab: { turnaroundHours: turnaround } });
      expect(firstChange(episode(env, 'pkpd/vancomycin-auc-guided', 3).actions), `auc-guided, turnaround ${turnaround} h`).toBe(visibleAt);
      // trough-guided: the first steady-state trough is the one drawn at 48 h (3 doses before it), seen 2 decisions later
      expect(firstChange(episode(env, 'pkpd/vancomycin-trough', 3).actions), `trough, turnaround ${turnaround} h`).toBe(visibleAt + 2);
      // Bayesian: the prior's draws are equally weighted (ESS = samples) until the first set is seen
      const ess: number[] = [];
      episode(env, 'pkpd/vancomycin-bayesian', 3, { samples: 300 }, undefined, (_t, p) => ess.push((p as VancoBayesian).lastEss));
      expect(ess.findIndex((e) => e < 300), `bayesian, turnaround ${turnaround} h`).toBe(visibleAt);
    }
  });

  it('with a 6-h turnaround they bring named patients from the nomogram overshoot into their targets', () => {
    // exact levels (assayError false) and no synthetic kidney injury, so the final AUC24 reflects the dosing only
    const patients = {
      'CrCL 40, 70 kg': { weight: 70, crcl: 40 },
      'CrCL 25, 60 kg': { weight: 60, crcl: 25 },
      'CrCL 60, 70 kg, CL 45 % below typical (ηCL −0.6)': { weight: 70, crcl: 60, etaCl: -0.6 },
    };
    for (const [label, patient] of Object.entries(patients)) {
      const env = make(AGENTS, { ...patient, assayError: false, aki: false, lab: { turnaroundHours: 6 } });
      // the nomogram (15 mg/kg q12h, never adjusted) overshoots AUC24 600 in all three
      expect(episode(env, 'pkpd/vancomycin-nomogram', 3).finalAuc24, label).toBeGreaterThan(1000);
      // AUC-guided and Bayesian aim at AUC24 400–600 (Rybak 2020); the delay costs them some precision
      const auc = episode(env, 'pkpd/vancomycin-auc-guided', 3).finalAuc24;
      expect(auc, `${label} auc-guided`).toBeGreaterThan(450);
      expect(auc, `${label} auc-guided`).toBeLessThan(750);
      const bayes = episode(env, 'pkpd/vancomycin-bayesian', 3, { samples: 300 }).finalAuc24;
      expect(bayes, `${label} bayesian`).toBeGreaterThan(450);
      expect(bayes, `${label} bayesian`).toBeLessThan(650);
      // trough-guided aims at troughs of 15–20 mg/L (Rybak 2009), which overshoots AUC24 600 in many patients
      const trough = episode(env, 'pkpd/vancomycin-trough', 3).finalAuc24;
      expect(trough, `${label} trough`).toBeGreaterThan(550);
      expect(trough, `${label} trough`).toBeLessThan(850);
    }
  });

  it('are registered for the agent env, which the vancomycin twin lists, so a trial can name it with a turnaround', () => {
    expect(twin.envIds).toContain(AGENTS);
    const env = make(AGENTS, { lab: { turnaroundHours: 6 } });
    for (const p of [...LEVEL_READERS, 'pkpd/vancomycin-nomogram', 'pkpd/vancomycin-regimen']) {
      expect(() => makePolicy(p, env, p === 'pkpd/vancomycin-regimen' ? { doseMg: 1000 } : {}), p).not.toThrow();
    }
    const spec = loadSpecFile(new URL('../../../experiments/examples/trial-vancomycin-lab-delay.yaml', import.meta.url).pathname);
    expect(spec).toMatchObject({ kind: 'trial', cohort: { env: AGENTS, twin: 'vancomycin' }, scenario: { lab: { turnaroundHours: 6 } } });
  });
});
