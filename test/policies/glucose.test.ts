import { describe, expect, it } from 'vitest';
import { Rng } from '../../engine/random.js';
import { make } from '../../engine/registry.js';
import '../../environments/index.js';
import { getTwin } from '../../engine/twin.js';
import { timeInRange } from '../../environments/glucose/endpoints.js';
import { GlucoseEnv, type GlucoseEnvOptions } from '../../environments/glucose/env.js';
import { patientNames } from '../../environments/glucose/params.js';
import { getTherapy } from '../../environments/glucose/patients.js';
import { evaluatePolicy } from '../../policies/evaluate.js';
import { BasalBolusPolicy, FixedBasalPolicy, InsulinActuator, PidPolicy } from '../../policies/glucose/index.js';
import '../../policies/index.js';
import { type Policy, policyContext } from '../../policies/policy.js';
import { makePolicy } from '../../policies/registry.js';

const THREE_MEALS = [
  { hour: 7, carbs: 45 },
  { hour: 12, carbs: 70 },
  { hour: 18, carbs: 80 },
];

function dayTir(policy: Policy, options: GlucoseEnvOptions): { tir: number; terminated: boolean } {
  const env = new GlucoseEnv({ scenario: THREE_MEALS, sensorNoise: false, ...options });
  const { observation, info } = env.reset({ seed: 1 });
  policy.reset?.(policyContext(env, info));
  let obs = observation;
  const bg: number[] = [];
  const rng = Rng.fromSeed(0);
  for (let t = 0; t < 288; t++) {
    const r = env.step(policy.act(obs, rng) as number | Float32Array);
    obs = r.observation;
    bg.push(r.info.bg as number);
    if (r.terminated) return { tir: timeInRange(bg), terminated: true };
  }
  return { tir: timeInRange(bg), terminated: false };
}

describe('basal-bolus beats basal-only for every adult on a 3-meal day (noise off)', () => {
  for (const mealBolus of ['agent', 'none'] as const) {
    it(`mealBolus '${mealBolus}' (${mealBolus === 'agent' ? 'bolus action' : 'square-wave bolus through the basal levels'})`, () => {
      for (const patient of patientNames('adult')) {
        const basal = dayTir(new FixedBasalPolicy(), { patient, mealBolus });
        const bb = dayTir(new BasalBolusPolicy(), { patient, mealBolus });
        expect(bb.terminated, patient).toBe(false);
        expect(bb.tir, patient).toBeGreaterThan(basal.tir + 20);
      }
    });
  }

  it('continuous action with a bolus channel gives the same control as the discrete calculator bolus', () => {
    const discrete = dayTir(new BasalBolusPolicy(), { patient: 'adult#003', mealBolus: 'agent' });
    const continuous = dayTir(new BasalBolusPolicy(), { patient: 'adult#003', mealBolus: 'agent', continuous: true });
    expect(continuous.tir).toBeGreaterThan(90);
    expect(Math.abs(continuous.tir - discrete.tir)).toBeLessThan(5);
  });
});

describe('protocol mechanics', () => {
  it('basal-bolus dose: carbs/CR, plus (CGM − 140)/CF only above 150 and only with a meal', () => {
    const env = new GlucoseEnv({ patient: 'adult#002', continuous: true, mealBolus: 'agent' });
    const { info } = env.reset({ seed: 1 });
    const bb = new BasalBolusPolicy();
    bb.reset(policyContext(env, info));
    const { carbRatio, correctionFactor } = getTherapy('adult#002');
    expect(bb.bolus(60, 150)).toBeCloseTo(60 / carbRatio, 12);
    expect(bb.bolus(60, 200)).toBeCloseTo(60 / carbRatio + 60 / correctionFactor, 12);
    expect(bb.bolus(0, 300)).toBe(0);
    const obs = new Float32Array(env.observationSpace.size);
    obs[11] = 200; // cgm
    obs[14] = 60; // meal_announced
    const a = bb.act(obs, Rng.fromSeed(0)) as Float32Array;
    expect(a[1]).toBeCloseTo(60 / carbRatio + 60 / correctionFactor, 4);
    expect(a[0]).toBeCloseTo((info.prescription as { basalRate: number }).basalRate, 6);
  });

  it('square-wave bolus through discrete levels delivers the owed insulin', () => {
    const levels = [0, 0.5, 1, 1.5, 2, 3, 5].map((m) => m * 0.02);
    const act = new InsulinActuator({ kind: 'discrete', levels, bolusOffset: null, mealBolus: 'none', stepMinutes: 5, high: [] });
    let extra = 0;
    let k = act.act(0.02, 3) as number;
    for (let t = 0; t < 200; t++) {
      extra += ((levels[k] as number) - 0.02) * 5;
      k = act.act(0.02, 0) as number;
    }
    expect(extra).toBeGreaterThan(3 - 0.05);
    expect(extra).toBeLessThan(3 + 0.05);
    expect(act.nearestLevel(0.031)).toBe(3);
  });

  it('PID raises insulin above target, lowers it below, no derivative kick at the first reading', () => {
    const env = new GlucoseEnv({ continuous: true });
    const { info } = env.reset({ seed: 1 });
    const basal = (info.prescription as { basalRate: number }).basalRate;
    const pid = new PidPolicy();
    pid.reset(policyContext(env, info));
    expect(pid.rate(140)).toBeCloseTo(basal, 12);
    expect(pid.rate(200)).toBeGreaterThan(basal * 1.5);
    const low = new PidPolicy();
    low.reset(policyContext(env, info));
    expect(low.rate(80)).toBeLessThan(basal);
    expect(low.rate(40)).toBe(0);
  });

  it('policies refuse an env without a prescription', () => {
    const env = make('classic/cartpole-v1');
    const bb = new BasalBolusPolicy();
    expect(() => bb.reset(policyContext(env, env.reset({ seed: 1 }).info))).toThrow(/prescription/);
  });
});

describe('registry and trials', () => {
  it('the three protocols are registered for glucose envs and run through evaluatePolicy; endpoints read the log', () => {
    const env = make('glucose/t1d-v1', { mealBolus: 'agent', cohort: 'adult' });
    const twin = getTwin('glucose');
    for (const name of ['glucose/basal', 'glucose/basal-bolus', 'glucose/pid']) {
      const policy = makePolicy(name, env);
      const result = evaluatePolicy(env, policy, { seed: 3, episodes: 2, record: true });
      expect(result.episodes).toHaveLength(2);
      for (const ep of result.episodes) {
        const log = ep.log;
        if (!log) throw new Error('no log');
        const tir = twin.endpoints.find((e) => e.id === 'tir')?.compute(log) as number;
        expect(tir).toBeCloseTo(timeInRange(log.steps.map((s) => s.info.bg as number)), 12);
      }
      const again = evaluatePolicy(make('glucose/t1d-v1', { mealBolus: 'agent', cohort: 'adult' }), makePolicy(name, env), { seed: 3, episodes: 2 });
      expect(again.hash).toBe(result.hash);
    }
  });
});
