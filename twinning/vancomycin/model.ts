import { TwinlabError } from '../../engine/errors.js';
import type { VancoPk } from '../../environments/pkpd/vancomycin-model.js';

/**
 * Closed-form solution of the Goti two-compartment model (environments/pkpd/vancomycin-model.ts) under
 * zero-order infusions, for fitting: no ODE solver, exact between events.
 *
 * With x = (A1, A2) (mg) the model is dx/dt = K·x + u, u = (R, 0), R the total infusion rate (mg/h),
 *   K = [[−(k10 + k12), k21], [k12, −k21]],  k10 = CL/V1, k12 = Q/V1, k21 = Q/V2.
 * K has two real negative eigenvalues λ1 = −α, λ2 = −β (α > β > 0),
 *   α + β = k10 + k12 + k21,  α·β = k10·k21   (Gibaldi & Perrier, Pharmacokinetics, 2nd ed. 1982).
 * For any analytic f, Sylvester's formula for a 2×2 matrix with distinct eigenvalues gives
 *   f(K) = [f(λ1)·(K − λ2·I) − f(λ2)·(K − λ1·I)] / (λ1 − λ2).
 * Over a span h with constant R:
 *   x(h)     = E·x0 + G·u,          E = f(K) with f = e^{λh},  G = ∫0^h e^{Ks} ds, f = (e^{λh} − 1)/λ
 *   ∫0^h x   = G·x0 + H·u,          H = ∫0^h G(s) ds, f = (φ(h) − h)/λ with φ = (e^{λh} − 1)/λ
 * which is the superposition of the bi-exponential dose responses written as matrix functions
 * (a bolus, a running infusion and its end are all covered by stepping from event to event).
 */

export interface Dose {
  /** Hours from the time origin. */
  timeH: number;
  amountMg: number;
  /** 0 = bolus. */
  durationH: number;
}

/** Eigen-decomposition data of K for one parameter set. */
export interface Kinetics {
  readonly pk: VancoPk;
  readonly k10: number;
  readonly k12: number;
  readonly k21: number;
  /** λ1 = −alpha, λ2 = −beta. */
  readonly l1: number;
  readonly l2: number;
}

export function kinetics(pk: VancoPk): Kinetics {
  const { cl, v1, v2, q } = pk;
  if (!(cl > 0 && v1 > 0 && v2 > 0 && q > 0) || ![cl, v1, v2, q].every(Number.isFinite)) {
    throw new TwinlabError('INVALID_ARGUMENT', `PK parameters must be positive and finite, got CL=${cl}, V1=${v1}, V2=${v2}, Q=${q}`);
  }
  const k10 = cl / v1;
  const k12 = q / v1;
  const k21 = q / v2;
  const s = k10 + k12 + k21;
  const p = k10 * k21;
  // stable roots of z² − s·z + p = 0: the larger by the discriminant, the smaller by Vieta
  const alpha = (s + Math.sqrt(Math.max(0, s * s - 4 * p))) / 2;
  const beta = p / alpha;
  return { pk, k10, k12, k21, l1: -alpha, l2: -beta };
}

/** (e^{λh} − 1)/λ, accurate for small λh. */
function phi(l: number, h: number): number {
  return Math.abs(l * h) < 1e-8 ? h : Math.expm1(l * h) / l;
}

/** ∫0^h φ(λ, s) ds = (φ(h) − h)/λ, with a series where that cancels. */
function psi(l: number, h: number): number {
  const z = l * h;
  if (Math.abs(z) < 1e-3) return h * h * (0.5 + z / 6 + (z * z) / 24 + (z * z * z) / 120);
  return (phi(l, h) - h) / l;
}

/** f(K) as [m00, m01, m10, m11] from f(λ1), f(λ2). */
function matrixFunction(kin: Kinetics, f1: number, f2: number, out: Float64Array): void {
  const { k10, k12, k21, l1, l2 } = kin;
  const d = l1 - l2;
  // K − λ2·I and K − λ1·I
  const a = -(k10 + k12);
  const c1 = (f1 - f2) / d;
  out[0] = (f1 * (a - l2) - f2 * (a - l1)) / d;
  out[1] = c1 * k21;
  out[2] = c1 * k12;
  out[3] = (f1 * (-k21 - l2) - f2 * (-k21 - l1)) / d;
}

/** Propagator over h with constant infusion rate: state and, optionally, its integral. */
export class Propagator {
  private readonly e = new Float64Array(4);
  private readonly g = new Float64Array(4);
  private readonly hm = new Float64Array(4);
  constructor(readonly kin: Kinetics) {}

  /** Advances x (A1, A2) by h hours under rate R (mg/h); returns ∫ A1 dt over the span (mg·h). */
  advance(x: Float64Array, h: number, rate: number): number {
    if (h <= 0) return 0;
    const { l1, l2 } = this.kin;
    const { e, g, hm } = this;
    matrixFunction(this.kin, Math.exp(l1 * h), Math.exp(l2 * h), e);
    matrixFunction(this.kin, phi(l1, h), phi(l2, h), g);
    const a1 = x[0] as number;
    const a2 = x[1] as number;
    matrixFunction(this.kin, psi(l1, h), psi(l2, h), hm);
    const integral = (g[0] as number) * a1 + (g[1] as number) * a2 + (hm[0] as number) * rate;
    x[0] = (e[0] as number) * a1 + (e[1] as number) * a2 + (g[0] as number) * rate;
    x[1] = (e[2] as number) * a1 + (e[3] as number) * a2 + (g[2] as number) * rate;
    return integral;
  }
}

interface RateEvent {
  t: number;
  /** Change of the infusion rate (mg/h), or a bolus amount when `bolus`. */
  delta: number;
  bolus: boolean;
}

/** Sorted rate changes of a dosing history (infusion starts and ends, boluses). */
export function rateEvents(doses: readonly Dose[]): RateEvent[] {
  const ev: RateEvent[] = [];
  for (const d of doses) {
    if (d.durationH > 0) {
      const r = d.amountMg / d.durationH;
      ev.push({ t: d.timeH, delta: r, bolus: false }, { t: d.timeH + d.durationH, delta: -r, bolus: false });
    } else ev.push({ t: d.timeH, delta: d.amountMg, bolus: true });
  }
  ev.sort((a, b) => a.t - b.t);
  return ev;
}

/**
 * Central concentrations (mg/L) at `times` (hours, any order) after `doses`, from an empty body at
 * time −∞. A bolus at exactly an observation time is counted as given before the observation; an
 * infusion starting then contributes nothing yet (its amount enters continuously).
 */
export function concentrations(kin: Kinetics, doses: readonly Dose[], times: readonly number[], events?: RateEvent[]): Float64Array {
  const ev = events ?? rateEvents(doses);
  const sorted = times.every((t, i) => i === 0 || (times[i - 1] as number) <= t);
  const order = sorted ? times.map((_, i) => i) : times.map((_, i) => i).sort((a, b) => (times[a] as number) - (times[b] as number));
  const out = new Float64Array(times.length);
  const prop = new Propagator(kin);
  const x = new Float64Array(2);
  let t = ev.length > 0 ? Math.min((ev[0] as RateEvent).t, times.length > 0 ? (times[order[0] as number] as number) : 0) : 0;
  let rate = 0;
  let e = 0;
  for (const i of order) {
    const target = times[i] as number;
    while (e < ev.length && (ev[e] as RateEvent).t <= target) {
      const next = ev[e] as RateEvent;
      prop.advance(x, next.t - t, rate);
      t = next.t;
      if (next.bolus) x[0] = (x[0] as number) + next.delta;
      else rate += next.delta;
      e++;
    }
    prop.advance(x, target - t, rate);
    t = target;
    // the sum of rate changes can leave a tiny float residue after every infusion ended
    if (Math.abs(rate) < 1e-9) rate = 0;
    out[i] = (x[0] as number) / kin.pk.v1;
  }
  return out;
}

/** Steady state of `amount` mg infused over `durationH` every `intervalH` hours. */
export interface SteadyState {
  /** Concentration at the start of a dose (= end of the interval), mg/L. */
  trough: number;
  /** Concentration at the end of the infusion, mg/L. */
  peak: number;
  /** AUC over 24 h at steady state, mg·h/L (= daily dose / CL). */
  auc24: number;
}

/**
 * Steady state as the fixed point of the one-interval map x ↦ E(τ)·x + c, c = E(τ − d)·G(d)·u, i.e.
 * x_ss = (I − E(τ))⁻¹·c at the start of a dose.
 */
export function steadyState(kin: Kinetics, amountMg: number, intervalH: number, durationH: number): SteadyState {
  if (!(intervalH > 0) || !(durationH >= 0) || durationH > intervalH) {
    throw new TwinlabError('INVALID_ARGUMENT', `steady state needs interval > 0 and 0 ≤ duration ≤ interval, got τ=${intervalH}, d=${durationH}`);
  }
  const prop = new Propagator(kin);
  // c: one dose from an empty body, carried to the end of the interval
  const c = new Float64Array(2);
  if (durationH > 0) prop.advance(c, durationH, amountMg / durationH);
  else c[0] = amountMg;
  prop.advance(c, intervalH - durationH, 0);
  const e = new Float64Array(4);
  matrixFunction(kin, Math.exp(kin.l1 * intervalH), Math.exp(kin.l2 * intervalH), e);
  // (I − E)·x = c
  const m00 = 1 - (e[0] as number);
  const m01 = -(e[1] as number);
  const m10 = -(e[2] as number);
  const m11 = 1 - (e[3] as number);
  const det = m00 * m11 - m01 * m10;
  const x = new Float64Array(2);
  x[0] = ((c[0] as number) * m11 - m01 * (c[1] as number)) / det;
  x[1] = (m00 * (c[1] as number) - m10 * (c[0] as number)) / det;
  const trough = (x[0] as number) / kin.pk.v1;
  if (durationH > 0) prop.advance(x, durationH, amountMg / durationH);
  else x[0] = (x[0] as number) + amountMg;
  return { trough, peak: (x[0] as number) / kin.pk.v1, auc24: (amountMg * (24 / intervalH)) / kin.pk.cl };
}

/** AUC (mg·h/L) of the central concentration over [from, to] (hours) after `doses`. */
export function aucBetween(kin: Kinetics, doses: readonly Dose[], from: number, to: number): number {
  const ev = rateEvents(doses);
  const prop = new Propagator(kin);
  const x = new Float64Array(2);
  let t = ev.length > 0 ? Math.min((ev[0] as RateEvent).t, from) : from;
  let rate = 0;
  let auc = 0;
  const step = (until: number) => {
    // split at `from` so only [from, to] is integrated
    if (t < from && until > from) {
      prop.advance(x, from - t, rate);
      t = from;
    }
    const a = prop.advance(x, until - t, rate);
    if (t >= from) auc += a;
    t = until;
  };
  for (const next of ev) {
    if (next.t > to) break;
    step(next.t);
    if (next.bolus) x[0] = (x[0] as number) + next.delta;
    else rate += next.delta;
  }
  step(to);
  return auc / kin.pk.v1;
}
