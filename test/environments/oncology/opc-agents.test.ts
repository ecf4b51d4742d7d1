import { describe, expect, it } from 'vitest';
import { checkEnv } from '../../../engine/conformance.js';
import type { Env } from '../../../engine/env.js';
import { TrajectoryHasher } from '../../../engine/hash.js';
import { make } from '../../../engine/registry.js';
import { getTwin } from '../../../engine/twin.js';
import '../../../environments/index.js';
import { evaluatePolicy } from '../../../policies/evaluate.js';
import '../../../policies/index.js';
import { listPolicies, makePolicy } from '../../../policies/registry.js';
import { OPC_AGENTS_ENV_ID, OPC_AGENTS_SIM_ROWS, OpcAgentsEnv, type OpcAgentsOptions } from '../../../environments/oncology/opc-agents.js';
import { OPC_RESIDUAL_OBS_INDEX, OpcSequencingEnv } from '../../../environments/oncology/opc-env.js';
import type { OpcCourse } from '../../../environments/oncology/opc-model.js';

const COURSE_KEYS = ['a1', 'a2', 'a3', 'z', 'r1', 'dlt1', 'lrc', 'dlt2', 'resid', 'residAfterNd', 'os', 'dys'] as const;

/**
 * Hash over `episodes` consecutive episodes (every fifth reset seeded, the rest unseeded, so continued
 * streams are covered): observations, actions, rewards, the reset's frailty impression and the course.
 */
function run(env: Env, seed: number, episodes = 200): { hash: string; courses: OpcCourse[] } {
  const h = new TrajectoryHasher();
  const courses: OpcCourse[] = [];
  for (let e = 0; e < episodes; e++) {
    const first = env.reset(e % 5 === 0 ? { seed: seed + e } : {});
    h.observation(first.observation);
    h.reward((first.info.prescription as { frailtyImpression: number }).frailtyImpression);
    h.reward((first.info.trueState as { F: number }).F);
    for (let t = 0; t < 3; t++) {
      const a = ((e * 5 + seed) >> t) & 1;
      const r = env.step(a);
      h.step(a, r.reward, r.observation);
      const c = r.info.course as OpcCourse;
      for (const k of COURSE_KEYS) h.reward(c[k]);
      h.reward(r.info.stage as number);
      if (r.terminated) {
        courses.push(c);
        break;
      }
    }
    h.episodeBoundary();
  }
  return { hash: h.digest(), courses };
}

const OPTION_SETS: Array<[OpcAgentsOptions, number]> = [
  [{}, 1],
  [{ lambda: 0.5 }, 7],
  [{ lambda: 0, patient: { age: 71, hpv: 0, smoker: 1, T: 4, N: 3, PS: 1, F: 0.8 } }, 3],
  [{ patient: { age: 49, hpv: 1, smoker: 0, T: 2, N: 1, PS: 0, F: -1.2 } }, 12],
];

/** CC for everyone, no induction, neck dissection iff residual nodal disease is seen. */
const ND_IF_SEEN = (obs: Float32Array): number => (obs[6] === 1 ? 0 : obs[7] === 1 ? 1 : (obs[OPC_RESIDUAL_OBS_INDEX] as number));

describe('oncology/opc-sequencing-agents-v0: the OPC twin as agents on the Simulation', () => {
  it('reproduces oncology/opc-sequencing-v1 exactly (equal episode hash) for the same options, seed and actions', () => {
    for (const [options, seed] of OPTION_SETS) {
      const ref = run(new OpcSequencingEnv(options), seed);
      const agents = run(new OpcAgentsEnv(options), seed);
      expect(agents.courses.length).toBe(200);
      expect(agents.hash).toBe(ref.hash);
    }
  });

  it('imaging off (null) equals v1; perfect imaging (1, 1) gives v1’s observations and courses', () => {
    const ref = run(new OpcSequencingEnv({}), 4, 100);
    expect(run(new OpcAgentsEnv({ imaging: null }), 4, 100).hash).toBe(ref.hash);
    expect(run(new OpcAgentsEnv({ imaging: {} }), 4, 100).hash).toBe(ref.hash);
    expect(run(new OpcAgentsEnv({ imaging: { sensitivity: 1, specificity: 1 } }), 4, 100).hash).toBe(ref.hash);
  });

  it('imperfect imaging: reports at its sensitivity and specificity, the disease unchanged; the clinician dissects clean necks and misses residual disease', () => {
    const n = 4000;
    const episode = (options: OpcAgentsOptions, k: number) => {
      const env = new OpcAgentsEnv(options, ND_IF_SEEN);
      env.reset({ seed: k });
      env.step(0);
      const mid = env.step(0);
      const last = env.step(0);
      return { seen: mid.observation[OPC_RESIDUAL_OBS_INDEX] as number, info: mid.info, course: last.info.course as OpcCourse };
    };
    // no clinical default is claimed for the accuracy; these are illustrative values
    const imperfect = { sensitivity: 0.75, specificity: 0.9 };
    let pos = 0;
    let truePos = 0;
    let neg = 0;
    let trueNeg = 0;
    let residLeftPerfect = 0;
    let residLeft = 0;
    let ndPerfect = 0;
    let nd = 0;
    for (let k = 0; k < n; k++) {
      const a = episode({}, k);
      const b = episode({ imaging: imperfect }, k);
      // the same patient and the same stage outcomes up to the imaging (own stream 'imaging')
      for (const key of ['z', 'r1', 'dlt1', 'lrc', 'dlt2', 'resid'] as const) expect(b.course[key]).toBe(a.course[key]);
      expect(a.seen).toBe(a.course.resid);
      expect(b.info.imagedResidual).toBe(b.seen);
      if (a.course.resid === 1) {
        pos++;
        truePos += b.seen;
      } else {
        neg++;
        trueNeg += 1 - b.seen;
      }
      residLeftPerfect += a.course.residAfterNd;
      residLeft += b.course.residAfterNd;
      ndPerfect += a.course.a3;
      nd += b.course.a3;
    }
    const tol = (p: number, m: number) => 4 * Math.sqrt((p * (1 - p)) / m);
    expect(pos).toBeGreaterThan(300);
    expect(Math.abs(truePos / pos - imperfect.sensitivity)).toBeLessThan(tol(imperfect.sensitivity, pos));
    expect(Math.abs(trueNeg / neg - imperfect.specificity)).toBeLessThan(tol(imperfect.specificity, neg));
    // perfect imaging: ND exactly for the residual necks; imperfect: more residual disease left behind, and more dissections overall (10 % of the many clean necks)
    expect(ndPerfect).toBe(pos);
    expect(residLeft).toBeGreaterThan(residLeftPerfect);
    expect(nd).toBeGreaterThan(ndPerfect);
  });

  it('getState/setState continues exactly with the imaging report, and accepts a v1 state', () => {
    const options = { imaging: { sensitivity: 0.5, specificity: 0.5 } };
    for (let k = 0; k < 40; k++) {
      const a = new OpcAgentsEnv(options);
      a.reset({ seed: k });
      a.step(1);
      a.step(k & 1);
      const saved = JSON.parse(JSON.stringify(a.getState()));
      const b = new OpcAgentsEnv(options);
      b.reset({ seed: 999 });
      b.setState(saved);
      const x = a.step(1);
      const xo = Float32Array.from(x.observation);
      const y = b.step(1);
      expect(y.observation).toEqual(xo);
      expect(y.reward).toBe(x.reward);
      a.reset();
      b.reset();
      expect(b.getState()).toEqual(a.getState()); // streams continued alike after an unseeded reset
    }
    const v1 = new OpcSequencingEnv({ lambda: 0.4 });
    const ag = new OpcAgentsEnv({ lambda: 0.4 });
    for (let k = 0; k < 20; k++) {
      v1.reset({ seed: k });
      v1.step(1);
      ag.reset({ seed: 50 });
      ag.setState(JSON.parse(JSON.stringify(v1.getState())));
      for (let t = 1; t < 3; t++) {
        const x = v1.step(t & 1);
        const xo = Float32Array.from(x.observation);
        const y = ag.step(t & 1);
        expect(y.observation).toEqual(xo);
        expect(y.reward).toBe(x.reward);
        expect(y.info).toEqual(x.info);
      }
    }
    expect(() => ag.setState({ stage: 7 })).toThrow(/oncology\/opc-sequencing-agents-v0: setState needs a saved state with stage 0\.\.3/);
  });

  it('one Simulation runs consecutive episodes, and a new one starts once its collector holds OPC_AGENTS_SIM_ROWS rows', () => {
    const env = new OpcAgentsEnv({});
    const first = env.simulation;
    for (let e = 0; e < 5; e++) {
      env.reset({ seed: e });
      expect(env.episodeStart).toBe(3 * e);
      while (!env.step(1).terminated);
    }
    expect(env.simulation).toBe(first);
    expect(Array.from(first.collector.column('time')).slice(0, 4)).toEqual([1, 2, 3, 4]);
    for (let e = 5; e < OPC_AGENTS_SIM_ROWS / 3; e++) {
      env.reset({ seed: e });
      while (!env.step(0).terminated);
    }
    expect(first.collector.rows).toBe(OPC_AGENTS_SIM_ROWS);
    env.reset({ seed: 1 });
    expect(env.simulation).not.toBe(first);
    expect(env.episodeStart).toBe(0);
    expect(env.step(0).info.stage).toBe(1);
  });

  it('the opc baselines apply and give v1’s evaluation hash on the agent env', () => {
    const names = listPolicies(OPC_AGENTS_ENV_ID).map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(['opc/guideline', 'opc/physician', 'opc/maximal', 'opc/minimal']));
    for (const name of ['opc/guideline', 'opc/physician']) {
      const v1 = make('oncology/opc-sequencing-v1');
      const ag = make(OPC_AGENTS_ENV_ID);
      const a = evaluatePolicy(v1, makePolicy(name, v1), { seed: 5, episodes: 300 });
      const b = evaluatePolicy(ag, makePolicy(name, ag), { seed: 5, episodes: 300 });
      expect(b.hash).toBe(a.hash);
    }
  });

  it('rejects bad options naming the field', () => {
    expect(() => new OpcAgentsEnv({ imaging: { sensitivity: 1.2 } })).toThrow(/option imaging\.sensitivity must be a probability in \[0, 1\], got 1\.2/);
    expect(() => new OpcAgentsEnv({ imaging: { specificity: 'high' } as never })).toThrow(/imaging\.specificity .*got "high"/);
    expect(() => new OpcAgentsEnv({ imaging: { ppv: 0.5 } as never })).toThrow(/option imaging\.ppv is not an imaging option/);
    expect(() => new OpcAgentsEnv({ imaging: [] as never })).toThrow(/option imaging must be/);
    expect(() => new OpcAgentsEnv({ lambda: 2 })).toThrow(/oncology\/opc-sequencing-agents-v0: option lambda/);
    const bad = new OpcAgentsEnv({}, () => 2);
    bad.reset({ seed: 1 });
    expect(() => bad.step(0)).toThrow(/policy returned 2/);
  });

  it('is one of the opc twin’s envs, passes the conformance suite, and runs as three agents', () => {
    expect(getTwin('opc').envIds).toContain(OPC_AGENTS_ENV_ID);
    expect(make(OPC_AGENTS_ENV_ID).reset({ seed: 1 }).info.agents).toEqual(['clinician', 'patient', 'imaging']);
    expect(checkEnv(() => make(OPC_AGENTS_ENV_ID), { steps: 300 })).toEqual([]);
    expect(checkEnv(() => make(OPC_AGENTS_ENV_ID, { imaging: { sensitivity: 0.8, specificity: 0.85 } }), { steps: 300 })).toEqual([]);
  });
});
