import { describe, expect, it } from 'vitest';
import { make } from '../../../engine/registry.js';
import { getTwin } from '../../../engine/twin.js';
import '../../../environments/index.js';
import { evaluatePolicy } from '../../../policies/evaluate.js';
import '../../../policies/index.js';
import { makePolicy } from '../../../policies/registry.js';

// Source: docs/MODELS.md §3 fact 2 (reference returns, R2 = 2000, end-of-step reward; "drug for K steps then
// stop" and regular on/off cycling stay at E < 50, returns ≤ 7.1e6).

function evaluate(name: string, options: Record<string, unknown> = {}) {
  const env = make('hiv/sti-v1');
  const result = evaluatePolicy(env, makePolicy(name, env, options), { seed: 0, episodes: 1, record: true });
  const log = result.episodes[0]?.log;
  if (!log) throw new Error('no log');
  const twin = getTwin('hiv');
  return { ret: result.meanReturn, e: Object.fromEntries(twin.endpoints.map((d) => [d.id, d.compute(log)])), log };
}

describe('HIV fixed schedules', () => {
  it('always-on / never reproduce the reference returns; cycling stays below 7.1e6 without immune control', () => {
    const on = evaluate('hiv/always-on');
    const never = evaluate('hiv/never');
    const cycling = evaluate('hiv/cycling');
    expect(on.ret / 7.02e6).toBeCloseTo(1, 2);
    expect(never.ret / 3.43e6).toBeCloseTo(1, 2);
    expect(cycling.ret).toBeLessThan(7.1e6);
    expect(cycling.e.immune_control).toBe(0);
    expect(on.e.drug_days).toBe(2000);
    expect(never.e.drug_days).toBe(0);
    expect(cycling.e.drug_days).toBe(1000);
    expect(on.e.log10_viral_load_final).toBeLessThan(never.e.log10_viral_load_final as number);
    expect(on.e.cd4_final).toBeGreaterThan(never.e.cd4_final as number);
  });

  it('cycling alternates both drugs and nothing by onSteps/offSteps', () => {
    const { log } = evaluate('hiv/cycling', { onSteps: 2, offSteps: 3 });
    expect(log.steps.slice(0, 10).map((s) => s.action)).toEqual([3, 3, 0, 0, 0, 3, 3, 0, 0, 0]);
    expect(() => makePolicy('hiv/cycling', make('hiv/sti-v1'), { onSteps: 1.5 })).toThrow(/onSteps/);
  });
});
