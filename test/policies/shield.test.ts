import { describe, expect, it } from 'vitest';
import type { Env, Info } from '../../engine/env.js';
import { Rng } from '../../engine/random.js';
import { make } from '../../engine/registry.js';
import type { Discrete } from '../../engine/spaces.js';
import { getTwin } from '../../engine/twin.js';
import { Wrapper } from '../../engine/wrappers.js';
import '../../environments/index.js';
import { evaluatePolicy } from '../../policies/evaluate.js';
import type { Policy } from '../../policies/policy.js';
import { RandomPolicy } from '../../policies/random.js';
import { DecisionInfo, resolveShield, ShieldedEnv, shielded } from '../../policies/shield.js';

/** Independent statements of each twin's rule, from the observation labels and action labels. */
function sepsisViolates(env: Env, observation: Float32Array, action: number): boolean {
  const labels = env.observationSpace.labels as string[];
  const high = observation[labels.indexOf('sysbp=high')] === 1;
  const vasoOff = observation[labels.indexOf('vaso=off')] === 1;
  const label = (env.actionSpace as Discrete).labels?.[action] as string;
  return high && vasoOff && label.includes('vasopressors');
}

function glucoseViolates(env: Env, observation: Float32Array, action: number): boolean {
  const cgm = observation[(env.observationSpace.labels as string[]).indexOf('cgm')] as number;
  const label = (env.actionSpace as Discrete).labels?.[action] as string;
  return cgm < 80 && (Number.parseFloat(label) > 1 || label.includes('bolus'));
}

/** Runs `policy` for `steps` decisions (resetting at episode ends) and counts violations of `violates`. */
function run(env: Env, policy: Policy, steps: number, violates: (obs: Float32Array, a: number) => boolean, seed = 1): { violations: number; masked: number } {
  const rng = Rng.fromSeed(seed).fork('policy');
  let episode = 0;
  let { observation, info } = env.reset({ seed: seed * 1000 + episode });
  let violations = 0;
  let masked = 0;
  for (let t = 0; t < steps; t++) {
    const obs = Float32Array.from(observation);
    const action = policy.act(obs, rng, info) as number;
    if (violates(obs, action)) violations++;
    if ((policy as { lastShieldIntervention?: () => boolean }).lastShieldIntervention?.()) masked++;
    const r = env.step(action);
    observation = r.observation;
    info = r.info;
    if (r.terminated || r.truncated) ({ observation, info } = env.reset({ seed: seed * 1000 + ++episode }));
  }
  return { violations, masked };
}

/** A random policy that proposes vasopressors (or the highest insulin) most of the time. */
class Pushy implements Policy {
  readonly name = 'pushy';
  readonly kind = 'random' as const;
  constructor(
    private readonly n: number,
    private readonly favourite: number,
  ) {}
  act(_o: Float32Array, rng: Rng): number {
    return rng.next() < 0.6 ? this.favourite : rng.integer(0, this.n);
  }
}

describe('shields (twin safety constraints)', () => {
  it('each twin with a shield declares an id and a cited rationale', () => {
    for (const id of ['glucose', 'vancomycin', 'sepsis']) {
      const shield = resolveShield(getTwin(id), true);
      expect(shield.id).toMatch(new RegExp(`^${id}/`));
      expect(shield.rationale).toMatch(/\d{4}/); // a year: the source is cited
    }
    expect(() => resolveShield(getTwin('hiv'), true)).toThrow(/declares no shields/);
    expect(() => resolveShield(getTwin('sepsis'), 'nope')).toThrow(/unknown shield "nope"/);
  });

  it('a shielded policy never takes a masked action over 10^5 sepsis decisions, and counts each intervention', () => {
    const env = make('sepsis/oberst-v1');
    const shield = resolveShield(getTwin('sepsis'), true);
    const pushy = new Pushy(8, 1); // 1 = vasopressors alone
    const unshielded = run(env, pushy, 100_000, (o, a) => sepsisViolates(env, o, a));
    expect(unshielded.violations).toBeGreaterThan(1000); // the rule bites often enough to be tested

    const policy = shielded(pushy, shield, env);
    const result = run(env, policy, 100_000, (o, a) => sepsisViolates(env, o, a));
    expect(result.violations).toBe(0);
    expect(policy.interventions).toBe(result.masked);
    expect(policy.interventions).toBeGreaterThan(1000);
    expect(policy.decisions).toBe(100_000);
  });

  it('replaces a masked sepsis action by the same treatment without vasopressors', () => {
    const env = make('sepsis/oberst-v1');
    const bound = resolveShield(getTwin('sepsis'), true).bind(env);
    const labels = env.observationSpace.labels as string[];
    const obs = new Float32Array(labels.length);
    for (const l of ['hr=normal', 'sysbp=high', 'o2=normal', 'glucose=normal', 'abx=off', 'vaso=off', 'vent=off']) obs[labels.indexOf(l)] = 1;
    const allowed = bound?.mask(obs, {}, new Uint8Array(8)) as Uint8Array;
    expect(Array.from(allowed)).toEqual([1, 0, 1, 0, 1, 0, 1, 0]);
    expect(bound?.safest(7, allowed)).toBe(6); // antibiotics+ventilation+vasopressors → antibiotics+ventilation
    expect(bound?.safest(1, allowed)).toBe(0);
  });

  it('glucose: no insulin above basal below 80 mg/dL, over whole days of a pushy policy', () => {
    const env = make('glucose/t1d-v1', { patient: 'adult#003' });
    const shield = resolveShield(getTwin('glucose'), true);
    const policy = shielded(new Pushy((env.actionSpace as Discrete).n, 6), shield, env); // 6 = 5× basal
    const result = run(env, policy, 288 * 4, (o, a) => glucoseViolates(env, o, a));
    expect(result.violations).toBe(0);
    expect(policy.interventions).toBeGreaterThan(10);
  });

  it('vancomycin: doses above 4 g/day are capped at the largest allowed dose', () => {
    const env = make('pkpd/vancomycin-v1');
    const shield = resolveShield(getTwin('vancomycin'), true);
    const space = env.actionSpace as Discrete;
    const bound = shield.bind(env);
    const allowed = bound?.mask(new Float32Array(11), {}, new Uint8Array(space.n)) as Uint8Array;
    const labels = space.labels as string[];
    expect(labels.filter((_, i) => allowed[i] === 0)).toEqual(['2500 mg']); // q12h: the cap is 2000 mg per dose
    expect(labels[bound?.safest(labels.indexOf('2500 mg'), allowed) as number]).toBe('2000 mg');
  });

  it('ShieldedEnv (training) never lets a masked action reach the env', () => {
    const inner = make('sepsis/oberst-v1');
    const seen: number[] = [];
    let lastObs = new Float32Array(0);
    class Spy extends Wrapper<number, number> {
      protected override resetWrapped(o: Parameters<Env['reset']>[0]) {
        const r = this.env.reset(o);
        lastObs = Float32Array.from(r.observation);
        return r;
      }
      protected stepWrapped(a: number) {
        if (sepsisViolates(inner, lastObs, a)) seen.push(a);
        const r = this.env.step(a);
        lastObs = Float32Array.from(r.observation);
        return r;
      }
    }
    const env = new ShieldedEnv(new Spy(inner as Env<number>), resolveShield(getTwin('sepsis'), true));
    const rng = Rng.fromSeed(3);
    let flagged = 0;
    env.reset({ seed: 1 });
    for (let t = 0, ep = 1; t < 20_000; t++) {
      const r = env.step(rng.next() < 0.5 ? 1 : rng.integer(0, 8));
      flagged += r.info.shield as number;
      if (r.terminated || r.truncated) env.reset({ seed: ++ep });
    }
    expect(seen).toEqual([]);
    expect(env.interventions).toBe(flagged);
    expect(flagged).toBeGreaterThan(100);
  });

  it('DecisionInfo records shield flags in step info without changing the trajectory hash', () => {
    const env = make('sepsis/oberst-v1');
    const monitor = shielded(new RandomPolicy(env.actionSpace), resolveShield(getTwin('sepsis'), true), env, { enforce: false });
    const plain = evaluatePolicy(env, new RandomPolicy(env.actionSpace), { seed: 5, episodes: 20, record: true });
    const logs: Info[][] = [];
    const monitored = evaluatePolicy(new DecisionInfo(env, monitor), monitor, {
      seed: 5,
      episodes: 20,
      record: true,
      onEpisode: (e) => logs.push((e.log?.steps ?? []).map((s) => s.info)),
    });
    expect(monitored.hash).toBe(plain.hash); // monitoring does not change actions
    const flags = logs.flat().map((i) => i.shield);
    expect(flags.every((f) => f === 0 || f === 1)).toBe(true);
    expect(flags.filter((f) => f === 1).length).toBe(monitor.interventions);
  });
});
