import { describe, expect, it } from 'vitest';
import { checkEnv } from '../../../engine/conformance.js';
import type { Env } from '../../../engine/env.js';
import { TrajectoryHasher } from '../../../engine/hash.js';
import { make } from '../../../engine/registry.js';
import '../../../environments/index.js';
import { VANCO_AGENTS_ENV_ID, VancoAgentsEnv, type VancoAgentsOptions } from '../../../environments/pkpd/vancomycin-agents.js';
import { VancomycinEnv } from '../../../environments/pkpd/vancomycin-env.js';

const INFO_KEYS = ['hour', 'dose', 'aucStep', 'auc24', 'concentration', 'trough', 'peak', 'crcl', 'cl', 'akiStep'] as const;

interface Episode {
  hash: string;
  aki: number;
  steps: number;
  observations: Float32Array[];
  /** INFO_KEYS per step. */
  infos: number[][];
}

/**
 * Hash over `episodes` consecutive episodes (the first reset seeded, the rest unseeded, so continued
 * streams and the pool draw are covered): observations, actions, rewards and the info fields the
 * endpoints read.
 */
function run(env: Env, seed: number, policy: (t: number) => number, episodes = 2): Episode {
  const h = new TrajectoryHasher();
  let aki = 0;
  let steps = 0;
  const observations: Float32Array[] = [];
  const infos: number[][] = [];
  for (let e = 0; e < episodes; e++) {
    const first = env.reset(e === 0 ? { seed } : {});
    h.observation(first.observation);
    h.reward((first.info.pk as { cl: number }).cl); // full double precision
    observations.push(Float32Array.from(first.observation));
    for (let t = 0; ; t++) {
      const a = policy(t);
      const r = env.step(a);
      steps++;
      h.step(a, r.reward, r.observation);
      for (const k of INFO_KEYS) h.reward(r.info[k] as number);
      infos.push(INFO_KEYS.map((k) => r.info[k] as number));
      observations.push(Float32Array.from(r.observation));
      if (r.info.aki === true) aki++;
      if (r.terminated || r.truncated) break;
    }
    h.episodeBoundary();
  }
  return { hash: h.digest(), aki, steps, observations, infos };
}

/** High doses, so the synthetic kidney injury occurs in some episodes. */
const CYCLE = (t: number): number => [8, 6, 3, 0, 7, 8, 5][t % 7] as number;

const POOL = [
  { patientId: 'a', weight: 55, crcl: 35, etaCl: -0.4, etaV1: 0.2, etaV2: -0.1 },
  { weight: 90, crcl: 120, etaCl: 0.3, etaV1: -0.3, etaV2: 0.4 },
  { patientId: 'hd', weight: 72, crcl: 10, dialysis: true, etaCl: 0, etaV1: 0, etaV2: 0 },
];

const OPTION_SETS: Array<[VancoAgentsOptions, number]> = [
  [{}, 1],
  [{ patients: POOL }, 7],
  [{ patients: POOL, sampleEvery: 1, days: 3 }, 12],
  [{ crcl: 30, weight: 110, etaCl: -0.5, akiPenalty: -3 }, 3],
  [{ dialysis: true, crcl: 8, doseLevels: '0,1000,2000,3000,4000,5000,6000,7000,10000', mic: 2, assayError: false }, 5],
  [{ sampleEvery: 3, aki: false, days: 4.5 }, 11],
];

describe('pkpd/vancomycin-agents-v0: the vancomycin twin as agents on the Simulation', () => {
  it('reproduces pkpd/vancomycin-v1 exactly (equal episode hash) for the same options, seed and actions', () => {
    let akiEpisodes = 0;
    for (const [options, seed] of OPTION_SETS) {
      const ref = run(new VancomycinEnv(options), seed, CYCLE, 3);
      const agents = run(new VancoAgentsEnv(options), seed, CYCLE, 3);
      expect(agents.steps).toBe(ref.steps);
      expect(agents.aki).toBe(ref.aki);
      expect(agents.hash).toBe(ref.hash);
      akiEpisodes += ref.aki > 0 ? 1 : 0;
    }
    // the kidney-injury path (CrCL ×0.6, CL recomputed, penalty) is exercised, not only the quiet one
    expect(akiEpisodes).toBeGreaterThan(0);
  });

  it('lab turnaround 0 (explicit) equals v1; a 6-h turnaround shows each set of levels one decision later, the PK unchanged', () => {
    const options = { sampleEvery: 2 };
    const ref = run(new VancomycinEnv(options), 4, CYCLE, 1);
    expect(run(new VancoAgentsEnv({ ...options, lab: { turnaroundHours: 0 } }), 4, CYCLE, 1).hash).toBe(ref.hash);

    const slow = new VancoAgentsEnv({ ...options, lab: { turnaroundHours: 6 } });
    const late = run(slow, 4, CYCLE, 1);
    expect(late.hash).not.toBe(ref.hash);
    // the physiology is untouched by the lab: concentrations, AUCs, true peaks/troughs, CrCL exactly equal
    expect(late.infos).toEqual(ref.infos);
    const LEVELS = [5, 6, 7];
    for (let t = 0; t < ref.observations.length; t++) {
      const r = ref.observations[t] as Float32Array;
      const l = late.observations[t] as Float32Array;
      // what the patient is and received is unchanged: weight, CrCL, MIC, day, last dose, AKI flag
      for (const k of [0, 1, 2, 3, 4, 10]) expect(l[k]).toBe(r[k]);
      // a set drawn in interval k (visible after step k+1 in v1) is visible one step later with a 6-h turnaround
      const prev = ref.observations[t - 1];
      if (prev === undefined) continue;
      for (const k of LEVELS) expect(l[k]).toBe(prev[k]);
      expect(l[9]).toBe(prev[9]);
      if (prev[9] === 1) expect(l[8]).toBe((prev[8] as number) + 12);
    }
    // the first set (drawn in the second interval, trough at h 24) appears only after step 3, at h 36
    expect(late.observations[2]?.[9]).toBe(0);
    expect(late.observations[3]?.[9]).toBe(1);
    expect(late.observations[3]?.[8]).toBe(12);
  });

  it('a turnaround longer than the sampling interval queues several sets and reports them in order', () => {
    const env = new VancoAgentsEnv({ sampleEvery: 1, assayError: false, aki: false, lab: { turnaroundHours: 30 } });
    const ref = new VancomycinEnv({ sampleEvery: 1, assayError: false, aki: false });
    env.reset({ seed: 2 });
    ref.reset({ seed: 2 });
    const refTroughs: number[] = [];
    const seen: number[] = [];
    for (let t = 0; t < 14; t++) {
      refTroughs.push(ref.step(3).observation[7] as number);
      const r = env.step(3);
      seen.push(r.observation[7] as number);
      // troughs at h 12(t+1) are seen when 12(t+1) + 30 ≤ now, i.e. 3 steps later
      if (t >= 3) expect(r.observation[8]).toBe(36);
      expect(r.info.labPending).toBe(Math.min(t + 1, 3));
    }
    expect(seen.slice(3)).toEqual(refTroughs.slice(0, 11));
    expect(seen.slice(0, 3)).toEqual([0, 0, 0]);
    // the episode's lab sets fill the collector column too
    expect(Array.from(env.simulation.collector.column('lab_pending')).slice(0, 4)).toEqual([1, 2, 3, 3]);
  });

  it('getState/setState continues exactly, with pending lab results, and accepts a v1 state', () => {
    const options = { patients: POOL, sampleEvery: 1, lab: { turnaroundHours: 18 } };
    const a = new VancoAgentsEnv(options);
    a.reset({ seed: 9 });
    for (let t = 0; t < 5; t++) a.step(CYCLE(t));
    const saved = JSON.parse(JSON.stringify(a.getState()));
    expect(saved.labPending.length).toBe(10); // two sets of five numbers wait
    const b = new VancoAgentsEnv(options);
    b.reset({ seed: 1 });
    b.setState(saved);
    for (let t = 5; t < 14; t++) {
      const x = a.step(CYCLE(t));
      const xo = Float32Array.from(x.observation);
      const y = b.step(CYCLE(t));
      expect(y.observation).toEqual(xo);
      expect(y.reward).toBe(x.reward);
    }
    // a v1 keyframe restored into the agent env continues as v1 does
    const v1 = new VancomycinEnv({ crcl: 40 });
    const ag = new VancoAgentsEnv({ crcl: 40 });
    v1.reset({ seed: 3 });
    for (let t = 0; t < 6; t++) v1.step(CYCLE(t));
    ag.reset({ seed: 99 });
    ag.setState(JSON.parse(JSON.stringify(v1.getState())));
    for (let t = 6; t < 14; t++) {
      const x = v1.step(CYCLE(t));
      const xo = Float32Array.from(x.observation);
      const xi = { ...x.info };
      const y = ag.step(CYCLE(t));
      expect(y.observation).toEqual(xo);
      expect(y.reward).toBe(x.reward);
      expect(y.info.concentration).toBe(xi.concentration);
    }
  });

  it('the agents and their events: a policy can drive the clinician instead of the Env action', () => {
    const env = new VancoAgentsEnv({ sampleEvery: 1 }, (obs) => (obs[9] === 1 && (obs[7] as number) > 15 ? 2 : 5));
    const first = env.reset({ seed: 5 });
    expect(first.info.agents).toEqual(['clinician', 'line', 'patient', 'lab']);
    const doses: number[] = [];
    for (let t = 0; t < 14; t++) doses.push(env.step(0).info.dose as number);
    expect(doses[0]).toBe(1500); // no levels yet → index 5 (1500 mg)
    expect(new Set(doses).size).toBeGreaterThan(1); // the trough rule switched the dose at least once
    // same doses given as the Env's actions: the same episode
    const byAction = new VancoAgentsEnv({ sampleEvery: 1 });
    byAction.reset({ seed: 5 });
    const idx = doses.map((d) => byAction.doses.indexOf(d));
    const again = idx.map((a) => byAction.step(a).info.dose);
    expect(again).toEqual(doses);
  });

  it('rejects bad options naming the field', () => {
    expect(() => new VancoAgentsEnv({ lab: { turnaroundHours: -1 } })).toThrow(/lab\.turnaroundHours/);
    expect(() => new VancoAgentsEnv({ lab: { turnaround: 6 } as never })).toThrow(/lab\.turnaround is not a lab option/);
    expect(() => new VancoAgentsEnv({ patients: [{ weight: 70 }] as never })).toThrow(/pkpd\/vancomycin-agents-v0: option patients\[0\]\.crcl is required/);
    expect(() => new VancoAgentsEnv({ days: 0.7 })).toThrow(/option days/);
    const bad = new VancoAgentsEnv({}, () => 42);
    bad.reset({ seed: 1 });
    expect(() => bad.step(0)).toThrow(/policy returned 42/);
  });

  it('passes the conformance suite', () => {
    expect(checkEnv(() => make(VANCO_AGENTS_ENV_ID), { steps: 300 })).toEqual([]);
    expect(checkEnv(() => make(VANCO_AGENTS_ENV_ID, { patients: POOL, lab: { turnaroundHours: 30 }, sampleEvery: 1 }), { steps: 100 })).toEqual([]);
  });
});
