import { describe, expect, it } from 'vitest';
import { Rng } from '../../../engine/random.js';
import { fitTMixture, TMixture } from '../../../twinning/mcmc/mixture.js';

/** n points in 2-D: a share `w` from N((−3, 0), 0.5²I), the rest from N((3, 1), diag(1, 0.25)). */
function twoClusters(rng: Rng, n: number, w: number): Float64Array {
  const pts = new Float64Array(n * 2);
  for (let i = 0; i < n; i++) {
    if (i < w * n) {
      pts[2 * i] = -3 + 0.5 * rng.normal();
      pts[2 * i + 1] = 0.5 * rng.normal();
    } else {
      pts[2 * i] = 3 + rng.normal();
      pts[2 * i + 1] = 1 + 0.5 * rng.normal();
    }
  }
  return pts;
}

describe('fitTMixture (EM, deterministic start along the leading eigenvector)', () => {
  it('recovers the weights and means of two separated Gaussian clusters, and is deterministic', () => {
    const pts = twoClusters(Rng.fromSeed(3), 6_000, 0.3);
    const fit = fitTMixture(pts, 6_000, 2, { components: 2, dof: 5, scale: 1 });
    expect(fit?.components).toBe(2);
    const m = fit as TMixture;
    const order = m.means[0]! < m.means[2]! ? [0, 1] : [1, 0];
    expect(m.weights[order[0]!]).toBeCloseTo(0.3, 2);
    expect(m.means[2 * order[0]!]).toBeCloseTo(-3, 1);
    expect(m.means[2 * order[1]! + 1]).toBeCloseTo(1, 1);
    const again = fitTMixture(pts, 6_000, 2, { components: 2, dof: 5, scale: 1 }) as TMixture;
    expect(Array.from(again.means)).toEqual(Array.from(m.means));
  });

  it('falls back to fewer components when there are too few points for the asked number', () => {
    const pts = twoClusters(Rng.fromSeed(4), 12, 0.5);
    expect(fitTMixture(pts, 12, 2, { components: 4, dof: 5, scale: 1 })?.components).toBeLessThanOrEqual(3);
  });

  it('one component: the draws have the fitted covariance times scale² (t scale matrix (ν−2)/ν·scale²·Σ)', () => {
    const rng = Rng.fromSeed(5);
    const pts = new Float64Array(4_000 * 2);
    for (let i = 0; i < 4_000; i++) {
      const a = rng.normal();
      pts[2 * i] = 1 + 2 * a;
      pts[2 * i + 1] = -1 + 0.5 * a + 0.5 * rng.normal();
    }
    const m = fitTMixture(pts, 4_000, 2, { components: 1, dof: 5, scale: 1.25 }) as TMixture;
    // sample covariance of the fitted points
    let mx = 0;
    let my = 0;
    for (let i = 0; i < 4_000; i++) {
      mx += pts[2 * i]! / 4_000;
      my += pts[2 * i + 1]! / 4_000;
    }
    let sxx = 0;
    let sxy = 0;
    for (let i = 0; i < 4_000; i++) {
      sxx += (pts[2 * i]! - mx) ** 2 / 4_000;
      sxy += ((pts[2 * i]! - mx) * (pts[2 * i + 1]! - my)) / 4_000;
    }
    const out = new Float64Array(2);
    const draws = 200_000;
    let dxx = 0;
    let dxy = 0;
    const r = Rng.fromSeed(6);
    for (let i = 0; i < draws; i++) {
      m.sample(r, out, 0);
      dxx += (out[0]! - mx) ** 2 / draws;
      dxy += ((out[0]! - mx) * (out[1]! - my)) / draws;
    }
    expect(dxx / (1.25 ** 2 * sxx)).toBeCloseTo(1, 1);
    expect(dxy / (1.25 ** 2 * sxy)).toBeCloseTo(1, 1);
  });

  it('logDensity is the density of what sample draws (1-D mixture: interval probabilities match)', () => {
    const m = new TMixture(1, 5, Float64Array.from([0.25, 0.75]), Float64Array.from([-2, 1.5]), Float64Array.from([0.4, 1.1]));
    // normalise exp(logDensity) on a grid wide enough for t₅ tails
    const lo = -60;
    const hi = 60;
    const h = 0.002;
    const x = new Float64Array(1);
    let total = 0;
    const edges = [-3, -1.5, 0, 1, 3];
    const mass = new Array(edges.length - 1).fill(0);
    for (let v = lo; v < hi; v += h) {
      x[0] = v + h / 2;
      const d = Math.exp(m.logDensity(x, 0)) * h;
      total += d;
      for (let b = 0; b < edges.length - 1; b++) if (x[0] >= edges[b]! && x[0] < edges[b + 1]!) mass[b] += d;
    }
    const counts = new Array(edges.length - 1).fill(0);
    const r = Rng.fromSeed(7);
    const n = 200_000;
    for (let i = 0; i < n; i++) {
      m.sample(r, x, 0);
      for (let b = 0; b < edges.length - 1; b++) if (x[0]! >= edges[b]! && x[0]! < edges[b + 1]!) counts[b]++;
    }
    for (let b = 0; b < edges.length - 1; b++) {
      const p = mass[b] / total;
      const se = Math.sqrt((p * (1 - p)) / n);
      expect(Math.abs(counts[b] / n - p), `bin ${b}: ${counts[b] / n} vs ${p}`).toBeLessThan(4 * se);
    }
  });
});
