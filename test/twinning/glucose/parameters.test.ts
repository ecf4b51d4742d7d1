import { describe, expect, it } from 'vitest';
import { ERROR_SD_SPLIT, GLUCOSE_TWIN_DIM, P } from '../../../twinning/glucose/parameters.js';

describe('ERROR_SD_SPLIT, the coordinates the MCMC walkers move in', () => {
  const theta = Float64Array.from({ length: GLUCOSE_TWIN_DIM }, (_, i) => 0.1 * i - 0.3);
  const u = new Float64Array(GLUCOSE_TWIN_DIM);
  const back = new Float64Array(GLUCOSE_TWIN_DIM);

  it('maps (log σ_s, log σ_d) to (½log(σ_s² + σ_d²), log σ_s − log σ_d), leaves the rest, and back exactly', () => {
    for (const [a, b] of [
      [1.7, 2.8],
      [3, -2],
      [-40, 40],
      [200, 199],
    ] as const) {
      theta[P.logSigma] = a;
      theta[P.logSigmaModel] = b;
      ERROR_SD_SPLIT.toSampling(theta, u);
      expect(u[P.logSigma]).toBeCloseTo(Math.max(a, b) + 0.5 * Math.log(Math.exp(2 * (a - Math.max(a, b))) + Math.exp(2 * (b - Math.max(a, b)))), 12);
      expect(u[P.logSigmaModel]).toBeCloseTo(a - b, 12);
      for (let i = 0; i < GLUCOSE_TWIN_DIM; i++) if (i !== P.logSigma && i !== P.logSigmaModel) expect(u[i]).toBe(theta[i]);
      ERROR_SD_SPLIT.fromSampling(u, back);
      for (let i = 0; i < GLUCOSE_TWIN_DIM; i++) expect(Math.abs((back[i] as number) - (theta[i] as number))).toBeLessThan(1e-9 * Math.max(1, Math.abs(theta[i] as number)));
    }
  });

  it('has unit Jacobian determinant, so the sampled density needs no correction (finite differences)', () => {
    theta[P.logSigma] = 1.9;
    theta[P.logSigmaModel] = 2.6;
    ERROR_SD_SPLIT.toSampling(theta, u);
    const h = 1e-6;
    const col = (i: number): [number, number] => {
      const up = Float64Array.from(u);
      const down = Float64Array.from(u);
      up[i] = (up[i] as number) + h;
      down[i] = (down[i] as number) - h;
      const tu = new Float64Array(GLUCOSE_TWIN_DIM);
      const td = new Float64Array(GLUCOSE_TWIN_DIM);
      ERROR_SD_SPLIT.fromSampling(up, tu);
      ERROR_SD_SPLIT.fromSampling(down, td);
      return [((tu[P.logSigma] as number) - (td[P.logSigma] as number)) / (2 * h), ((tu[P.logSigmaModel] as number) - (td[P.logSigmaModel] as number)) / (2 * h)];
    };
    const [a1, b1] = col(P.logSigma);
    const [a2, b2] = col(P.logSigmaModel);
    expect(Math.abs(Math.abs(a1 * b2 - a2 * b1) - 1)).toBeLessThan(1e-6);
  });
});
