import { describe, expect, it } from 'vitest';
import { make } from '../../../engine/registry.js';
import '../../../environments/index.js';
import { evaluatePolicy } from '../../../policies/evaluate.js';
import '../../../policies/index.js';
import { ChemoSchedulePolicy } from '../../../policies/oncology/chemo.js';
import { listPolicies, makePolicy } from '../../../policies/registry.js';

// Source: Ahn & Park, BioSystems 106 (2011) 121–129 (abstract): near-optimal policy = continuous dosing
// from the start until a switch-off time, better than pulsed dosing; DTR-Bench reward (docs/MODELS.md §1).

function actions(name: string, steps: number, options: Record<string, unknown> = {}): number[] {
  const env = make('oncology/chemo-v1', options);
  const policy = makePolicy(name, env, options);
  policy.reset?.({ envId: env.id, observationSpace: env.observationSpace, actionSpace: env.actionSpace, resetInfo: {} });
  const obs = new Float32Array(3);
  return Array.from({ length: steps }, () => policy.act(obs, undefined as never) as number);
}

function episodeReturn(policy: ChemoSchedulePolicy, options: Record<string, unknown> = {}): number {
  return evaluatePolicy(make('oncology/chemo-v1', options), policy, { seed: 0, episodes: 1 }).meanReturn;
}

describe('chemotherapy schedules', () => {
  it('are registered for oncology/chemo-v1', () => {
    const names = listPolicies('oncology/chemo-v1').map((p) => p.name);
    for (const n of ['oncology/chemo-mtd', 'oncology/chemo-pulsed', 'oncology/chemo-front-loaded']) expect(names).toContain(n);
  });

  it('MTD gives the top level always; pulsed 7/7 alternates 28 steps on, 28 off; front-loaded stops after 20 days', () => {
    expect(new Set(actions('oncology/chemo-mtd', 100))).toEqual(new Set([4]));
    expect(new Set(actions('oncology/chemo-mtd', 10, { doseLevels: 11 }))).toEqual(new Set([10]));
    const pulsed = actions('oncology/chemo-pulsed', 112);
    expect(pulsed.slice(0, 28).every((a) => a === 4)).toBe(true);
    expect(pulsed.slice(28, 56).every((a) => a === 0)).toBe(true);
    expect(pulsed.slice(56, 84).every((a) => a === 4)).toBe(true);
    const front = actions('oncology/chemo-front-loaded', 200);
    expect(front.filter((a) => a === 4).length).toBe(80);
    expect(front.slice(80).every((a) => a === 0)).toBe(true);
    expect(new Set(actions('oncology/chemo-mtd', 3, { level: 0.5 }))).toEqual(new Set([2]));
  });

  it('"dose then stop" beats pulsed schedules with the same total dose (20 dose-days) on the DTR-Bench reward', () => {
    const max = 4;
    const front = episodeReturn(new ChemoSchedulePolicy('front', 0.25, max, (d) => d < 20));
    const pulsedAlternateDays = episodeReturn(new ChemoSchedulePolicy('1/1', 0.25, max, (d) => d < 40 && (d + 1e-9) % 2 < 1));
    const pulsedWeekly = episodeReturn(new ChemoSchedulePolicy('7/7', 0.25, max, (d) => d < 35 && (d + 1e-9) % 14 < 7));
    const pulsed5of15 = episodeReturn(new ChemoSchedulePolicy('5/10', 0.25, max, (d) => d < 60 && (d + 1e-9) % 15 < 5));
    expect(front).toBeGreaterThan(pulsedAlternateDays);
    expect(front).toBeGreaterThan(pulsedWeekly);
    expect(front).toBeGreaterThan(pulsed5of15);
    // and beats continuous maximal dosing, which pays the −v cost for 150 days
    expect(front).toBeGreaterThan(episodeReturn(new ChemoSchedulePolicy('mtd', 0.25, max, () => true)));
  });

  it('with the cumulative-toxicity option MTD dies while front-loading survives', () => {
    const tox = { toxicity: 'cumulative' };
    const mtd = evaluatePolicy(make('oncology/chemo-v1', tox), makePolicy('oncology/chemo-mtd', make('oncology/chemo-v1', tox)), { seed: 0, episodes: 1 });
    expect(mtd.episodes[0]?.terminated).toBe(true);
    const front = evaluatePolicy(make('oncology/chemo-v1', tox), makePolicy('oncology/chemo-front-loaded', make('oncology/chemo-v1', tox)), { seed: 0, episodes: 1 });
    expect(front.episodes[0]?.terminated).toBe(false);
    expect(front.episodes[0]?.length).toBe(600);
  });

  it('rejects bad options with a message naming them', () => {
    const env = make('oncology/chemo-v1');
    expect(() => makePolicy('oncology/chemo-pulsed', env, { onDays: -1 })).toThrow(/onDays/);
    expect(() => makePolicy('oncology/chemo-mtd', env, { level: 2 })).toThrow(/level/);
  });
});
