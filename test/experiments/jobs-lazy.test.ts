import { describe, expect, it } from 'vitest';
import { expandJobs, expandJobsAsync, generateJobs } from '../../experiments/jobs.js';
import { SPEC_LIMITS, validateSpec } from '../../experiments/spec.js';

const cartpoleTrial = (size: number) =>
  validateSpec({
    kind: 'trial',
    name: 'lazy',
    seed: 3,
    cohort: { env: 'classic/cartpole-v1', size },
    arms: [
      { name: 'a', policy: 'random' },
      { name: 'b', policy: 'random' },
    ],
    replicates: 2,
    endpoints: { primary: ['return'] },
  });

describe('lazy job expansion', () => {
  it('the generator, the array and the async expansion give the same jobs', async () => {
    const spec = cartpoleTrial(25);
    const jobs = expandJobs('x', spec);
    expect(jobs).toHaveLength(100);
    expect(await expandJobsAsync('x', spec, { sliceMs: 0 })).toEqual(jobs);
    const first = generateJobs('x', spec).next();
    expect(first.value).toEqual(jobs[0]);
    const glucose = validateSpec({
      kind: 'trial',
      name: 'g',
      seed: 1,
      cohort: { twin: 'glucose', population: 'adult', size: 12, generated: true, inclusion: { age: { min: 30 } } },
      arms: [{ name: 'basal', policy: 'glucose/basal' }],
      duration: { steps: 12 },
      endpoints: { primary: ['tir'] },
    });
    expect(await expandJobsAsync('g', glucose, { sliceMs: 0 })).toEqual(expandJobs('g', glucose));
  });

  it('a large legal trial is expanded without holding the event loop', async () => {
    const spec = cartpoleTrial(5000); // 20,000 jobs, ≈ 0.6 s of expansion
    expect(20_000).toBeLessThanOrEqual(SPEC_LIMITS.jobs);
    let ticks = 0;
    let longest = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
      ticks++;
    }, 1);
    const started = performance.now();
    const jobs = await expandJobsAsync('big', spec);
    const elapsed = performance.now() - started;
    clearInterval(timer);
    expect(jobs).toHaveLength(20_000);
    expect(jobs.at(-1)?.id).toBe('big/job-19999');
    // the timer ran all along, never starved for long (generous bound: 2 shared cores)
    expect(ticks).toBeGreaterThan(Math.min(10, elapsed / 50));
    expect(longest).toBeLessThan(Math.max(250, elapsed / 3));
  });
});
