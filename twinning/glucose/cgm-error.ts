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
 * two-component model above. A filter state is 14 numbers (the mean of x = (s, d, c, ε), then the
 * upper triangle of P) at some offset of a Float64Array, so particles keep theirs in one array and nothing is
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
/** Mean (s, d, c, ε), then the upper triangle of P row by row: ss sd sc sε dd dc dε cc cε εε. */
export const ERROR_STATE_DIM = X + 10;
const MS = 0;
const MD = 1;
const MC = 2;
const ME = 3;
const SS = 4;
const SD = 5;
const SC = 6;
const SE = 7;
const DD = 8;
const DC = 9;
const DE = 10;
const CC = 11;
const CE = 12;
const EE = 13;

/** Stationary start: μ = 0, P = diag(σ_s², σ_d², 0, 0) (no meal yet). */
export function errorStateReset(st: Float64Array, off: number, p: CgmErrorParams): void {
  st.fill(0, off, off + ERROR_STATE_DIM);
  st[off + SS] = p.sensorSd * p.sensorSd;
  st[off + DD] = p.modelSd * p.modelSd;
}

function powGap(phi: number, gap: number): number {
  return gap === 1 ? phi : phi ** gap;
}

/**
 * μ ← Fμ, P ← FPFᵀ + Q for F = diag(a, b, φ, 1) + g·e_c·e_εᵀ and Q = diag(qs, qd, 0, 0), written out
 * on the upper triangle (every right-hand side reads the old values):
 *
 *   ss ← a²ss + qs   sd ← ab·sd   sc ← a(φ·sc + g·sε)   sε ← a·sε
 *   dd ← b²dd + qd   dc ← b(φ·dc + g·dε)   dε ← b·dε
 *   cc ← φ²cc + 2φg·cε + g²εε   cε ← φ·cε + g·εε   εε unchanged
 */
function transition(st: Float64Array, o: number, a: number, b: number, phi: number, g: number, qs: number, qd: number): void {
  const ss = st[o + SS] as number;
  const sd = st[o + SD] as number;
  const sc = st[o + SC] as number;
  const se = st[o + SE] as number;
  const dd = st[o + DD] as number;
  const dc = st[o + DC] as number;
  const de = st[o + DE] as number;
  const cc = st[o + CC] as number;
  const ce = st[o + CE] as number;
  const ee = st[o + EE] as number;
  st[o + MS] = a * (st[o + MS] as number);
  st[o + MD] = b * (st[o + MD] as number);
  st[o + MC] = phi * (st[o + MC] as number) + g * (st[o + ME] as number);
  st[o + SS] = a * a * ss + qs;
  st[o + SD] = a * b * sd;
  st[o + SC] = a * (phi * sc + g * se);
  st[o + SE] = a * se;
  st[o + DD] = b * b * dd + qd;
  st[o + DC] = b * (phi * dc + g * de);
  st[o + DE] = b * de;
  st[o + CC] = phi * phi * cc + 2 * phi * g * ce + g * g * ee;
  st[o + CE] = phi * ce + g * ee;
}

/** Advance the error state by `gap` slots (gap ≥ 0) with no meal glucose appearing. */
export function errorStatePredict(st: Float64Array, off: number, p: CgmErrorParams, gap: number, excessPhi = 1): void {
  if (gap <= 0) return;
  const a = powGap(p.sensorPhi, gap);
  const b = powGap(p.modelPhi, gap);
  transition(st, off, a, b, powGap(excessPhi, gap), 0, p.sensorSd * p.sensorSd * (1 - a * a), p.modelSd * p.modelSd * (1 - b * b));
}

/** A logged meal: the meal error restarts, ε ~ N(0, σ_c²) independent of the rest. */
export function errorStateMeal(st: Float64Array, off: number, carbCountSd: number): void {
  st[off + ME] = 0;
  st[off + SE] = 0;
  st[off + DE] = 0;
  st[off + CE] = 0;
  st[off + EE] = carbCountSd * carbCountSd;
}

/** Advance one slot with meal glucose appearance g (mg/dL) feeding c through the meal error ε. */
export function errorStateStep(st: Float64Array, off: number, p: CgmErrorParams, g: number, excessPhi: number): void {
  const a = p.sensorPhi;
  const b = p.modelPhi;
  transition(st, off, a, b, excessPhi, g, p.sensorSd * p.sensorSd * (1 - a * a), p.modelSd * p.modelSd * (1 - b * b));
}

/** Mean of the predicted error e = s + d + c of a (predicted) state. */
export function errorMean(st: Float64Array, off: number): number {
  return (st[off + MS] as number) + (st[off + MD] as number) + (st[off + MC] as number);
}

/** Variance of the predicted error e = s + d + c (H = (1, 1, 1, 0)). */
export function errorVariance(st: Float64Array, off: number): number {
  return (
    (st[off + SS] as number) +
    (st[off + DD] as number) +
    (st[off + CC] as number) +
    2 * ((st[off + SD] as number) + (st[off + SC] as number) + (st[off + DC] as number))
  );
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

/** PHᵀ (four numbers) into h; returns S = H·PHᵀ. */
function crossCov(st: Float64Array, o: number, h: Float64Array): number {
  const sd = st[o + SD] as number;
  const sc = st[o + SC] as number;
  const dc = st[o + DC] as number;
  h[0] = (st[o + SS] as number) + sd + sc;
  h[1] = sd + (st[o + DD] as number) + dc;
  h[2] = sc + dc + (st[o + CC] as number);
  h[3] = (st[o + SE] as number) + (st[o + DE] as number) + (st[o + CE] as number);
  return (h[0] as number) + (h[1] as number) + (h[2] as number);
}

const hScratch = new Float64Array(X);

/**
 * Observe the error e on a predicted state (H = (1, 1, 1, 0)): with h = PHᵀ and S = Hh, μ ← μ + h·r/S,
 * P ← P − hhᵀ/S; returns the log predictive density log N(e; Hμ, S).
 */
export function errorStateObserve(st: Float64Array, o: number, e: number): number {
  const h = hScratch;
  const s = crossCov(st, o, h);
  const r = e - errorMean(st, o);
  const hs = (h[0] as number) / s;
  const hd = (h[1] as number) / s;
  const hc = (h[2] as number) / s;
  const he = (h[3] as number) / s;
  st[o + MS] = (st[o + MS] as number) + hs * r;
  st[o + MD] = (st[o + MD] as number) + hd * r;
  st[o + MC] = (st[o + MC] as number) + hc * r;
  st[o + ME] = (st[o + ME] as number) + he * r;
  const h0 = h[0] as number;
  const h1 = h[1] as number;
  const h2 = h[2] as number;
  const h3 = h[3] as number;
  st[o + SS] = (st[o + SS] as number) - h0 * hs;
  st[o + SD] = (st[o + SD] as number) - h0 * hd;
  st[o + SC] = (st[o + SC] as number) - h0 * hc;
  st[o + SE] = (st[o + SE] as number) - h0 * he;
  st[o + DD] = (st[o + DD] as number) - h1 * hd;
  st[o + DC] = (st[o + DC] as number) - h1 * hc;
  st[o + DE] = (st[o + DE] as number) - h1 * he;
  st[o + CC] = (st[o + CC] as number) - h2 * hc;
  st[o + CE] = (st[o + CE] as number) - h2 * he;
  st[o + EE] = (st[o + EE] as number) - h3 * he;
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
    this.f = Float64Array.of(p.sensorPhi, p.modelPhi, this.meals?.excessPhi ?? 1, 1);
    this.gains = new Float64Array(n * (X + 1));
    const st = new Float64Array(ERROR_STATE_DIM);
    errorStateReset(st, 0, p);
    let logDet = 0;
    const last = n === 0 ? -1 : (used[n - 1] as number);
    let u = 0;
    const k4 = new Float64Array(X);
    for (let k = n === 0 ? 0 : (used[0] as number); k <= last; k++) {
      if (k === used[u]) {
        const sVar = crossCov(st, 0, k4);
        for (let i = 0; i < X; i++) this.gains[u * (X + 1) + i] = (k4[i] as number) / sVar;
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
        ms += (g[o] as number) * r;
        md += (g[o + 1] as number) * r;
        mc += (g[o + 2] as number) * r;
        me += (g[o + 3] as number) * r;
        u++;
      }
      ms *= f[0] as number;
      md *= f[1] as number;
      if (meals !== undefined) {
        if (meals.start[k] === 1) me = 0;
        mc = (f[2] as number) * mc + (meals.influx[k] as number) * me;
      }
    }
  }
}
