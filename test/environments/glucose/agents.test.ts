import { describe, expect, it } from 'vitest';
import { checkEnv } from '../../../engine/conformance.js';
import type { Env } from '../../../engine/env.js';
import { TrajectoryHasher } from '../../../engine/hash.js';
import { make } from '../../../engine/registry.js';
import { GLUCOSE_AGENTS_ENV_ID, GlucoseAgentsEnv } from '../../../environments/glucose/agents.js';
import { GlucoseEnv } from '../../../environments/glucose/env.js';
import '../../../environments/index.js';

/** Episode hash over observations, actions, rewards and the info fields the endpoints read. */
function episode(env: Env, seed: number, steps: number, policy: (t: number) => number): { hash: string; bg: number[]; cho: number } {
  const h = new TrajectoryHasher();
  const first = env.reset({ seed });
  h.observation(first.observation);
  const bg: number[] = [];
  let cho = 0;
  for (let t = 0; t < steps; t++) {
    const a = policy(t);
    const r = env.step(a);
    h.step(a, r.reward, r.observation);
    h.observation(Float32Array.of(r.info.bg as number, r.info.insulinU as number, r.info.cho as number, r.info.iob as number));
    bg.push(r.info.bg as number);
    cho += r.info.cho as number;
    if (r.terminated || r.truncated) break;
  }
  return { hash: h.digest(), bg, cho };
}

const CYCLE = (t: number): number => [2, 3, 1, 2, 0, 4][t % 6] as number;

describe('glucose/t1d-agents-v0: the glucose twin as agents on the Simulation', () => {
  it('reproduces glucose/t1d-v1 exactly (equal episode hash) for the same seed and actions', () => {
    for (const [options, seed] of [
      [{}, 1],
      [{ patient: 'adolescent#003', randomInitialBG: true }, 7],
      [{ mealBolus: 'agent' as const, sensor: 'Dexcom', decisionMinutes: 5 }, 3],
      [{ mealBolus: 'auto' as const, startHour: 6, pump: 'Cozmo' }, 11],
      [{ cohort: 'child' as const, sensor: 'Navigator' }, 5],
    ] as const) {
      const ref = episode(new GlucoseEnv(options), seed, 288, CYCLE);
      const agents = episode(new GlucoseAgentsEnv(options), seed, 288, CYCLE);
      expect(agents.bg.length).toBe(ref.bg.length);
      expect(agents.hash).toBe(ref.hash);
    }
  });

  it('swapping the CGM is configuration: Dexcom samples every 3 min inside a 5-min step', () => {
    const env = new GlucoseAgentsEnv({ sensor: 'Dexcom', decisionMinutes: 5 });
    env.reset({ seed: 2 });
    env.step(2);
    // Dexcom samples at minutes 3 and 6…: the reading held at minute 5 is the one taken at minute 3.
    expect(env.simulation.pendingEvents().map((e) => [e.name, e.time])).toEqual([['cgm sample', 6]]);
  });

  it('adding a nurse who checks glucose every 4 h is configuration, and her rescues change the course', () => {
    // No insulin at all until hypoglycaemia is impossible; instead 5× basal drives glucose low.
    const opts = { scenario: 'none' as const, sensorNoise: false, hypoThreshold: 10 };
    const plain = new GlucoseAgentsEnv(opts);
    const nursed = new GlucoseAgentsEnv({ ...opts, nurse: { everyMinutes: 240 } });
    const a = episode(plain, 4, 288, () => 6);
    const b = episode(nursed, 4, 288, () => 6);
    expect(nursed.simulation.agents.map((x) => x.name)).toEqual(['meals', 'clinician', 'pump', 'patient', 'cgm', 'nurse']);
    expect(nursed.nurse?.checks).toBe(Math.floor((b.bg.length * 5) / 240));
    expect(nursed.nurse?.rescues).toBeGreaterThan(0);
    expect(b.cho).toBe(15 * (nursed.nurse?.rescues ?? 0));
    expect(a.cho).toBe(0);
    expect(b.hash).not.toBe(a.hash);
    // nurse_bg is recorded only in the steps that end on a check
    const col = nursed.simulation.collector.column('nurse_bg');
    expect(Array.from(col).filter((v) => !Number.isNaN(v)).length).toBe(nursed.nurse?.checks);
  });

  it('a policy can drive the clinician instead of the Env action', () => {
    const byPolicy = new GlucoseAgentsEnv({}, () => 3);
    const byAction = new GlucoseAgentsEnv({});
    expect(episode(byPolicy, 9, 50, () => 0).bg).toEqual(episode(byAction, 9, 50, () => 3).bg);
  });

  it('rejects bad agent configuration naming the field', () => {
    expect(() => new GlucoseAgentsEnv({ nurse: { everyMinutes: 0 } })).toThrow(/nurse.everyMinutes/);
    expect(() => new GlucoseAgentsEnv({ nurse: { everyMinutes: 60, often: 1 } as never })).toThrow(/nurse.often/);
    expect(() => new GlucoseAgentsEnv({ sensor: 'Libre' })).toThrow(/sensor/);
  });

  it('passes the conformance suite', () => {
    expect(checkEnv(() => make(GLUCOSE_AGENTS_ENV_ID), { steps: 300 })).toEqual([]);
    expect(checkEnv(() => make(GLUCOSE_AGENTS_ENV_ID, { nurse: { everyMinutes: 240 }, sensor: 'Dexcom' }), { steps: 100 })).toEqual([]);
  });
});
