import { describe, expect, it } from 'vitest';
import { TwinlabError } from '../../engine/errors.js';
import { DormandPrince, fixedStep, type OdeRhs, Rk4 } from '../../engine/ode.js';

// ---- test problems with closed-form solutions -------------------------------------------------

const K_DECAY = 0.7;
/** y' = −k·y, y(0) = 1  ⇒  y = e^{−kt}. */
const decay: OdeRhs = (_t, y, d) => {
  d[0] = -K_DECAY * (y[0] as number);
};
const decayExact = (t: number): number => Math.exp(-K_DECAY * t);

const OMEGA = 2;
/** x'' = −ω²x as [x, v], x(0) = 1, v(0) = 0  ⇒  x = cos ωt, v = −ω sin ωt. */
const oscillator: OdeRhs = (_t, y, d) => {
  d[0] = y[1] as number;
  d[1] = -OMEGA * OMEGA * (y[0] as number);
};
const oscExact = (t: number): [number, number] => [Math.cos(OMEGA * t), -OMEGA * Math.sin(OMEGA * t)];

const R = 1.5;
const CAP = 10;
const Y0_LOG = 0.5;
/** y' = r·y(1 − y/K), y(0) = y0  ⇒  y = K / (1 + (K/y0 − 1)e^{−rt}). */
const logistic: OdeRhs = (_t, y, d) => {
  const v = y[0] as number;
  d[0] = R * v * (1 - v / CAP);
};
const logisticExact = (t: number): number => CAP / (1 + (CAP / Y0_LOG - 1) * Math.exp(-R * t));

function oscError(y: Float64Array, t: number): number {
  const [x, v] = oscExact(t);
  return Math.max(Math.abs((y[0] as number) - x), Math.abs((y[1] as number) - v));
}

function rk4OscError(h: number, tEnd = 10): number {
  const y = Float64Array.of(1, 0);
  new Rk4(2).integrate(oscillator, y, 0, tEnd, h);
  return oscError(y, tEnd);
}

function catchError(fn: () => unknown): TwinlabError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TwinlabError);
    return e as TwinlabError;
  }
  throw new Error('expected a TwinlabError, nothing was thrown');
}

// ---- RK4 -------------------------------------------------------------------------------------

describe('Rk4', () => {
  it('matches exponential decay, harmonic oscillator and logistic growth to O(h^4)', () => {
    const rk = new Rk4(1);
    const y = Float64Array.of(1);
    rk.integrate(decay, y, 0, 5, 0.01);
    expect(Math.abs((y[0] as number) - decayExact(5))).toBeLessThan(1e-11);

    expect(rk4OscError(0.01)).toBeLessThan(1e-7);

    const yl = Float64Array.of(Y0_LOG);
    rk.integrate(logistic, yl, 0, 6, 0.01);
    expect(Math.abs((yl[0] as number) - logisticExact(6))).toBeLessThan(1e-8);
  });

  it('converges at fourth order: halving h cuts the global error by 12–20×', () => {
    const errors = [0.1, 0.05, 0.025, 0.0125].map((h) => rk4OscError(h));
    for (let i = 1; i < errors.length; i++) {
      const ratio = (errors[i - 1] as number) / (errors[i] as number);
      expect(ratio).toBeGreaterThan(12);
      expect(ratio).toBeLessThan(20);
    }
    // Same on the logistic problem (non-linear).
    const logErr = (h: number): number => {
      const y = Float64Array.of(Y0_LOG);
      new Rk4(1).integrate(logistic, y, 0, 6, h);
      return Math.abs((y[0] as number) - logisticExact(6));
    };
    const ratio = logErr(0.1) / logErr(0.05);
    expect(ratio).toBeGreaterThan(12);
    expect(ratio).toBeLessThan(20);
  });

  it('takes steps of at most h and lands exactly on t1 (last step shortened)', () => {
    const times: number[] = [];
    const f: OdeRhs = (t, _y, d) => {
      times.push(t);
      d[0] = 1;
    };
    const y = Float64Array.of(0);
    const steps = new Rk4(1).integrate(f, y, 0, 1, 0.3);
    expect(steps).toBe(4); // 0.3, 0.3, 0.3, 0.1
    expect(Math.max(...times)).toBe(1);
    expect(times.at(-1)).toBe(1);
    expect(y[0]).toBeCloseTo(1, 14);
    // An exact multiple takes no sliver step despite round-off in 1/0.1.
    expect(new Rk4(1).integrate(f, Float64Array.of(0), 0, 1, 0.1)).toBe(10);
    expect(new Rk4(1).integrate(f, Float64Array.of(0), 2, 2, 0.1)).toBe(0);
  });

  it('fixedStep adapts RK4 to the Integrator interface with identical results', () => {
    const a = Float64Array.of(1, 0);
    const b = Float64Array.of(1, 0);
    const integ = fixedStep(2, 0.05);
    const n = integ.integrate(oscillator, a, 0, 3);
    new Rk4(2).integrate(oscillator, b, 0, 3, 0.05);
    expect(n).toBe(60);
    expect(Array.from(a)).toEqual(Array.from(b));
  });

  it('rejects bad arguments and throws when the state blows up', () => {
    const rk = new Rk4(1);
    expect(catchError(() => rk.integrate(decay, Float64Array.of(1), 0, 1, 0)).code).toBe('INVALID_ARGUMENT');
    expect(catchError(() => rk.integrate(decay, Float64Array.of(1), 1, 0, 0.1)).code).toBe('INVALID_ARGUMENT');
    expect(catchError(() => rk.integrate(decay, Float64Array.of(1, 2), 0, 1, 0.1)).code).toBe('INVALID_ARGUMENT');
    const blowUp: OdeRhs = (_t, y, d) => {
      d[0] = (y[0] as number) ** 3;
    };
    expect(catchError(() => rk.integrate(blowUp, Float64Array.of(1), 0, 10, 0.1)).code).toBe('INTEGRATION_FAILED');
    const nan: OdeRhs = (_t, _y, d) => {
      d[0] = Number.NaN;
    };
    expect(catchError(() => rk.integrate(nan, Float64Array.of(1), 0, 1, 0.1)).code).toBe('INTEGRATION_FAILED');
  });
});

// ---- Dormand–Prince ----------------------------------------------------------------------------

describe('DormandPrince', () => {
  const RTOLS = [1e-4, 1e-6, 1e-8, 1e-10];

  it('meets rtol on exponential decay, the oscillator and logistic growth for several tolerances', () => {
    const maxErr = { decay: [] as number[], osc: [] as number[], logistic: [] as number[] };
    for (const rtol of RTOLS) {
      const atol = rtol * 1e-3;
      // Global error stays within a small multiple of rtol · (solution scale) — DOPRI5 controls the
      // local error per step, so a factor of order 10 over a few periods is the textbook expectation.
      const yd = Float64Array.of(1);
      new DormandPrince(1, { rtol, atol }).integrate(decay, yd, 0, 5);
      const eDecay = Math.abs((yd[0] as number) - decayExact(5));
      expect(eDecay).toBeLessThan(10 * rtol * 1);

      const yo = Float64Array.of(1, 0);
      new DormandPrince(2, { rtol, atol }).integrate(oscillator, yo, 0, 10);
      const eOsc = oscError(yo, 10);
      expect(eOsc).toBeLessThan(10 * rtol * OMEGA); // scale: |v| ≤ ω

      const yl = Float64Array.of(Y0_LOG);
      new DormandPrince(1, { rtol, atol }).integrate(logistic, yl, 0, 6);
      const eLog = Math.abs((yl[0] as number) - logisticExact(6));
      expect(eLog).toBeLessThan(10 * rtol * CAP);

      maxErr.decay.push(eDecay);
      maxErr.osc.push(eOsc);
      maxErr.logistic.push(eLog);
    }
    // Tightening rtol by 100× tightens the error substantially on every problem.
    for (const errs of Object.values(maxErr)) {
      for (let i = 1; i < errs.length; i++) expect(errs[i] as number).toBeLessThan((errs[i - 1] as number) / 10);
    }
  });

  it('is far more accurate than its tolerance suggests is needed on smooth problems (default options)', () => {
    const dp = new DormandPrince(2); // rtol 1e-6, atol 1e-12
    expect(dp.rtol).toBe(1e-6);
    expect(dp.atol).toBe(1e-12);
    const y = Float64Array.of(1, 0);
    dp.integrate(oscillator, y, 0, 10);
    expect(oscError(y, 10)).toBeLessThan(2e-5);
  });

  it('lands exactly on t1 and splitting 0→1→2 matches a single call 0→2', () => {
    let tMax = Number.NEGATIVE_INFINITY;
    const traced: OdeRhs = (t, y, d) => {
      tMax = Math.max(tMax, t);
      oscillator(t, y, d);
    };
    const dp = new DormandPrince(2, { rtol: 1e-9, atol: 1e-12 });
    const whole = Float64Array.of(1, 0);
    dp.integrate(traced, whole, 0, 2);
    expect(tMax).toBe(2); // never evaluated past t1, and the final stage is at t1 exactly

    const split = Float64Array.of(1, 0);
    tMax = Number.NEGATIVE_INFINITY;
    dp.integrate(traced, split, 0, 1);
    expect(tMax).toBe(1);
    dp.integrate(traced, split, 1, 2);
    expect(tMax).toBe(2);
    expect(Math.abs((split[0] as number) - (whole[0] as number))).toBeLessThan(1e-8);
    expect(Math.abs((split[1] as number) - (whole[1] as number))).toBeLessThan(1e-8);
    expect(oscError(whole, 2)).toBeLessThan(1e-8);

    // Linear growth is integrated exactly, so the endpoint value shows where the solver stopped.
    const lin = Float64Array.of(0);
    new DormandPrince(1).integrate((_t, _y, d) => (d[0] = 1), lin, 0, 0.3);
    expect(lin[0]).toBeCloseTo(0.3, 14);
    expect(new DormandPrince(1).integrate(decay, Float64Array.of(1), 3, 3)).toBe(0);
  });

  it('uses fewer steps as rtol loosens and keeps consistent stats (FSAL: 6 evaluations per attempt)', () => {
    const counts = RTOLS.map((rtol) => {
      const dp = new DormandPrince(2, { rtol, atol: rtol * 1e-3 });
      const accepted = dp.integrate(oscillator, Float64Array.of(1, 0), 0, 10);
      expect(accepted).toBe(dp.stats.accepted);
      // 1 evaluation at t0, 1 for the starting-step probe, 6 per attempted step.
      expect(dp.stats.evaluations).toBe(2 + 6 * (dp.stats.accepted + dp.stats.rejected));
      return accepted;
    });
    for (let i = 1; i < counts.length; i++) expect(counts[i] as number).toBeGreaterThan(counts[i - 1] as number);
    // Order 5: 100× tighter tolerance ⇒ about 100^(1/5) ≈ 2.5× more steps.
    expect((counts[3] as number) / (counts[2] as number)).toBeGreaterThan(1.8);
    expect((counts[3] as number) / (counts[2] as number)).toBeLessThan(3.5);
  });

  it('respects hMax and an explicit hInit', () => {
    const dp = new DormandPrince(1, { hMax: 0.1, rtol: 1e-3 });
    expect(dp.integrate(decay, Float64Array.of(1), 0, 5)).toBeGreaterThanOrEqual(50);
    const times: number[] = [];
    const withInit = new DormandPrince(1, { hInit: 0.001 });
    withInit.integrate(
      (t, y, d) => {
        times.push(t);
        decay(t, y, d);
      },
      Float64Array.of(1),
      0,
      1,
    );
    expect(times[1]).toBeCloseTo(0.001 / 5, 15); // second stage at c2·hInit, no probe evaluation
  });

  it('throws on a non-finite right-hand side, a non-finite state, blow-up and too many steps', () => {
    const dp = new DormandPrince(1);
    const alwaysNaN: OdeRhs = (_t, _y, d) => {
      d[0] = Number.NaN;
    };
    const e1 = catchError(() => dp.integrate(alwaysNaN, Float64Array.of(1), 0, 1));
    expect(e1.code).toBe('INVALID_STATE');
    expect(e1.message).toMatch(/non-finite/);

    expect(catchError(() => dp.integrate(decay, Float64Array.of(Number.NaN), 0, 1)).code).toBe('INVALID_STATE');

    // Finite at t0, NaN from t = 0.5 on: the controller shrinks the step until it underflows.
    const nanLater: OdeRhs = (t, y, d) => {
      d[0] = t < 0.5 ? -(y[0] as number) : Number.NaN;
    };
    expect(catchError(() => dp.integrate(nanLater, Float64Array.of(1), 0, 1)).code).toBe('INTEGRATION_FAILED');

    // y' = y², y(0) = 1 blows up at t = 1.
    const blowUp: OdeRhs = (_t, y, d) => {
      d[0] = (y[0] as number) ** 2;
    };
    expect(catchError(() => new DormandPrince(1).integrate(blowUp, Float64Array.of(1), 0, 2)).code).toBe('INTEGRATION_FAILED');

    const few = new DormandPrince(2, { maxSteps: 5, rtol: 1e-10 });
    const e2 = catchError(() => few.integrate(oscillator, Float64Array.of(1, 0), 0, 100));
    expect(e2.code).toBe('INTEGRATION_FAILED');
    expect(e2.message).toMatch(/more than 5 steps/);

    expect(catchError(() => new DormandPrince(1, { rtol: -1 })).code).toBe('INVALID_ARGUMENT');
    expect(catchError(() => dp.integrate(decay, Float64Array.of(1), 1, 0)).code).toBe('INVALID_ARGUMENT');
  });
});
