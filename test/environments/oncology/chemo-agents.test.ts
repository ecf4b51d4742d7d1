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
import { CHEMO_AGENTS_ENV_ID, ChemoAgentsEnv, type ChemoAgentsOptions } from '../../../environments/oncology/chemo-agents.js';
import { CHEMO_CLEARANCE_THRESHOLD, ChemoEnv } from '../../../environments/oncology/chemo-env.js';
import { CHEMO_DRUG_COST } from '../../../environments/oncology/chemo-twin.js';

const INFO_KEYS = ['day', 'N', 'T', 'I', 'B', 'exposure', 'dose', 'cumulativeDose', 'normalRatio', 'tumourRatio', 'nadirRatio'] as const;

interface Episode {
  hash: string;
  steps: number;
  deaths: number;
  observations: Float32Array[];
  /** INFO_KEYS per step. */
  infos: number[][];
}

/** Hash over `episodes` consecutive episodes of at most `maxSteps` steps: observations, actions, rewards, the info the endpoints read. */
function run(env: Env, seed: number, policy: (t: number) => number, maxSteps = 600, episodes = 2): Episode {
  const h = new TrajectoryHasher();
  const observations: Float32Array[] = [];
  const infos: number[][] = [];
  let steps = 0;
  let deaths = 0;
  for (let e = 0; e < episodes; e++) {
    const first = env.reset(e === 0 ? { seed } : {});
    h.observation(first.observation);
    for (const k of INFO_KEYS) h.reward(first.info[k] as number);
    observations.push(Float32Array.from(first.observation));
    for (let t = 0; t < maxSteps; t++) {
      const a = policy(t + 3 * e);
      const r = env.step(a);
      steps++;
      h.step(a, r.reward, r.observation);
      for (const k of INFO_KEYS) h.reward(r.info[k] as number);
      h.reward(r.info.dead === true ? 1 : 0);
      infos.push(INFO_KEYS.map((k) => r.info[k] as number));
      observations.push(Float32Array.from(r.observation));
      if (r.terminated) {
        deaths++;
        break;
      }
    }
    h.episodeBoundary();
  }
  return { hash: h.digest(), steps, deaths, observations, infos };
}

const CYCLE = (t: number): number => [4, 4, 2, 0, 3, 4, 1][t % 7] as number;
/** Maximal dose for the first 30 days, then alternating. */
const FRONT = (t: number): number => (t < 120 ? 4 : t % 2 === 0 ? 4 : 0);

const OPTION_SETS: Array<[ChemoAgentsOptions, number, (t: number) => number]> = [
  [{}, 1, CYCLE],
  [{ observeNormal: true, observeLogTumour: true, doseLevels: 11 }, 7, (t) => (t * 3) % 11],
  [{ toxicity: 'cumulative' }, 3, () => 4], // dies of cumulative toxicity (≈ day 36)
  [{ toxicity: 'cumulative', T0: 0.35, r1: 1.7, a2: 0.36, patientId: 'virtual#2' }, 5, FRONT],
  [{}, 2, () => 0], // untreated: death with the −100 penalty around day 18–20
  [{ deathPenalty: -7, N0: 0.95, I0: 0.1, observeLogTumour: true }, 9, CYCLE],
];

describe('oncology/chemo-agents-v0: the chemotherapy twin as agents on the Simulation', () => {
  it('reproduces oncology/chemo-v1 exactly (equal episode hash) for the same options, seed and actions', () => {
    let deaths = 0;
    for (const [options, seed, policy] of OPTION_SETS) {
      const ref = run(new ChemoEnv(options), seed, policy);
      const agents = run(new ChemoAgentsEnv(options), seed, policy);
      expect(agents.steps).toBe(ref.steps);
      expect(agents.deaths).toBe(ref.deaths);
      expect(agents.hash).toBe(ref.hash);
      deaths += ref.deaths;
    }
    // the death path (penalty, termination) is exercised, not only full 150-day episodes
    expect(deaths).toBeGreaterThan(1);
  });

  it('monitoring off (null) equals chemo-v1; imaging and bloods every step only append two zero staleness components', () => {
    const ref = run(new ChemoEnv({ observeNormal: true }), 4, CYCLE, 200, 1);
    expect(run(new ChemoAgentsEnv({ observeNormal: true, monitoring: null }), 4, CYCLE, 200, 1).hash).toBe(ref.hash);
    const every = new ChemoAgentsEnv({ observeNormal: true, monitoring: {} });
    expect(every.observationSpace.labels).toEqual(['N', 'T', 'I', 'B', 'days-since-imaging', 'days-since-bloods']);
    const e = run(every, 4, CYCLE, 200, 1);
    expect(e.infos).toEqual(ref.infos);
    for (let t = 0; t < ref.observations.length; t++) {
      expect(Array.from(e.observations[t] as Float32Array)).toEqual([...Array.from(ref.observations[t] as Float32Array), 0, 0]);
    }
  });

  it('imaging every 42 days and bloods every 7 days: the clinician sees held values, the physiology is unchanged', () => {
    // 42 days: the 6–8-week tumour re-evaluation interval RECIST 1.1 suggests during treatment (Eisenhauer et al., Eur J Cancer 2009;45:228–247).
    const options = { observeNormal: true, monitoring: { imagingEveryDays: 42, bloodsEveryDays: 7 } };
    const ref = run(new ChemoEnv({ observeNormal: true }), 1, CYCLE, 600, 1);
    const env = new ChemoAgentsEnv(options);
    const mon = run(env, 1, CYCLE, 600, 1);
    expect(mon.infos).toEqual(ref.infos); // true state, doses, nadir: identical
    expect(mon.hash).not.toBe(ref.hash);
    for (let t = 0; t < ref.observations.length; t++) {
      const o = mon.observations[t] as Float32Array;
      const imaged = ref.observations[t - (t % 168)] as Float32Array; // 168 steps = 42 days
      const drawn = ref.observations[t - (t % 28)] as Float32Array; // 28 steps = 7 days
      expect(o[1]).toBe(imaged[1]); // T
      expect([o[0], o[2], o[3]]).toEqual([drawn[0], drawn[2], drawn[3]]); // N, I, B
      expect(o[4]).toBe((t % 168) * 0.25);
      expect(o[5]).toBe((t % 28) * 0.25);
      expect(env.observationSpace.contains(o)).toBe(true);
    }
    expect(env.simulation.collector.column('T').length).toBe(600);
  });

  it('a clinician who doses until imaging shows clearance gives more drug when imaging is every 42 days', () => {
    // policy: maximal dose while the last seen tumour burden is ≥ the clearance threshold 1e−3, else none
    const stopAtClearance = (obs: Float32Array): number => ((obs[0] as number) >= CHEMO_CLEARANCE_THRESHOLD ? 4 : 0);
    const total = (options: ChemoAgentsOptions): { dose: number; firstClear: number } => {
      const env = new ChemoAgentsEnv(options, stopAtClearance);
      env.reset({ seed: 0 });
      let firstClear = -1;
      let info = {} as Record<string, unknown>;
      for (let t = 0; t < 600; t++) {
        info = env.step(0).info;
        if (firstClear < 0 && (info.T as number) < CHEMO_CLEARANCE_THRESHOLD) firstClear = info.day as number;
      }
      return { dose: info.cumulativeDose as number, firstClear };
    };
    const daily = total({});
    const sparse = total({ monitoring: { imagingEveryDays: 42 } });
    // v ≡ 1 clears T < 1e−3 near day 75.75 (chemo.test.ts): dosing stops right after with imaging every step …
    expect(daily.firstClear).toBeCloseTo(75.75, 1);
    expect(daily.dose).toBeCloseTo(daily.firstClear, 6);
    // … and only at the day-84 scan with imaging every 42 days: 8.25 more days of maximal infusion
    expect(sparse.firstClear).toBe(daily.firstClear);
    expect(sparse.dose).toBeCloseTo(84, 6);
  });

  it('getState/setState continues exactly with the monitor’s held values, and accepts a chemo-v1 state', () => {
    const options = { monitoring: { imagingEveryDays: 3, bloodsEveryDays: 1.5 }, toxicity: 'cumulative' as const };
    const a = new ChemoAgentsEnv(options);
    a.reset({ seed: 1 });
    for (let t = 0; t < 13; t++) a.step(CYCLE(t));
    const saved = JSON.parse(JSON.stringify(a.getState()));
    expect(saved.monitor.imagingStep).toBe(12);
    const b = new ChemoAgentsEnv(options);
    b.reset({ seed: 3 });
    b.setState(saved);
    for (let t = 13; t < 100; t++) {
      const x = a.step(CYCLE(t));
      const xo = Float32Array.from(x.observation);
      const xr = x.reward;
      const y = b.step(CYCLE(t));
      expect(y.observation).toEqual(xo);
      expect(y.reward).toBe(xr);
    }
    const v1 = new ChemoEnv({ doseLevels: 11 });
    const ag = new ChemoAgentsEnv({ doseLevels: 11 });
    v1.reset();
    for (let t = 0; t < 50; t++) v1.step(t % 11);
    ag.reset({ seed: 8 });
    ag.setState(JSON.parse(JSON.stringify(v1.getState())));
    for (let t = 50; t < 120; t++) {
      const x = v1.step(t % 11);
      const xo = Float32Array.from(x.observation);
      const xi = { ...x.info };
      const y = ag.step(t % 11);
      expect(y.observation).toEqual(xo);
      expect(y.info).toEqual(xi);
    }
    expect(() => ag.setState({ y: [1] })).toThrow(/oncology\/chemo-agents-v0: setState expects/);
  });

  it('the schedule protocols apply and give chemo-v1’s evaluation hash on the agent env', () => {
    expect(listPolicies(CHEMO_AGENTS_ENV_ID).map((p) => p.name)).toEqual(expect.arrayContaining(['oncology/chemo-mtd', 'oncology/chemo-pulsed', 'oncology/chemo-front-loaded']));
    for (const name of ['oncology/chemo-pulsed', 'oncology/chemo-front-loaded']) {
      const v1 = make('oncology/chemo-v1', { toxicity: 'cumulative' });
      const ag = make(CHEMO_AGENTS_ENV_ID, { toxicity: 'cumulative' });
      const a = evaluatePolicy(v1, makePolicy(name, v1), { seed: 5, episodes: 2 });
      const b = evaluatePolicy(ag, makePolicy(name, ag), { seed: 5, episodes: 2 });
      expect(b.hash).toBe(a.hash);
    }
  });

  it('rejects bad options naming the field', () => {
    expect(() => new ChemoAgentsEnv({ monitoring: { imagingEveryDays: 1.1 } })).toThrow(/option monitoring\.imagingEveryDays must be a number of days in \[0\.25, 365\], a multiple of 0\.25.*got 1\.1/);
    expect(() => new ChemoAgentsEnv({ monitoring: { bloodsEveryDays: 0 } })).toThrow(/monitoring\.bloodsEveryDays/);
    expect(() => new ChemoAgentsEnv({ monitoring: { bloodsEveryDays: '7' } as never })).toThrow(/monitoring\.bloodsEveryDays .*got "7"/);
    expect(() => new ChemoAgentsEnv({ monitoring: { ctEveryDays: 7 } as never })).toThrow(/option monitoring\.ctEveryDays is not a monitoring option/);
    expect(() => new ChemoAgentsEnv({ monitoring: 7 as never })).toThrow(/option monitoring must be/);
    expect(() => new ChemoAgentsEnv({ doseLevels: 1 })).toThrow(/oncology\/chemo-agents-v0: option doseLevels/);
    const bad = new ChemoAgentsEnv({}, () => 9);
    bad.reset();
    expect(() => bad.step(0)).toThrow(/policy returned 9/);
  });

  it('is one of the chemo twin’s envs, passes the conformance suite, and runs as four agents', () => {
    expect(getTwin('chemo').envIds).toContain(CHEMO_AGENTS_ENV_ID);
    // the twin's drug cost binds to the agent env: v·Δt per step
    const agentEnv = make(CHEMO_AGENTS_ENV_ID);
    agentEnv.reset({ seed: 1 });
    expect(CHEMO_DRUG_COST.bind(agentEnv)?.cost(agentEnv.step(2).info)).toBe(0.5 * 0.25);
    expect(make(CHEMO_AGENTS_ENV_ID).reset({ seed: 1 }).info.agents).toEqual(['clinician', 'pump', 'patient', 'monitor']);
    expect(checkEnv(() => make(CHEMO_AGENTS_ENV_ID), { steps: 300 })).toEqual([]);
    expect(checkEnv(() => make(CHEMO_AGENTS_ENV_ID, { observeNormal: true, toxicity: 'cumulative', monitoring: { imagingEveryDays: 14, bloodsEveryDays: 2 } }), { steps: 300 })).toEqual([]);
  });
});
