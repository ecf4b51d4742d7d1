import { describe, expect, it } from 'vitest';
import { checkEnv } from '../../../engine/conformance.js';
import type { Env } from '../../../engine/env.js';
import { TrajectoryHasher } from '../../../engine/hash.js';
import { make } from '../../../engine/registry.js';
import { getTwin } from '../../../engine/twin.js';
import '../../../environments/index.js';
import { referenceT2DPerson } from '../../../environments/glucose-t2d/cohort.js';
import { T2DNutritionEnv } from '../../../environments/glucose-t2d/env.js';
import { mealAbsorption } from '../../../environments/glucose-t2d/foods.js';
import { MENU } from '../../../environments/glucose-t2d/menu.js';
import { T2DPatient } from '../../../environments/glucose-t2d/patient.js';
import { makePolicy } from '../../../policies/registry.js';
import '../../../policies/index.js';
import { policyContext } from '../../../policies/policy.js';
import { Rng } from '../../../engine/random.js';
import { METER_ISO15197, T2D_AGENTS_ENV_ID, T2DAgentsEnv, type T2DAgentsOptions } from '../../../environments/glucose-t2d/t2d-nutrition-agents.js';

const INFO_KEYS = ['minute', 'glucose', 'cgm', 'insulin', 'carbs', 'gi', 'minutes', 'minutesInRange', 'minutesAbove180', 'minutesAbove250', 'minutesBelow70', 'minutesBelow54', 'glucoseSum', 'excursion', 'peak', 'preMeal'] as const;

interface Episode {
  hash: string;
  steps: number;
  substitutions: number;
  observations: Float32Array[];
  rewards: number[];
  /** INFO_KEYS per step. */
  infos: number[][];
  meals: string[];
}

/**
 * Hash over `episodes` consecutive episodes (the first reset seeded, the rest unseeded, so continued
 * streams and the seed-0 person of an unseeded reset are covered): observations, actions, rewards, the
 * info fields the endpoints read, the meal served and whether it was substituted.
 */
function run(env: Env, seed: number, policy: (t: number) => number, episodes = 2): Episode {
  const h = new TrajectoryHasher();
  let steps = 0;
  let substitutions = 0;
  const observations: Float32Array[] = [];
  const rewards: number[] = [];
  const infos: number[][] = [];
  const meals: string[] = [];
  for (let e = 0; e < episodes; e++) {
    const first = env.reset(e === 0 ? { seed } : {});
    h.observation(first.observation);
    h.reward((first.info.prescription as { bodyWeightKg: number }).bodyWeightKg);
    h.reward(first.info.minute as number);
    observations.push(Float32Array.from(first.observation));
    for (let t = 0; ; t++) {
      const a = policy(t);
      const r = env.step(a);
      steps++;
      h.step(a, r.reward, r.observation);
      for (const k of INFO_KEYS) h.reward(r.info[k] as number);
      h.reward(r.info.substituted === true ? 1 : 0);
      h.reward((r.info.feasible as number[]).reduce((x, y) => 2 * x + y, 0));
      if (r.info.substituted === true) substitutions++;
      infos.push(INFO_KEYS.map((k) => r.info[k] as number));
      observations.push(Float32Array.from(r.observation));
      rewards.push(r.reward);
      meals.push(r.info.meal as string);
      if (r.terminated || r.truncated) break;
    }
    h.episodeBoundary();
  }
  return { hash: h.digest(), steps, substitutions, observations, rewards, infos, meals };
}

/** Choices that include the least-fibre meals, so the dietitian has to substitute in some days. */
const CYCLE = (t: number): number => [0, 0, 3, 5, 1, 0, 2, 4, 0, 1, 5][t % 11] as number;

const OPTION_SETS: Array<[T2DAgentsOptions, number]> = [
  [{}, 1],
  [{ patient: 'reference', mealJitterMinutes: 0 }, 2],
  [{ cohortSeed: 3, patientIndex: 4, days: 2, cgmNoiseSd: 8 }, 7],
  [{ cohortSeed: 11, patientIndex: 0, energyKcal: 2200, mealJitterMinutes: 120, days: 4 }, 12],
  [{ person: { ...referenceT2DPerson(), id: 'by-value' }, energyKcal: 1200, cgmNoiseSd: 3 }, 5],
];

describe('glucose/t2d-nutrition-agents-v0: the type 2 nutrition twin as agents on the Simulation', () => {
  it('reproduces glucose/t2d-nutrition-v1 exactly (equal episode hash) for the same options, seed and actions', () => {
    let substitutions = 0;
    for (const [options, seed] of OPTION_SETS) {
      const ref = run(new T2DNutritionEnv(options), seed, CYCLE, 3);
      const agents = run(new T2DAgentsEnv(options), seed, CYCLE, 3);
      expect(agents.steps).toBe(ref.steps);
      expect(agents.meals).toEqual(ref.meals);
      expect(agents.hash).toBe(ref.hash);
      substitutions += ref.substitutions;
    }
    // the dietitian's substitution path is exercised, not only the feasible one
    expect(substitutions).toBeGreaterThan(0);
  });

  it('meter: null (explicit) is the CGM composition, equal to v1', () => {
    const ref = run(new T2DNutritionEnv({ cgmNoiseSd: 5 }), 4, CYCLE, 1);
    expect(run(new T2DAgentsEnv({ cgmNoiseSd: 5, meter: null }), 4, CYCLE, 1).hash).toBe(ref.hash);
  });

  it('an exact meter shows plasma glucose before the meal and 2 h after it; the physiology and rewards are unchanged', () => {
    const options = { patient: 'reference' as const, mealJitterMinutes: 0 };
    const ref = run(new T2DNutritionEnv(options), 3, CYCLE, 1);
    const env = new T2DAgentsEnv({ ...options, meter: { accuracy: 'exact' } });
    const metered = run(env, 3, CYCLE, 1);
    expect(metered.hash).not.toBe(ref.hash);
    // what the person eats and what their glucose does is untouched by the monitor
    expect(metered.meals).toEqual(ref.meals);
    expect(metered.rewards).toEqual(ref.rewards);
    const TRUE_KEYS = INFO_KEYS.map((k, i) => [k, i] as const).filter(([k]) => k !== 'cgm');
    for (let t = 0; t < ref.infos.length; t++) for (const [, i] of TRUE_KEYS) expect(metered.infos[t]?.[i]).toBe(ref.infos[t]?.[i]);
    // obs 0: the pre-meal check = plasma glucose at the decision (v1 shows interstitial glucose there)
    for (let t = 0; t < ref.infos.length; t++) expect(metered.observations[t + 1]?.[0]).toBe(Math.fround(metered.infos[t]?.[1] as number));
    // obs 1 and 2 after breakfast: plasma glucose 120 min after the meal, from the patient model alone
    const person = referenceT2DPerson();
    const alone = new T2DPatient(person.params, { basal: person.basal });
    const breakfast = MENU[0]?.meals[CYCLE(0)]?.composition;
    if (breakfast === undefined) throw new Error('menu');
    alone.eat({ carbsG: breakfast.carbsG, absorption: mealAbsorption(breakfast) });
    alone.advance(120);
    const post = Math.fround(alone.plasmaGlucose);
    expect(metered.observations[1]?.[1]).toBe(post);
    expect(metered.observations[1]?.[2]).toBe(post);
    expect(post).toBeGreaterThan((metered.observations[0]?.[0] as number) + 20); // a real post-prandial rise
    // the meter's checks in the collector: one pre-meal check per decision (plus the one at reset), one post-meal check per meal
    expect(env.meter?.checks).toBe(1 + 2 * ref.steps);
    const column = env.simulation.collector.column('meter_post_meal');
    expect(Array.from(column, (v) => Math.fround(v))).toEqual(metered.observations.slice(1).map((o) => o[1]));
  });

  it('a post-meal check later than the next meal is taken at the next meal', () => {
    const env = new T2DAgentsEnv({ patient: 'reference', mealJitterMinutes: 120, meter: { accuracy: 'exact', postMealMinutes: 240 } });
    const ep = run(env, 8, CYCLE, 1);
    let short = 0;
    for (let t = 0; t < ep.infos.length; t++) {
      const minutes = ep.infos[t]?.[6] as number;
      const o = ep.observations[t + 1] as Float32Array;
      if (minutes <= 240) {
        short++;
        expect(o[1]).toBe(o[0]); // both checks at the same minute, exact meter
      } else expect(o[1]).not.toBe(o[0]);
    }
    expect(short).toBeGreaterThan(0);
  });

  it('the ISO 15197 meter: about 95 % of checks within ±15 mg/dL (< 100) or ±15 % (≥ 100) of plasma glucose, none exact', () => {
    const env = new T2DAgentsEnv({ days: 10, meter: {} });
    let inside = 0;
    let n = 0;
    for (let e = 0; e < 8; e++) {
      env.reset({ seed: 100 + e });
      for (let t = 0; t < 30; t++) {
        const r = env.step(CYCLE(t));
        const g = r.info.glucose as number;
        const err = Math.abs((r.observation[0] as number) - g);
        expect(err).toBeGreaterThan(0);
        n++;
        if (err <= Math.max(METER_ISO15197.absoluteMgDl, METER_ISO15197.relative * g)) inside++;
      }
    }
    expect(n).toBe(240);
    expect(inside / n).toBeGreaterThan(0.91);
    expect(inside / n).toBeLessThan(0.99);
  });

  it('what the meter misses (README figures): of 360 meals of 40 generated people, a 2-h check flags more high peaks than a 1-h check', () => {
    const ACT = [0, 3, 5, 2, 1, 4, 0, 2, 3];
    const count = (postMealMinutes: number): { meals: number; peakHigh: number; checkHigh: number; both: number } => {
      const env = new T2DAgentsEnv({ meter: { postMealMinutes } });
      const c = { meals: 0, peakHigh: 0, checkHigh: 0, both: 0 };
      for (let seed = 1; seed <= 40; seed++) {
        env.reset({ seed });
        for (let t = 0; t < 9; t++) {
          const r = env.step(ACT[t] as number);
          const peak = (r.info.peak as number) > 180;
          const check = (r.observation[1] as number) > 180;
          c.meals++;
          c.peakHigh += peak ? 1 : 0;
          c.checkHigh += check ? 1 : 0;
          c.both += peak && check ? 1 : 0;
        }
      }
      return c;
    };
    expect(count(120)).toEqual({ meals: 360, peakHigh: 312, checkHigh: 284, both: 281 });
    expect(count(60)).toEqual({ meals: 360, peakHigh: 312, checkHigh: 226, both: 224 });
  });

  it('getState/setState continues exactly (with a meter too) and accepts a v1 state', () => {
    for (const options of [{ cohortSeed: 2, patientIndex: 3, cgmNoiseSd: 4 }, { meter: { postMealMinutes: 90 } }] as T2DAgentsOptions[]) {
      const a = new T2DAgentsEnv(options);
      a.reset({ seed: 9 });
      for (let t = 0; t < 4; t++) a.step(CYCLE(t));
      const saved = JSON.parse(JSON.stringify(a.getState()));
      const b = new T2DAgentsEnv(options);
      b.reset({ seed: 1 });
      b.setState(saved);
      for (let t = 4; t < 9; t++) {
        const x = a.step(CYCLE(t));
        const xo = Float32Array.from(x.observation);
        const y = b.step(CYCLE(t));
        expect(y.observation).toEqual(xo);
        expect(y.reward).toBe(x.reward);
      }
    }
    // a v1 keyframe restored into the agent env continues as v1 does
    const v1 = new T2DNutritionEnv({ cgmNoiseSd: 6 });
    const ag = new T2DAgentsEnv({ cgmNoiseSd: 6 });
    v1.reset({ seed: 3 });
    for (let t = 0; t < 5; t++) v1.step(CYCLE(t));
    ag.reset({ seed: 99 });
    ag.setState(JSON.parse(JSON.stringify(v1.getState())));
    for (let t = 5; t < 9; t++) {
      const x = v1.step(CYCLE(t));
      const xo = Float32Array.from(x.observation);
      const xi = { ...x.info };
      const y = ag.step(CYCLE(t));
      expect(y.observation).toEqual(xo);
      expect(y.reward).toBe(x.reward);
      expect(y.info.glucoseSum).toBe(xi.glucoseSum);
    }
    expect(() => new T2DAgentsEnv({ meter: {} }).setState(v1.getState())).toThrow(/needs the meter's state/);
  });

  it('a policy can drive the clinician instead of the Env action; the agents are listed', () => {
    // lowest-GI feasible meal (the observation carries each option's GI and feasibility)
    const lowGi = (obs: Float32Array): number => {
      let best = -1;
      for (let m = 0; m < 6; m++) if (obs[9 + 5 * m + 4] === 1 && (best < 0 || (obs[9 + 5 * m + 1] as number) < (obs[9 + 5 * best + 1] as number))) best = m;
      return best;
    };
    const env = new T2DAgentsEnv({ cohortSeed: 1, patientIndex: 2 }, lowGi);
    const first = env.reset({ seed: 5 });
    expect(first.info.agents).toEqual(['meals', 'clinician', 'dietitian', 'patient', 'cgm']);
    expect(new T2DAgentsEnv({ meter: {} }).reset({ seed: 1 }).info.agents).toEqual(['meals', 'clinician', 'dietitian', 'patient', 'meter']);
    const chosen: string[] = [];
    for (let t = 0; t < 9; t++) {
      const r = env.step(0);
      expect(r.info.substituted).toBe(false);
      chosen.push(r.info.meal as string);
    }
    expect(chosen).not.toEqual(Array.from({ length: 9 }, (_, t) => MENU[t % 3]?.meals[0]?.id)); // not the Env's action 0
    // the same meals given as the Env's actions: the same episode
    const byAction = new T2DAgentsEnv({ cohortSeed: 1, patientIndex: 2 });
    byAction.reset({ seed: 5 });
    const again = chosen.map((id, t) => byAction.step((MENU[t % 3]?.meals ?? []).findIndex((m) => m.id === id)).info.meal);
    expect(again).toEqual(chosen);
  });

  it('the registered dietitian protocol runs on it and gives the same episode as on v1', () => {
    const episode = (id: string): string[] => {
      const env = make(id, { cohortSeed: 4, patientIndex: 1 });
      const first = env.reset({ seed: 21 });
      const policy = makePolicy('glucose-t2d/dietitian-low-gi', env);
      policy.reset?.(policyContext(env, first.info));
      let obs = first.observation;
      const out: string[] = [];
      for (;;) {
        const r = env.step(policy.act(obs, Rng.fromSeed(0)) as number);
        out.push(`${r.info.meal} ${r.reward}`);
        obs = r.observation;
        if (r.truncated) return out;
      }
    };
    const v1 = episode('glucose/t2d-nutrition-v1');
    expect(v1).toHaveLength(9);
    expect(episode(T2D_AGENTS_ENV_ID)).toEqual(v1);
  });

  it('rejects bad options naming the field', () => {
    expect(() => new T2DAgentsEnv({ meter: { postMealMinutes: 20 } })).toThrow(/option meter\.postMealMinutes must be an integer number of minutes in \[30, 240\], got 20/);
    expect(() => new T2DAgentsEnv({ meter: { postMealMinutes: 90.5 } })).toThrow(/meter\.postMealMinutes/);
    expect(() => new T2DAgentsEnv({ meter: { accuracy: 'lab' } as never })).toThrow(/option meter\.accuracy must be 'iso15197' or 'exact'/);
    expect(() => new T2DAgentsEnv({ meter: { every: 4 } as never })).toThrow(/option meter\.every is not a meter option/);
    expect(() => new T2DAgentsEnv({ meter: 5 as never })).toThrow(/option meter must be/);
    expect(() => new T2DAgentsEnv({ meter: {}, cgmNoiseSd: 5 })).toThrow(/glucose\/t2d-nutrition-agents-v0: option cgmNoiseSd has no effect with a meter/);
    expect(() => new T2DAgentsEnv({ days: 0 })).toThrow(/glucose\/t2d-nutrition-agents-v0: option days must be an integer in \[1, 365\]/);
    expect(() => new T2DAgentsEnv({ person: { id: 'x', params: {}, basal: {} } as never })).toThrow(/option person\.params\.\w+ must be a finite number/);
    const bad = new T2DAgentsEnv({}, () => 6);
    bad.reset({ seed: 1 });
    expect(() => bad.step(0)).toThrow(/policy returned 6/);
  });

  it('is listed by the glucose-t2d twin and passes the conformance suite', () => {
    expect(getTwin('glucose-t2d').envIds).toContain(T2D_AGENTS_ENV_ID);
    expect(checkEnv(() => make(T2D_AGENTS_ENV_ID), { steps: 40 })).toEqual([]);
    expect(checkEnv(() => make(T2D_AGENTS_ENV_ID, { cohortSeed: 3, patientIndex: 5, meter: { postMealMinutes: 60 } }), { steps: 40 })).toEqual([]);
  });
});
