import { describe, expect, it } from 'vitest';
import '../../environments/index.js';
import { getSpec, knownOptions, listSpecs, make, unknownOptions } from '../../engine/registry.js';
import { listTwins } from '../../engine/twin.js';

describe('declared env options', () => {
  it('every registered env declares its option names', () => {
    for (const spec of listSpecs()) {
      expect(spec.optionNames, spec.id).toBeDefined();
      for (const key of Object.keys(spec.defaultOptions ?? {})) expect(knownOptions(spec.id), `${spec.id} default ${key}`).toContain(key);
    }
  });

  it('the options every twin gives its cohort members are declared (a trial never trips over its own patients)', () => {
    const cases = listTwins().flatMap((twin) =>
      [...new Set([twin.populations[0] as string, twin.populations.at(-1) as string])].flatMap((population) =>
        [false, true].map((generated) => ({ twin, population, generated })),
      ),
    );
    for (const { twin, population, generated } of cases) {
      let member: ReturnType<typeof twin.cohortMember>;
      try {
        member = twin.cohortMember({ population, size: 1, seed: 3, generated }, 0);
      } catch {
        continue; // e.g. a named-patient population asked for a generated member
      }
      for (const envId of twin.envIds) expect(unknownOptions(envId, member.envOptions), `${twin.id} ${population} on ${envId}`).toEqual([]);
    }
  });

  it('unknownOptions names exactly the undeclared keys; maxEpisodeSteps is always accepted', () => {
    expect(unknownOptions('glucose/t1d-v1', { sensor: 'Dexcom', integrator: 'dopri5', maxEpisodeSteps: 3, bogus: 1, sensr: 2 })).toEqual(['bogus', 'sensr']);
    expect(unknownOptions('hiv/sti-v1', { k1: 1e-5, piWeight: 20000, lambda9: 1 })).toEqual(['lambda9']);
    expect(unknownOptions('classic/cartpole-v1', {})).toEqual([]);
    expect(getSpec('glucose/t1d-v1').optionDocs?.integrator).toMatch(/rk4.*dopri5/);
    // the declared names are real: each env builds with a declared option set to a valid value
    expect(() => make('glucose/t1d-v1', { integrator: 'dopri5', spline: 'natural' }).close?.()).not.toThrow();
  });
});
