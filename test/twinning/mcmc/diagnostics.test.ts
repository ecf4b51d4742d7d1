import { describe, expect, it } from 'vitest';
import { TwinlabError } from '../../../engine/errors.js';
import { Rng } from '../../../engine/random.js';
import { autocovariance, diagnose, integratedAutocorrTime, normalQuantile } from '../../../twinning/mcmc/diagnostics.js';

/** kept × walkers × dim chain whose entries come from `draw(t, w, p)`, called in step order. */
function makeChain(kept: number, walkers: number, dim: number, draw: (t: number, w: number, p: number) => number): Float64Array {
  const chain = new Float64Array(kept * walkers * dim);
  for (let t = 0; t < kept; t++) for (let w = 0; w < walkers; w++) for (let p = 0; p < dim; p++) chain[(t * walkers + w) * dim + p] = draw(t, w, p);
  return chain;
}

function iidChain(seed: number, kept: number, walkers: number, dim: number): Float64Array {
  const rng = Rng.fromSeed(seed);
  return makeChain(kept, walkers, dim, () => rng.normal());
}

/** Independent AR(1) series x_t = φ·x_{t−1} + √(1−φ²)·ε_t per walker and parameter, started stationary. */
function ar1Chain(seed: number, kept: number, walkers: number, dim: number, phi: number): Float64Array {
  const rng = Rng.fromSeed(seed);
  const state = Float64Array.from({ length: walkers * dim }, () => rng.normal());
  const s = Math.sqrt(1 - phi * phi);
  return makeChain(kept, walkers, dim, (_t, w, p) => {
    const i = w * dim + p;
    state[i] = phi * (state[i] as number) + s * rng.normal();
    return state[i] as number;
  });
}

/** emcee's integrated_time written out directly (O(N²) autocorrelation, no FFT), for one parameter. */
function referenceTau(chain: Float64Array, kept: number, walkers: number, dim: number, p: number, c = 5): number {
  const f = new Float64Array(kept);
  for (let w = 0; w < walkers; w++) {
    const x = Array.from({ length: kept }, (_, t) => chain[(t * walkers + w) * dim + p] as number);
    const mean = x.reduce((a, b) => a + b, 0) / kept;
    const acf = new Float64Array(kept);
    for (let k = 0; k < kept; k++) for (let t = 0; t + k < kept; t++) acf[k] = (acf[k] as number) + (x[t]! - mean) * (x[t + k]! - mean);
    for (let k = 0; k < kept; k++) f[k] = (f[k] as number) + (acf[k] as number) / (acf[0] as number) / walkers;
  }
  let sum = 0;
  for (let m = 0; m < kept; m++) {
    sum += f[m] as number;
    const tau = 2 * sum - 1;
    if (m >= c * tau) return tau;
  }
  return 2 * sum - 1;
}

describe('integratedAutocorrTime (emcee, Sokal window c = 5)', () => {
  it('equals a direct O(N²) transcription of emcee.autocorr.integrated_time', () => {
    const kept = 300;
    const walkers = 5; // odd: one FFT carries a single series
    const chain = ar1Chain(1, kept, walkers, 2, 0.7);
    const tau = integratedAutocorrTime(chain, kept, walkers, 2);
    for (let p = 0; p < 2; p++) expect(tau[p]).toBeCloseTo(referenceTau(chain, kept, walkers, 2, p), 9);
  });

  it('recovers τ = (1 + φ)/(1 − φ) of AR(1) series and ≈ 1 for independent draws', () => {
    const kept = 5_000;
    const walkers = 32;
    const tau = integratedAutocorrTime(ar1Chain(2, kept, walkers, 1, 0.9), kept, walkers, 1);
    expect(tau[0]).toBeGreaterThan(19 * 0.9);
    expect(tau[0]).toBeLessThan(19 * 1.1);
    const iid = integratedAutocorrTime(iidChain(3, kept, walkers, 1), kept, walkers, 1);
    expect(Math.abs((iid[0] as number) - 1)).toBeLessThan(0.1);
  });

  it('autocovariance by FFT equals the direct sum', () => {
    const rng = Rng.fromSeed(4);
    const x = Float64Array.from({ length: 37 }, () => rng.normal());
    const mean = x.reduce((a, b) => a + b, 0) / x.length;
    const c = autocovariance(x);
    for (const k of [0, 1, 5, 36]) {
      let direct = 0;
      for (let t = 0; t + k < x.length; t++) direct += ((x[t] as number) - mean) * ((x[t + k] as number) - mean);
      expect(c[k]).toBeCloseTo(direct / x.length, 12);
    }
  });
});

describe('diagnose', () => {
  it('passes an iid chain: R-hat < 1.01, ESS ≈ number of draws, ok with no warning', () => {
    const kept = 2_000;
    const walkers = 32;
    const d = diagnose(iidChain(5, kept, walkers, 2), kept, walkers, 2);
    expect(d.warnings).toEqual([]);
    expect(d.ok).toBe(true);
    for (let p = 0; p < 2; p++) {
      expect(d.rhat[p]).toBeLessThan(1.01);
      expect(d.rhat[p]).toBeGreaterThan(0.99);
      for (const ess of [d.ess[p], d.essBulk[p], d.essTail?.[p]]) {
        expect(ess).toBeGreaterThan(0.8 * kept * walkers);
        expect(ess).toBeLessThan(1.25 * kept * walkers);
      }
    }
  });

  it('bulk ESS of AR(1) chains ≈ draws/τ (Vehtari et al. rank-normalised, walkers as chains)', () => {
    const kept = 4_000;
    const walkers = 16;
    const d = diagnose(ar1Chain(6, kept, walkers, 1, 0.8), kept, walkers, 1);
    const expected = (kept * walkers) / 9; // τ = 1.8/0.2
    expect(d.essBulk[0]).toBeGreaterThan(0.8 * expected);
    expect(d.essBulk[0]).toBeLessThan(1.25 * expected);
    expect(d.ess[0]).toBeGreaterThan(0.8 * expected);
    expect(d.ess[0]).toBeLessThan(1.25 * expected);
  });

  it('flags a stuck walker (one walker frozen where it started): R-hat > 1.01, not ok', () => {
    const kept = 2_000;
    const walkers = 32;
    const rng = Rng.fromSeed(7);
    const chain = makeChain(kept, walkers, 2, (_t, w, p) => (w === 5 && p === 1 ? 2.5 : rng.normal()));
    const d = diagnose(chain, kept, walkers, 2, ['alpha', 'beta']);
    expect(d.rhat[0]).toBeLessThan(1.01);
    expect(d.rhat[1]).toBeGreaterThan(1.01);
    expect(d.ok).toBe(false);
    expect(d.warnings.some((w) => /^R-hat \S+ > 1\.01 for beta$/.test(w))).toBe(true);
    expect(d.warnings.some((w) => w.includes('alpha'))).toBe(false);
  });

  it('flags walkers that drift apart (a slow chain): R-hat and ESS warnings', () => {
    const kept = 1_000;
    const walkers = 16;
    const d = diagnose(ar1Chain(8, kept, walkers, 1, 0.999), kept, walkers, 1);
    expect(d.rhat[0]).toBeGreaterThan(1.01);
    expect(d.ok).toBe(false);
    expect(d.warnings.some((w) => w.startsWith('R-hat'))).toBe(true);
    expect(d.warnings.some((w) => /^ESS \S+ < 400 for parameter 0/.test(w))).toBe(true);
    expect(d.warnings.some((w) => /shorter than 50·τ/.test(w))).toBe(true);
  });

  it('an ensemble that never moved: R-hat infinite, τ large, no NaN from the autocorrelation', () => {
    const kept = 100;
    const walkers = 8;
    const d = diagnose(
      makeChain(kept, walkers, 1, (_t, w) => w),
      kept,
      walkers,
      1,
    );
    expect(d.rhat[0]).toBe(Number.POSITIVE_INFINITY);
    expect(d.tau[0]).toBeGreaterThan(kept);
    expect(d.ok).toBe(false);
  });

  it('thresholds can be relaxed; too few kept steps is a warning, not an error', () => {
    const kept = 3_000;
    const walkers = 32;
    const chain = ar1Chain(9, kept, walkers, 1, 0.9);
    const strict = diagnose(chain, kept, walkers, 1, undefined, { essMin: 100_000 });
    expect(strict.ok).toBe(false);
    expect(diagnose(chain, kept, walkers, 1, undefined, { essMin: 100 }).ok).toBe(true);
    const tiny = diagnose(new Float64Array(3 * 4), 3, 4, 1);
    expect(tiny.ok).toBe(false);
    expect(tiny.warnings[0]).toMatch(/too few kept steps/);
    expect(() => diagnose(new Float64Array(10), 3, 4, 1)).toThrow(TwinlabError);
    expect(() => diagnose(chain, kept, walkers, 1, ['a', 'b'])).toThrow(/names has 2 entries for 1 parameters/);
  });

  it('normalQuantile matches Φ⁻¹ to 1e-8', () => {
    expect(normalQuantile(0.5)).toBe(0);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 8);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232306167813, 8);
    expect(normalQuantile(0.3)).toBeCloseTo(-0.5244005127080407, 8);
  });
});
