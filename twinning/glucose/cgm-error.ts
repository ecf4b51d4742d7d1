/**
 * The CGM error model of the personal glucose twin: two independent AR(1) components on the 5-min grid.
 *
 *   y_k = m_k + s_k + d_k
 *   s_k = φ_s·s_{k−1} + w_k,  w_k ~ N(0, σ_s²(1 − φ_s²))     sensor error (minutes to an hour)
 *   d_k = φ_d·d_{k−1} + v_k,  v_k ~ N(0, σ_d²(1 − φ_d²))     model discrepancy (hours)
 *
 * m is the twin's interstitial glucose. The sensor component is the autocorrelated CGM error of
 * Breton & Kovatchev (JDST 2(5), 2008). The discrepancy component is what no five-parameter model of
 * a real person explains — a mis-counted meal, an unlogged snack, exercise — which lasts hours, not
 * minutes. A single AR(1) cannot hold both: fitted to the sum it takes a middle time scale, its
 * innovations stay correlated over hours, and the posterior behaves as if it had far more independent
 * readings than it has (overconfident credible intervals; the same structure is the "model error"
 * term of Kennedy & O'Hagan, J R Stat Soc B 63(3), 2001).
 *
 * The likelihood is exact by the Kalman filter on x = (s, d) (Harvey 1989, "Forecasting, structural
 * time series models and the Kalman filter", §3.4): with F = diag(a, b), a = φ_s^Δ, b = φ_d^Δ across
 * a gap of Δ slots, Q = diag(σ_s²(1 − a²), σ_d²(1 − b²)), H = (1, 1) and no further observation noise,
 *
 *   predict  μ ← Fμ,  P ← FPFᵀ + Q
 *   observe  r = e − Hμ,  S = HPHᵀ,  K = PHᵀ/S,  μ ← μ + K·r,  P ← P − K·S·Kᵀ,
 *   log p(e | past) = −½(log 2πS + r²/S).
 *
 * Missing readings are skipped exactly (a longer gap Δ). The state starts stationary: μ = 0,
 * P = diag(σ_s², σ_d²). With σ_d → 0 this is the single AR(1) model.
 *
 * **Carb-counting error.** A person's logged carbohydrate is off by a fraction ε per meal (adults with
 * type 1 diabetes: ≈ 20 % per meal, Brazeau et al., J Acad Nutr Diet 113(7):1060, 2013), so a meal's
 * glucose excursion is off by ε times its own shape — one error for the whole meal, not a fresh one
 * per reading. The third state ε holds the current meal's error: at a logged meal it restarts,
 * ε ~ N(0, σ_c²) independent of the past, and it feeds the discrepancy through the meal's glucose
 * appearance g_k (mg/dL per slot, a θ-independent profile: likelihood.ts `mealGlucoseInflux`) into a
 * fourth component c, the excess glucose of mis-counted meals, which decays as plasma glucose does:
 *
 *   c_{k+1} = φ_c·c_k + g_k·ε,   ε_{k+1} = ε_k (restarted at a meal),   y_k = m_k + s_k + d_k + c_k,
 *
 * so the excess of a mis-counted meal accumulates while it is absorbed and then decays with the
 * glucose system's own slowest time constant (likelihood.ts `glucoseExcessDecay`), and the likelihood
 * stays exact for this linear-Gaussian model. With σ_c = 0 or no meals c and ε stay 0 and this is the
 * two-component model above. A filter state is 20 numbers (the mean of x = (s, d, c, ε), then P row
 * by row) at some offset of a Float64Array, so particles keep theirs in one array and nothing is
 * allocated per reading.
 */
export interface CgmErrorParams {
  /** Marginal SD of the sensor component, mg/dL. */
  sensorSd: number;
  /** 5-min autocorrelation of the sensor component. */
  sensorPhi: number;
  /** Marginal SD of the model-discrepancy component, mg/dL. */
  modelSd: number;
  /** 5-min autocorrelation of the model-discrepancy component. */
  modelPhi: number;
}

/**
 * The meal inputs of the carb-counting error: per slot, the glucose appearance g_k (mg/dL) of the
 * logged meals and 1 where a meal is logged; σ_c the SD of the fractional error per meal; φ_c the
 * 5-min decay of a glucose excess.
 */
export interface MealErrorInputs {
  influx: ArrayLike<number>;
  start: ArrayLike<number>;
  carbCountSd: number;
  excessPhi: number;
}

const X = 4;
export const ERROR_STATE_DIM = X + X * X;
const S = 0;
const D = 1;
const C = 2;
const E = 3;
const P0 = X;
const pij = (i: number, j: number): number => P0 + i * X + j;

/** Stationary start: μ = 0, P = diag(σ_s², σ_d², 0, 0) (no meal yet). */
export function errorStateReset(st: Float64Array, off: number, p: CgmErrorParams): void {
  st.fill(0, off, off + ERROR_STATE_DIM);
  st[off + pij(S, S)] = p.sensorSd * p.sensorSd;
  st[off + pij(D, D)] = p.modelSd * p.modelSd;
}

function powGap(phi: number, gap: number): number {
  return gap === 1 ? phi : phi ** gap;
}

const diagScratch = new Float64Array(X);

/**
 * μ ← Fμ, P ← FPFᵀ + Q for F = Λ + g·e_c·e_εᵀ (Λ = diag(f), f_ε = 1) and Q = diag(qs, qd, 0, 0), in
 * place: A = FP scales each row i by f_i except row c, which becomes f_c·P_c· + g·P_ε·; then
 * FPFᵀ = AFᵀ scales each column j by f_j except column c, which becomes f_c·A_·c + g·A_·ε. Row and
 * column ε are left as they are (f_ε = 1), so they can be read after being "scaled".
 */
function transition(st: Float64Array, off: number, f: Float64Array, g: number, qs: number, qd: number): void {
  st[off + C] = (f[C] as number) * (st[off + C] as number) + g * (st[off + E] as number);
  st[off + S] = (f[S] as number) * (st[off + S] as number);
  st[off + D] = (f[D] as number) * (st[off + D] as number);
  for (let j = 0; j < X; j++) {
    st[off + pij(C, j)] = (f[C] as number) * (st[off + pij(C, j)] as number) + g * (st[off + pij(E, j)] as number);
    st[off + pij(S, j)] = (f[S] as number) * (st[off + pij(S, j)] as number);
    st[off + pij(D, j)] = (f[D] as number) * (st[off + pij(D, j)] as number);
  }
  for (let i = 0; i < X; i++) {
    st[off + pij(i, C)] = (f[C] as number) * (st[off + pij(i, C)] as number) + g * (st[off + pij(i, E)] as number);
    st[off + pij(i, S)] = (f[S] as number) * (st[off + pij(i, S)] as number);
    st[off + pij(i, D)] = (f[D] as number) * (st[off + pij(i, D)] as number);
  }
  st[off + pij(S, S)] = (st[off + pij(S, S)] as number) + qs;
  st[off + pij(D, D)] = (st[off + pij(D, D)] as number) + qd;
}

function diag(p: CgmErrorParams, gap: number, excessPhi: number): Float64Array {
  diagScratch[S] = powGap(p.sensorPhi, gap);
  diagScratch[D] = powGap(p.modelPhi, gap);
  diagScratch[C] = powGap(excessPhi, gap);
  diagScratch[E] = 1;
  return diagScratch;
}

/** Advance the error state by `gap` slots (gap ≥ 0) with no meal glucose appearing. */
export function errorStatePredict(st: Float64Array, off: number, p: CgmErrorParams, gap: number, excessPhi = 1): void {
  if (gap <= 0) return;
  const f = diag(p, gap, excessPhi);
  const a = f[S] as number;
  const b = f[D] as number;
  transition(st, off, f, 0, p.sensorSd * p.sensorSd * (1 - a * a), p.modelSd * p.modelSd * (1 - b * b));
}

/** A logged meal: the meal error restarts, ε ~ N(0, σ_c²) independent of the rest. */
export function errorStateMeal(st: Float64Array, off: number, carbCountSd: number): void {
  st[off + E] = 0;
  for (let i = 0; i < X; i++) {
    st[off + pij(i, E)] = 0;
    st[off + pij(E, i)] = 0;
  }
  st[off + pij(E, E)] = carbCountSd * carbCountSd;
}

/** Advance one slot with meal glucose appearance g (mg/dL) feeding c through the meal error ε. */
export function errorStateStep(st: Float64Array, off: number, p: CgmErrorParams, g: number, excessPhi: number): void {
  const f = diag(p, 1, excessPhi);
  const a = f[S] as number;
  const b = f[D] as number;
  transition(st, off, f, g, p.sensorSd * p.sensorSd * (1 - a * a), p.modelSd * p.modelSd * (1 - b * b));
}

/** Mean of the predicted error e = s + d + c of a (predicted) state. */
export function errorMean(st: Float64Array, off: number): number {
  return (st[off + S] as number) + (st[off + D] as number) + (st[off + C] as number);
}

/** Variance of the predicted error e = s + d + c (H = (1, 1, 1, 0)): Σ over the first three rows and columns of P. */
export function errorVariance(st: Float64Array, off: number): number {
  let v = 0;
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) v += st[off + pij(i, j)] as number;
  return v;
}

/**
 * Mean and variance of the error `gap` slots ahead of the state (no further meal appearance), without
 * changing it, written to out[0], out[1].
 */
const predictiveScratch = new Float64Array(ERROR_STATE_DIM);
export function errorPredictive(st: Float64Array, off: number, p: CgmErrorParams, gap: number, out: Float64Array, excessPhi = 1): void {
  predictiveScratch.set(st.subarray(off, off + ERROR_STATE_DIM));
  errorStatePredict(predictiveScratch, 0, p, gap, excessPhi);
  out[0] = errorMean(predictiveScratch, 0);
  out[1] = errorVariance(predictiveScratch, 0);
}

const LOG_2PI = Math.log(2 * Math.PI);
const gainScratch = new Float64Array(X);

/** Kalman gains K = PHᵀ/S into `k`; returns S. */
function gains(st: Float64Array, off: number, k: Float64Array): number {
  const s = errorVariance(st, off);
  for (let i = 0; i < X; i++) k[i] = ((st[off + pij(i, S)] as number) + (st[off + pij(i, D)] as number) + (st[off + pij(i, C)] as number)) / s;
  return s;
}

/**
 * Observe the error e on a predicted state (H = (1, 1, 1, 0)): update the state and return the log
 * predictive density log N(e; Hμ, S).
 */
export function errorStateObserve(st: Float64Array, off: number, e: number): number {
  const k = gainScratch;
  const s = gains(st, off, k);
  const r = e - errorMean(st, off);
  for (let i = 0; i < X; i++) st[off + i] = (st[off + i] as number) + (k[i] as number) * r;
  for (let i = 0; i < X; i++) for (let j = 0; j < X; j++) st[off + pij(i, j)] = (st[off + pij(i, j)] as number) - (k[i] as number) * (k[j] as number) * s;
  return -0.5 * (LOG_2PI + Math.log(s) + (r * r) / s);
}

/** Whether the carb-counting error is active (σ_c > 0 and meal inputs given). */
function mealsActive(meals: MealErrorInputs | undefined): meals is MealErrorInputs {
  return meals !== undefined && meals.carbCountSd > 0;
}

/**
 * Exact log likelihood of the readings y (where include = 1) given the model trajectory m, with the
 * carb-counting error when `meals` is given. `scratch` (length ≥ ERROR_STATE_DIM) avoids an
 * allocation per call. Per slot k: observe y_k, then restart ε at a meal logged in slot k, then
 * step to k + 1 with g_k.
 */
export function cgmErrorLogLik(
  y: ArrayLike<number>,
  m: ArrayLike<number>,
  include: ArrayLike<number>,
  p: CgmErrorParams,
  scratch: Float64Array = new Float64Array(ERROR_STATE_DIM),
  meals?: MealErrorInputs,
): number {
  errorStateReset(scratch, 0, p);
  let ll = 0;
  if (mealsActive(meals)) {
    for (let k = 0; k < include.length; k++) {
      if (include[k] === 1) ll += errorStateObserve(scratch, 0, (y[k] as number) - (m[k] as number));
      if (meals.start[k] === 1) errorStateMeal(scratch, 0, meals.carbCountSd);
      errorStateStep(scratch, 0, p, meals.influx[k] as number, meals.excessPhi);
    }
    return ll;
  }
  let prevK = -1;
  for (let k = 0; k < include.length; k++) {
    if (include[k] !== 1) continue;
    if (prevK >= 0) errorStatePredict(scratch, 0, p, k - prevK);
    ll += errorStateObserve(scratch, 0, (y[k] as number) - (m[k] as number));
    prevK = k;
  }
  return ll;
}

/**
 * The innovation filter of the used readings for fixed error parameters (and fixed meal inputs), as
 * a linear map: the Kalman gains and innovation variances do not depend on the data, so the
 * standardised innovation of reading u is w_u = (e_u − Σ_j c_{u,j}·e_j)/√S_u, a finite linear
 * combination of past errors, computed recursively here from the gains. Used by the MAP's least
 * squares (map.ts): the log likelihood is −½Σ w_u² − ½Σ log S_u + const, so minimising Σ w_u² with
 * the gains held is the exact conditional problem.
 */
export class InnovationWhitener {
  /** Per used reading: the X gains, then 1/√S. */
  private readonly gains: Float64Array;
  readonly logDetHalf: number;
  private readonly f: Float64Array;
  private readonly meals: MealErrorInputs | undefined;

  constructor(
    readonly used: Int32Array,
    p: CgmErrorParams,
    meals?: MealErrorInputs,
  ) {
    const n = used.length;
    this.meals = mealsActive(meals) ? meals : undefined;
    this.f = Float64Array.from(diag(p, 1, this.meals?.excessPhi ?? 1));
    this.gains = new Float64Array(n * (X + 1));
    const st = new Float64Array(ERROR_STATE_DIM);
    errorStateReset(st, 0, p);
    let logDet = 0;
    const last = n === 0 ? -1 : (used[n - 1] as number);
    let u = 0;
    const k4 = new Float64Array(X);
    for (let k = n === 0 ? 0 : (used[0] as number); k <= last; k++) {
      if (k === used[u]) {
        const sVar = gains(st, 0, k4);
        this.gains.set(k4, u * (X + 1));
        this.gains[u * (X + 1) + X] = 1 / Math.sqrt(sVar);
        logDet += 0.5 * Math.log(sVar);
        errorStateObserve(st, 0, errorMean(st, 0));
        u++;
      }
      if (this.meals !== undefined) {
        if (this.meals.start[k] === 1) errorStateMeal(st, 0, this.meals.carbCountSd);
        errorStateStep(st, 0, p, this.meals.influx[k] as number, this.meals.excessPhi);
      } else errorStatePredict(st, 0, p, 1);
    }
    this.logDetHalf = logDet;
  }

  /** Standardised innovations of the errors e (indexed by slot) into out (indexed by used reading). */
  whiten(e: ArrayLike<number>, out: Float64Array): void {
    const n = this.used.length;
    if (n === 0) return;
    let ms = 0;
    let md = 0;
    let mc = 0;
    let me = 0;
    const g = this.gains;
    const f = this.f;
    const meals = this.meals;
    let u = 0;
    const last = this.used[n - 1] as number;
    for (let k = this.used[0] as number; k <= last; k++) {
      if (k === this.used[u]) {
        const o = u * (X + 1);
        const r = (e[k] as number) - ms - md - mc;
        out[u] = r * (g[o + X] as number);
        ms += (g[o + S] as number) * r;
        md += (g[o + D] as number) * r;
        mc += (g[o + C] as number) * r;
        me += (g[o + E] as number) * r;
        u++;
      }
      ms *= f[S] as number;
      md *= f[D] as number;
      if (meals !== undefined) {
        if (meals.start[k] === 1) me = 0;
        mc = (f[C] as number) * mc + (meals.influx[k] as number) * me;
      }
    }
  }
}
