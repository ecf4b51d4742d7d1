import { afterAll, describe, expect, it } from 'vitest';
import { InlineExecutor, PiscinaExecutor } from '../../experiments/executor.js';
import { simulatePower } from '../../experiments/power.js';
import { type TrialSpec, validateSpec } from '../../experiments/spec.js';
import { parseEffect, parseSizes } from '../../cli/commands/trial-power.js';
import { cli } from './cli-helpers.js';

/**
 * Power by simulation on the smallest twin-less trial there is: CartPole under the random policy in
 * both arms, unpaired (each arm its own episode seeds), so the arms differ only by noise and the true
 * difference in return is exactly the `effect` added to the second arm.
 */
function spec(overrides: Record<string, unknown> = {}): TrialSpec {
  return validateSpec({
    kind: 'trial',
    name: 'cartpole power',
    seed: 3,
    cohort: { env: 'classic/cartpole-v1', size: 10 },
    arms: [
      { name: 'a', policy: 'random' },
      { name: 'b', policy: 'random' },
    ],
    paired: false,
    endpoints: { primary: ['return'], secondary: ['length'] },
    ...overrides,
  }) as TrialSpec;
}

describe('power by simulation', () => {
  // The worker pool a real run uses (two light workers: the arms are registered policies).
  const pool = new PiscinaExecutor({ workers: 2 });
  afterAll(() => pool.close());

  // At n = 30 the percentile bootstrap is close to its nominal level; at n = 12 the same null gives 0.045
  // (9/200; the percentile interval is too narrow in small samples), which the power table then shows.
  it('is ≈ α under the null: two random arms, no effect (the one-sided 2.5 % of "arm favoured")', async () => {
    const r = await simulatePower({ spec: spec(), sizes: [30], sims: 160, seed: 1, effect: 0, executor: pool, resamples: 1000 });
    const row = r.rows[0];
    expect(r.hypothesis).toMatchObject({ type: 'superiority', alpha: 0.025 });
    // The rejection rate's Wilson 95 % interval covers α = 0.025 and excludes a badly miscalibrated test.
    expect(row?.ci.lower).toBeLessThan(0.025);
    expect(row?.ci.upper).toBeGreaterThan(0.025);
    expect(row?.power).toBeLessThan(0.07);
    expect(Math.abs(row?.meanDifference as number)).toBeLessThan(1);
  }, 60_000);

  it('rises with n for a true effect of +6 return, and its CI width shrinks like 1/√n', async () => {
    const r = await simulatePower({ spec: spec(), sizes: [8, 24, 72], sims: 50, seed: 2, effect: 6, executor: pool, resamples: 1000 });
    const [small, mid, large] = r.rows;
    expect(small?.power).toBeLessThan(mid?.power as number);
    expect(mid?.power).toBeLessThan(large?.power as number);
    expect(large?.power).toBeGreaterThan(0.75);
    expect(small?.power).toBeLessThan(0.5);
    const ratio = (mid?.meanCiWidth as number) / (large?.meanCiWidth as number);
    expect(ratio).toBeGreaterThan(Math.sqrt(3) * 0.8);
    expect(ratio).toBeLessThan(Math.sqrt(3) * 1.25);
    expect(large?.meanDifference).toBeGreaterThan(4);
  }, 60_000);

  it('is reproducible by seed, the same through the worker pool as inline, and differs with another seed', async () => {
    const run = (seed: number, executor = new InlineExecutor() as InlineExecutor | PiscinaExecutor) =>
      simulatePower({ spec: spec(), sizes: [8, 16], sims: 12, seed, effect: 4, executor, resamples: 500 });
    const a = await run(7);
    expect(await run(7, pool)).toEqual(a);
    const c = await run(8);
    expect(c.rows.map((r) => r.meanDifference)).not.toEqual(a.rows.map((r) => r.meanDifference));
  }, 60_000);

  it('a non-inferiority primary: met when the bound clears the margin', async () => {
    const s = spec({ endpoints: { primary: ['return'], hypotheses: { return: { hypothesis: 'non-inferiority', margin: 8 } } } });
    const r = await simulatePower({ spec: s, sizes: [40], sims: 30, seed: 5, effect: 0, executor: new InlineExecutor(), resamples: 500 });
    expect(r.hypothesis).toMatchObject({ type: 'non-inferiority', margin: 8, alpha: 0.025 });
    expect(r.rows[0]?.power).toBeGreaterThan(0.5);
  }, 60_000);

  it('refuses a shifted binary endpoint and sizes below 2, naming the argument', async () => {
    const binary = spec({ endpoints: { primary: ['terminated'] } });
    await expect(simulatePower({ spec: binary, sizes: [10], sims: 2, seed: 1, effect: 0.1, executor: new InlineExecutor() })).rejects.toThrow(/^--effect: the primary endpoint terminated is binary/);
    await expect(simulatePower({ spec: spec(), sizes: [1], sims: 2, seed: 1, effect: 0, executor: new InlineExecutor() })).rejects.toThrow(/^--n: /);
  });
});

describe('twinlab trial power', () => {
  it('parses --n and --effect, naming the argument', () => {
    expect(parseSizes('20, 50,100')).toEqual([20, 50, 100]);
    expect(() => parseSizes('20,1')).toThrow(/^--n must be a comma-separated list of cohort sizes \(integers ≥ 2\), got "20,1"/);
    expect(parseEffect('observed')).toBe('observed');
    expect(parseEffect('-2.5')).toBe(-2.5);
    expect(() => parseEffect('big')).toThrow(/^--effect must be "observed" or a number/);
  });

  it('bad arguments exit 2 naming the argument; a run prints JSON with progress on stderr', async () => {
    const file = 'experiments/examples/trial-cartpole-random.yaml';
    const bad = await cli(['trial', 'power', file, '--n', '20,x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--n must be a comma-separated list of cohort sizes .*"20,x"/);
    const ok = await cli(['trial', 'power', file, '--n', '6,12', '--sims', '4', '--seed', '9', '--workers', '2', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/power: n = 12: 96\/96 jobs/); // 4 sims × 12 patients × 2 arms
    const result = JSON.parse(ok.stdout);
    expect(result.rows.map((r: { n: number }) => r.n)).toEqual([6, 12]);
    expect(result.effect).toBe('observed');
    expect(result.seed).toBe(9);
  }, 90_000);
});
