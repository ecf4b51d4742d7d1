import { TwinlabError } from './errors.js';

/**
 * ODE integrators for the physiology models.
 *
 * Two methods, both allocation-free inside `integrate` (all scratch vectors live in the instance):
 *
 * - `Rk4` — the classical fixed-step fourth-order Runge–Kutta method. Cheap and exactly
 *   reproducible step grid; the right choice for smooth, non-stiff models sampled at a fixed
 *   decision interval.
 * - `DormandPrince` — the adaptive embedded Runge–Kutta pair of order 5(4) of
 *   J. R. Dormand & P. J. Prince, "A family of embedded Runge–Kutta formulae",
 *   J. Comput. Appl. Math. 6 (1980) 19–26 ("DOPRI5"), with the step-size control of
 *   E. Hairer, S. P. Nørsett & G. Wanner, *Solving Ordinary Differential Equations I*, 2nd ed.,
 *   Springer 1993, §II.4 (automatic step size control, starting step size) and §II.5 (the
 *   Dormand–Prince pair). It propagates the 5th-order solution (local extrapolation) and uses the
 *   4th-order embedded solution only for the error estimate. The last stage is evaluated at the
 *   new point, so it is reused as the first stage of the next step (FSAL: 6 evaluations per
 *   accepted step).
 *
 * Butcher tableau (c | A, then b = 5th-order weights, b̂ = 4th-order embedded weights):
 *
 * ```
 *   0    |
 *   1/5  | 1/5
 *   3/10 | 3/40        9/40
 *   4/5  | 44/45      −56/15       32/9
 *   8/9  | 19372/6561 −25360/2187  64448/6561  −212/729
 *   1    | 9017/3168  −355/33      46732/5247   49/176   −5103/18656
 *   1    | 35/384      0           500/1113     125/192  −2187/6784    11/84
 *  ------+-------------------------------------------------------------------------
 *   b    | 35/384      0           500/1113     125/192  −2187/6784    11/84     0
 *   b̂    | 5179/57600  0           7571/16695   393/640  −92097/339200 187/2100  1/40
 * ```
 *
 * Error estimate (HNW I, eq. (4.11)): err = sqrt( (1/n) Σᵢ (eᵢ / scᵢ)² ) with
 * eᵢ = h Σⱼ (bⱼ − b̂ⱼ) kⱼ,ᵢ and scᵢ = atol + rtol · max(|yᵢ(t)|, |yᵢ(t+h)|). A step is accepted when
 * err ≤ 1; the next step is h · min(10, max(0.2, 0.9 · err^(−1/5))), and after a rejection the
 * step may not grow (facmax = 1) until a step is accepted again (HNW I, §II.4).
 *
 * Inputs (doses, meals, infusions) are held piecewise-constant by the caller: it sets a field read
 * by the right-hand side, then integrates to the next change. Every `integrate` call therefore
 * starts afresh — it evaluates f at t0 (no FSAL across calls, since the input may have changed) and,
 * for Dormand–Prince without `hInit`, chooses the first step by the HNW starting-step heuristic.
 * A call depends only on (f, y, t0, t1, options), never on earlier calls, so a simulation restored
 * from a keyframe integrates bit-identically.
 *
 * Integration runs forward only (t1 ≥ t0); t1 = t0 is a no-op returning 0.
 */

/** dy/dt = f(t, y); write into dydt. Inputs are held piecewise-constant by the caller (read from a mutable field in the closure). */
export type OdeRhs = (t: number, y: Float64Array, dydt: Float64Array) => void;

/** Anything that advances y in place from t0 to t1 (landing exactly on t1) and returns its step count. */
export interface Integrator {
  integrate(f: OdeRhs, y: Float64Array, t0: number, t1: number): number;
}

function checkDim(dim: number): void {
  if (!Number.isInteger(dim) || dim < 1) {
    throw new TwinlabError('INVALID_ARGUMENT', `ODE dimension must be a positive integer, got ${dim}`);
  }
}

function checkCall(dim: number, y: Float64Array, t0: number, t1: number): void {
  if (y.length !== dim) {
    throw new TwinlabError('INVALID_ARGUMENT', `state vector has length ${y.length}, integrator was built for dimension ${dim}`);
  }
  if (!Number.isFinite(t0) || !Number.isFinite(t1)) {
    throw new TwinlabError('INVALID_ARGUMENT', `integration bounds must be finite, got [${t0}, ${t1}]`);
  }
  if (t1 < t0) {
    throw new TwinlabError('INVALID_ARGUMENT', `integration runs forward only, got t1 = ${t1} < t0 = ${t0}`);
  }
}

function firstNonFinite(v: Float64Array): number {
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i] as number)) return i;
  return -1;
}

// ---------------------------------------------------------------------------------------------
// Classical RK4
// ---------------------------------------------------------------------------------------------

/** Classical fixed-step fourth-order Runge–Kutta (Kutta 1901). Global error O(h⁴). */
export class Rk4 {
  readonly dim: number;
  private readonly k1: Float64Array;
  private readonly k2: Float64Array;
  private readonly k3: Float64Array;
  private readonly k4: Float64Array;
  private readonly tmp: Float64Array;

  constructor(dim: number) {
    checkDim(dim);
    this.dim = dim;
    this.k1 = new Float64Array(dim);
    this.k2 = new Float64Array(dim);
    this.k3 = new Float64Array(dim);
    this.k4 = new Float64Array(dim);
    this.tmp = new Float64Array(dim);
  }

  /**
   * Advance y in place from t0 to t1 with steps of at most h, landing exactly on t1 (the last step
   * is shortened). Step i starts at t0 + i·h (no accumulated round-off in the grid). Returns the
   * number of steps taken. Throws INTEGRATION_FAILED if the state becomes non-finite.
   */
  integrate(f: OdeRhs, y: Float64Array, t0: number, t1: number, h: number): number {
    checkCall(this.dim, y, t0, t1);
    if (!(h > 0) || !Number.isFinite(h)) {
      throw new TwinlabError('INVALID_ARGUMENT', `RK4 step must be a positive finite number, got ${h}`);
    }
    const span = t1 - t0;
    if (span === 0) return 0;
    // A relative slack of 1e-9 keeps (1 − 1e-12)·h remainders from producing a sliver step.
    const n = Math.max(1, Math.ceil(span / h - 1e-9));
    for (let i = 0; i < n; i++) {
      const t = t0 + i * h;
      const step = i === n - 1 ? t1 - t : h;
      this.step(f, y, t, step);
    }
    const bad = firstNonFinite(y);
    if (bad >= 0) {
      throw new TwinlabError('INTEGRATION_FAILED', `RK4: state component ${bad} became non-finite (${y[bad]}) integrating [${t0}, ${t1}]`, {
        component: bad,
        t0,
        t1,
      });
    }
    return n;
  }

  private step(f: OdeRhs, y: Float64Array, t: number, h: number): void {
    const { k1, k2, k3, k4, tmp } = this;
    const n = this.dim;
    const h2 = 0.5 * h;
    f(t, y, k1);
    for (let i = 0; i < n; i++) tmp[i] = (y[i] as number) + h2 * (k1[i] as number);
    f(t + h2, tmp, k2);
    for (let i = 0; i < n; i++) tmp[i] = (y[i] as number) + h2 * (k2[i] as number);
    f(t + h2, tmp, k3);
    for (let i = 0; i < n; i++) tmp[i] = (y[i] as number) + h * (k3[i] as number);
    f(t + h, tmp, k4);
    const h6 = h / 6;
    for (let i = 0; i < n; i++) {
      y[i] = (y[i] as number) + h6 * ((k1[i] as number) + 2 * ((k2[i] as number) + (k3[i] as number)) + (k4[i] as number));
    }
  }
}

/** Adapter: an `Integrator` that runs RK4 with steps of at most h. */
export function fixedStep(dim: number, h: number): Integrator {
  if (!(h > 0) || !Number.isFinite(h)) {
    throw new TwinlabError('INVALID_ARGUMENT', `RK4 step must be a positive finite number, got ${h}`);
  }
  const rk4 = new Rk4(dim);
  return { integrate: (f, y, t0, t1) => rk4.integrate(f, y, t0, t1, h) };
}

// ---------------------------------------------------------------------------------------------
// Dormand–Prince 5(4)
// ---------------------------------------------------------------------------------------------

const C2 = 1 / 5;
const C3 = 3 / 10;
const C4 = 4 / 5;
const C5 = 8 / 9;
const A21 = 1 / 5;
const A31 = 3 / 40;
const A32 = 9 / 40;
const A41 = 44 / 45;
const A42 = -56 / 15;
const A43 = 32 / 9;
const A51 = 19372 / 6561;
const A52 = -25360 / 2187;
const A53 = 64448 / 6561;
const A54 = -212 / 729;
const A61 = 9017 / 3168;
const A62 = -355 / 33;
const A63 = 46732 / 5247;
const A64 = 49 / 176;
const A65 = -5103 / 18656;
const A71 = 35 / 384;
const A73 = 500 / 1113;
const A74 = 125 / 192;
const A75 = -2187 / 6784;
const A76 = 11 / 84;
// E = b − b̂ (5th minus embedded 4th-order weights).
const E1 = 71 / 57600;
const E3 = -71 / 16695;
const E4 = 71 / 1920;
const E5 = -17253 / 339200;
const E6 = 22 / 525;
const E7 = -1 / 40;

const SAFETY = 0.9;
const FAC_MIN = 0.2;
const FAC_MAX = 10;
const ORDER_EXP = 1 / 5; // 1 / (min(p, p̂) + 1) with p̂ = 4

export interface DormandPrinceOptions {
  /** Relative tolerance (default 1e-6). */
  rtol?: number;
  /** Absolute tolerance (default 1e-12). */
  atol?: number;
  /** First trial step of each `integrate` call; default: HNW starting-step heuristic. */
  hInit?: number;
  /** Largest step allowed (default: unbounded, i.e. the whole interval). */
  hMax?: number;
  /** Most steps (accepted + rejected) per `integrate` call before INTEGRATION_FAILED (default 100 000). */
  maxSteps?: number;
}

/** Adaptive embedded Runge–Kutta 5(4) of Dormand & Prince (1980); see the module comment. */
export class DormandPrince implements Integrator {
  readonly dim: number;
  readonly rtol: number;
  readonly atol: number;
  readonly hInit: number | undefined;
  readonly hMax: number;
  readonly maxSteps: number;
  /** Running totals over the life of this instance (all `integrate` calls). */
  readonly stats = { accepted: 0, rejected: 0, evaluations: 0 };

  private readonly k1: Float64Array;
  private readonly k2: Float64Array;
  private readonly k3: Float64Array;
  private readonly k4: Float64Array;
  private readonly k5: Float64Array;
  private readonly k6: Float64Array;
  private readonly k7: Float64Array;
  private readonly tmp: Float64Array;
  private readonly ynew: Float64Array;

  constructor(dim: number, options: DormandPrinceOptions = {}) {
    checkDim(dim);
    const { rtol = 1e-6, atol = 1e-12, hInit, hMax = Number.POSITIVE_INFINITY, maxSteps = 100_000 } = options;
    if (!(rtol >= 0) || !(atol >= 0) || !Number.isFinite(rtol) || !Number.isFinite(atol) || rtol + atol === 0) {
      throw new TwinlabError('INVALID_ARGUMENT', `tolerances must be finite, non-negative and not both zero, got rtol=${rtol}, atol=${atol}`);
    }
    if (hInit !== undefined && (!(hInit > 0) || !Number.isFinite(hInit))) {
      throw new TwinlabError('INVALID_ARGUMENT', `hInit must be a positive finite number, got ${hInit}`);
    }
    if (!(hMax > 0)) throw new TwinlabError('INVALID_ARGUMENT', `hMax must be positive, got ${hMax}`);
    if (!Number.isInteger(maxSteps) || maxSteps < 1) {
      throw new TwinlabError('INVALID_ARGUMENT', `maxSteps must be a positive integer, got ${maxSteps}`);
    }
    this.dim = dim;
    this.rtol = rtol;
    this.atol = atol;
    this.hInit = hInit;
    this.hMax = hMax;
    this.maxSteps = maxSteps;
    this.k1 = new Float64Array(dim);
    this.k2 = new Float64Array(dim);
    this.k3 = new Float64Array(dim);
    this.k4 = new Float64Array(dim);
    this.k5 = new Float64Array(dim);
    this.k6 = new Float64Array(dim);
    this.k7 = new Float64Array(dim);
    this.tmp = new Float64Array(dim);
    this.ynew = new Float64Array(dim);
  }

  /**
   * Advance y in place from t0 to t1, landing exactly on t1. Returns the number of accepted steps.
   * Throws INVALID_STATE if y(t0) or f(t0, y) is non-finite, INTEGRATION_FAILED on too many steps
   * or step-size underflow (e.g. the right-hand side keeps producing non-finite values).
   */
  integrate(f: OdeRhs, y: Float64Array, t0: number, t1: number): number {
    checkCall(this.dim, y, t0, t1);
    if (t1 === t0) return 0;
    const n = this.dim;
    const { k1, k2, k3, k4, k5, k6, k7, tmp, ynew, rtol, atol } = this;
    const stats = this.stats;

    const badY = firstNonFinite(y);
    if (badY >= 0) {
      throw new TwinlabError('INVALID_STATE', `Dormand–Prince: initial state component ${badY} is non-finite (${y[badY]}) at t=${t0}`, {
        component: badY,
        t: t0,
      });
    }
    f(t0, y, k1);
    stats.evaluations++;
    const badF = firstNonFinite(k1);
    if (badF >= 0) {
      throw new TwinlabError('INVALID_STATE', `Dormand–Prince: right-hand side component ${badF} is non-finite (${k1[badF]}) at t=${t0}`, {
        component: badF,
        t: t0,
      });
    }

    const span = t1 - t0;
    const hMax = Math.min(this.hMax, span);
    let h = this.hInit ?? this.initialStep(f, y, t0, hMax);
    h = Math.min(h, hMax);

    let t = t0;
    let accepted = 0;
    let attempts = 0;
    let justRejected = false;

    for (;;) {
      if (attempts >= this.maxSteps) {
        throw new TwinlabError('INTEGRATION_FAILED', `Dormand–Prince: more than ${this.maxSteps} steps integrating [${t0}, ${t1}] (reached t=${t})`, {
          t,
          t0,
          t1,
          maxSteps: this.maxSteps,
        });
      }
      attempts++;
      // Land exactly on t1: stretch a step that would leave a sliver (< 1% of h), shorten one that overshoots.
      let last = false;
      if (t + 1.01 * h >= t1) {
        h = t1 - t;
        last = true;
      }
      if (h <= 16 * Number.EPSILON * Math.max(Math.abs(t), Math.abs(t1), 1e-300)) {
        throw new TwinlabError('INTEGRATION_FAILED', `Dormand–Prince: step size underflow (h=${h}) at t=${t} integrating [${t0}, ${t1}]`, {
          t,
          h,
        });
      }

      for (let i = 0; i < n; i++) tmp[i] = (y[i] as number) + h * A21 * (k1[i] as number);
      f(t + C2 * h, tmp, k2);
      for (let i = 0; i < n; i++) tmp[i] = (y[i] as number) + h * (A31 * (k1[i] as number) + A32 * (k2[i] as number));
      f(t + C3 * h, tmp, k3);
      for (let i = 0; i < n; i++) {
        tmp[i] = (y[i] as number) + h * (A41 * (k1[i] as number) + A42 * (k2[i] as number) + A43 * (k3[i] as number));
      }
      f(t + C4 * h, tmp, k4);
      for (let i = 0; i < n; i++) {
        tmp[i] =
          (y[i] as number) +
          h * (A51 * (k1[i] as number) + A52 * (k2[i] as number) + A53 * (k3[i] as number) + A54 * (k4[i] as number));
      }
      f(t + C5 * h, tmp, k5);
      for (let i = 0; i < n; i++) {
        tmp[i] =
          (y[i] as number) +
          h *
            (A61 * (k1[i] as number) +
              A62 * (k2[i] as number) +
              A63 * (k3[i] as number) +
              A64 * (k4[i] as number) +
              A65 * (k5[i] as number));
      }
      const tNew = last ? t1 : t + h;
      f(tNew, tmp, k6);
      for (let i = 0; i < n; i++) {
        ynew[i] =
          (y[i] as number) +
          h * (A71 * (k1[i] as number) + A73 * (k3[i] as number) + A74 * (k4[i] as number) + A75 * (k5[i] as number) + A76 * (k6[i] as number));
      }
      f(tNew, ynew, k7);
      stats.evaluations += 6;

      let sum = 0;
      for (let i = 0; i < n; i++) {
        const e =
          h *
          (E1 * (k1[i] as number) +
            E3 * (k3[i] as number) +
            E4 * (k4[i] as number) +
            E5 * (k5[i] as number) +
            E6 * (k6[i] as number) +
            E7 * (k7[i] as number));
        const sc = atol + rtol * Math.max(Math.abs(y[i] as number), Math.abs(ynew[i] as number));
        const r = e / sc;
        sum += r * r;
      }
      const err = Math.sqrt(sum / n);
      // err is NaN/∞ when anything in the step went non-finite (ynew, or k7 at the new point).
      const finite = Number.isFinite(err);

      if (finite && err <= 1) {
        stats.accepted++;
        accepted++;
        y.set(ynew);
        k1.set(k7); // FSAL
        t = tNew;
        if (last) return accepted;
        let fac = err === 0 ? FAC_MAX : SAFETY * err ** -ORDER_EXP;
        fac = Math.min(justRejected ? 1 : FAC_MAX, Math.max(FAC_MIN, fac));
        h = Math.min(h * fac, hMax);
        justRejected = false;
      } else {
        stats.rejected++;
        const fac = finite ? Math.max(FAC_MIN, SAFETY * err ** -ORDER_EXP) : FAC_MIN;
        h *= Math.min(1, fac);
        justRejected = true;
      }
    }
  }

  /**
   * Starting step size, HNW I §II.4 ("Starting step size", algorithm of Gladwell, Shampine & Brankin
   * 1987 as used in DOPRI5): h₀ = 0.01·‖y₀‖/‖f₀‖, one explicit Euler probe to estimate ‖y''‖, then
   * h₁ = (0.01 / max(‖f₀‖, ‖y''‖))^(1/5); take min(100·h₀, h₁). Uses k1 = f(t0, y0); clobbers tmp, k2.
   */
  private initialStep(f: OdeRhs, y: Float64Array, t0: number, hMax: number): number {
    const n = this.dim;
    const { k1, k2, tmp, rtol, atol } = this;
    let d0 = 0;
    let d1 = 0;
    for (let i = 0; i < n; i++) {
      const sc = atol + rtol * Math.abs(y[i] as number);
      d0 += ((y[i] as number) / sc) ** 2;
      d1 += ((k1[i] as number) / sc) ** 2;
    }
    d0 = Math.sqrt(d0 / n);
    d1 = Math.sqrt(d1 / n);
    let h0 = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : 0.01 * (d0 / d1);
    h0 = Math.min(h0, hMax);
    for (let i = 0; i < n; i++) tmp[i] = (y[i] as number) + h0 * (k1[i] as number);
    f(t0 + h0, tmp, k2);
    this.stats.evaluations++;
    let d2 = 0;
    for (let i = 0; i < n; i++) {
      const sc = atol + rtol * Math.abs(y[i] as number);
      d2 += (((k2[i] as number) - (k1[i] as number)) / sc) ** 2;
    }
    d2 = Math.sqrt(d2 / n) / h0;
    const dMax = Math.max(d1, d2);
    const h1 = dMax <= 1e-15 ? Math.max(1e-6, h0 * 1e-3) : (0.01 / dMax) ** ORDER_EXP;
    const h = Math.min(100 * h0, h1, hMax);
    // A non-finite probe (NaN from f) falls back to h0; the step controller then shrinks as needed.
    return Number.isFinite(h) && h > 0 ? h : h0;
  }
}
