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
 * P = diag(σ_s², σ_d²). With σ_d → 0 this is the single AR(1) model. A filter state is five numbers
 * [μ_s, μ_d, P_ss, P_sd, P_dd] at some offset of a Float64Array, so particles keep theirs in one array
 * and nothing is allocated per reading.
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

export const ERROR_STATE_DIM = 5;

/** Stationary start: μ = 0, P = diag(σ_s², σ_d²). */
export function errorStateReset(st: Float64Array, off: number, p: CgmErrorParams): void {
  st[off] = 0;
  st[off + 1] = 0;
  st[off + 2] = p.sensorSd * p.sensorSd;
  st[off + 3] = 0;
  st[off + 4] = p.modelSd * p.modelSd;
}

function powGap(phi: number, gap: number): number {
  return gap === 1 ? phi : phi ** gap;
}

/** Advance the error state by `gap` slots (gap ≥ 0). */
export function errorStatePredict(st: Float64Array, off: number, p: CgmErrorParams, gap: number): void {
  if (gap <= 0) return;
  const a = powGap(p.sensorPhi, gap);
  const b = powGap(p.modelPhi, gap);
  st[off] = a * (st[off] as number);
  st[off + 1] = b * (st[off + 1] as number);
  st[off + 2] = a * a * (st[off + 2] as number) + p.sensorSd * p.sensorSd * (1 - a * a);
  st[off + 3] = a * b * (st[off + 3] as number);
  st[off + 4] = b * b * (st[off + 4] as number) + p.modelSd * p.modelSd * (1 - b * b);
}

/** Mean of the predicted error e = s + d of a (predicted) state. */
export function errorMean(st: Float64Array, off: number): number {
  return (st[off] as number) + (st[off + 1] as number);
}

/** Variance of the predicted error e = s + d of a (predicted) state. */
export function errorVariance(st: Float64Array, off: number): number {
  return (st[off + 2] as number) + 2 * (st[off + 3] as number) + (st[off + 4] as number);
}

/**
 * Mean and variance of the error `gap` slots ahead of the state, without changing it (forecasts),
 * written to out[0], out[1].
 */
export function errorPredictive(st: Float64Array, off: number, p: CgmErrorParams, gap: number, out: Float64Array): void {
  const a = powGap(p.sensorPhi, gap);
  const b = powGap(p.modelPhi, gap);
  out[0] = a * (st[off] as number) + b * (st[off + 1] as number);
  out[1] =
    a * a * (st[off + 2] as number) +
    2 * a * b * (st[off + 3] as number) +
    b * b * (st[off + 4] as number) +
    p.sensorSd * p.sensorSd * (1 - a * a) +
    p.modelSd * p.modelSd * (1 - b * b);
}

const LOG_2PI = Math.log(2 * Math.PI);

/**
 * Observe the error e on a predicted state: update the state and return the log predictive density
 * log N(e; Hμ, S).
 */
export function errorStateObserve(st: Float64Array, off: number, e: number): number {
  const pss = st[off + 2] as number;
  const psd = st[off + 3] as number;
  const pdd = st[off + 4] as number;
  const s = pss + 2 * psd + pdd;
  const r = e - (st[off] as number) - (st[off + 1] as number);
  const ks = (pss + psd) / s;
  const kd = (psd + pdd) / s;
  st[off] = (st[off] as number) + ks * r;
  st[off + 1] = (st[off + 1] as number) + kd * r;
  st[off + 2] = pss - ks * ks * s;
  st[off + 3] = psd - ks * kd * s;
  st[off + 4] = pdd - kd * kd * s;
  return -0.5 * (LOG_2PI + Math.log(s) + (r * r) / s);
}

/**
 * Exact log likelihood of the readings y (where include = 1) given the model trajectory m.
 * `scratch` (length ≥ ERROR_STATE_DIM) avoids an allocation per call.
 */
export function cgmErrorLogLik(
  y: ArrayLike<number>,
  m: ArrayLike<number>,
  include: ArrayLike<number>,
  p: CgmErrorParams,
  scratch: Float64Array = new Float64Array(ERROR_STATE_DIM),
): number {
  errorStateReset(scratch, 0, p);
  let ll = 0;
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
 * The innovation filter of the used readings for fixed error parameters, as a linear map: the
 * Kalman gains and innovation variances do not depend on the data, so the standardised innovation of
 * reading u is w_u = (e_u − Σ_j c_{u,j}·e_j)/√S_u, a finite linear combination of past errors,
 * computed recursively here from the gains. Used by the MAP's least squares (map.ts): the log
 * likelihood is −½Σ w_u² − ½Σ log S_u + const, so minimising Σ w_u² with the gains held is the
 * exact conditional problem.
 */
export class InnovationWhitener {
  /** Per used reading: a, b (transition), ks, kd (gains), 1/√S. */
  private readonly coef: Float64Array;
  readonly logDetHalf: number;

  constructor(
    readonly used: Int32Array,
    p: CgmErrorParams,
  ) {
    const n = used.length;
    this.coef = new Float64Array(n * 5);
    const st = new Float64Array(ERROR_STATE_DIM);
    errorStateReset(st, 0, p);
    let logDet = 0;
    for (let u = 0; u < n; u++) {
      const gap = u === 0 ? 0 : (used[u] as number) - (used[u - 1] as number);
      if (gap > 0) errorStatePredict(st, 0, p, gap);
      const s = errorVariance(st, 0);
      const pss = st[2] as number;
      const psd = st[3] as number;
      const pdd = st[4] as number;
      const ks = (pss + psd) / s;
      const kd = (psd + pdd) / s;
      st[2] = pss - ks * ks * s;
      st[3] = psd - ks * kd * s;
      st[4] = pdd - kd * kd * s;
      const o = u * 5;
      this.coef[o] = gap > 0 ? powGap(p.sensorPhi, gap) : 0;
      this.coef[o + 1] = gap > 0 ? powGap(p.modelPhi, gap) : 0;
      this.coef[o + 2] = ks;
      this.coef[o + 3] = kd;
      this.coef[o + 4] = 1 / Math.sqrt(s);
      logDet += 0.5 * Math.log(s);
    }
    this.logDetHalf = logDet;
  }

  /** Standardised innovations of the errors e (indexed by slot) into out (indexed by used reading). */
  whiten(e: ArrayLike<number>, out: Float64Array): void {
    let ms = 0;
    let md = 0;
    const c = this.coef;
    for (let u = 0; u < this.used.length; u++) {
      const o = u * 5;
      ms *= c[o] as number;
      md *= c[o + 1] as number;
      const r = (e[this.used[u] as number] as number) - ms - md;
      out[u] = r * (c[o + 4] as number);
      ms += (c[o + 2] as number) * r;
      md += (c[o + 3] as number) * r;
    }
  }
}
