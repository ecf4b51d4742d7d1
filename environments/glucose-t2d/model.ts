import { describeValue, TwinlabError } from '../../engine/errors.js';
import type { OdeRhs } from '../../engine/ode.js';

/**
 * The meal simulation model of C. Dalla Man, R. A. Rizza, C. Cobelli, "Meal simulation model of the
 * glucose–insulin system", IEEE Trans. Biomed. Eng. 54(10):1740–1749 (2007) — the form WITH endogenous
 * insulin secretion (β-cell: static and dynamic secretion into the portal vein, hepatic extraction),
 * with the paper's normal and type 2 diabetes parameter sets (its Table 1). Equations and sources of
 * every value: README.md. Units: time min, glucose masses mg/kg, insulin masses pmol/kg,
 * concentrations mg/dL and pmol/L, meal masses mg (whole body).
 */

/** State vector (13 values). */
export const T2D = {
  Qsto1: 0,
  Qsto2: 1,
  Qgut: 2,
  Gp: 3,
  Gt: 4,
  Il: 5,
  Ip: 6,
  X: 7,
  I1: 8,
  Id: 9,
  Ipo: 10,
  Y: 11,
  Gs: 12,
} as const;
export const T2D_STATE_DIM = 13;
export const T2D_STATE_NAMES = Object.keys(T2D) as (keyof typeof T2D)[];

/** The parameters of Table 1 of Dalla Man et al. 2007 (same names; `c` there is `d` below, see README). */
export interface DM2007Params {
  /** Body weight, kg (not in Table 1: see README). */
  BW: number;
  /** Glucose kinetics. */
  Vg: number;
  k1: number;
  k2: number;
  /** Insulin kinetics. */
  Vi: number;
  m1: number;
  m2: number;
  m4: number;
  m5: number;
  m6: number;
  HEb: number;
  /** Rate of appearance. */
  kmax: number;
  kmin: number;
  kabs: number;
  kgri: number;
  f: number;
  /** Fractions of the dose at which gastric emptying turns (the paper's b and d; α, β follow from D). */
  b: number;
  d: number;
  /** Endogenous production. */
  kp1: number;
  kp2: number;
  kp3: number;
  kp4: number;
  ki: number;
  /** Utilisation. */
  Fcns: number;
  Vm0: number;
  Vmx: number;
  Km0: number;
  p2U: number;
  /** Secretion. */
  K: number;
  alpha: number;
  beta: number;
  gamma: number;
  /** Renal excretion. */
  ke1: number;
  ke2: number;
  /** Plasma → interstitial glucose exchange for the CGM (not in the paper; README). */
  ksc: number;
}

/** Interstitial glucose time constant 10 min (an assumption, README "CGM"). */
export const DEFAULT_KSC = 0.1;

/**
 * Table 1, "normal" column (Dalla Man, Rizza & Cobelli 2007). BW: the 78 kg of the BioModels curation
 * of this paper (BIOMD0000000379); Table 1 has no body weight.
 */
export const DM2007_NORMAL: Readonly<DM2007Params> = Object.freeze({
  BW: 78,
  Vg: 1.88,
  k1: 0.065,
  k2: 0.079,
  Vi: 0.05,
  m1: 0.19,
  m2: 0.484,
  m4: 0.194,
  m5: 0.0304,
  m6: 0.6471,
  HEb: 0.6,
  kmax: 0.0558,
  kmin: 0.008,
  kabs: 0.057,
  kgri: 0.0558,
  f: 0.9,
  b: 0.82,
  d: 0.01,
  kp1: 2.7,
  kp2: 0.0021,
  kp3: 0.009,
  kp4: 0.0618,
  ki: 0.0079,
  Fcns: 1,
  Vm0: 2.5,
  Vmx: 0.047,
  Km0: 225.59,
  p2U: 0.0331,
  K: 2.3,
  alpha: 0.05,
  beta: 0.11,
  gamma: 0.5,
  ke1: 0.0005,
  ke2: 339,
  ksc: DEFAULT_KSC,
});

/** Table 1, "type 2 diabetes" column (Dalla Man, Rizza & Cobelli 2007). BW as for normal (README). */
export const DM2007_T2D: Readonly<DM2007Params> = Object.freeze({
  BW: 78,
  Vg: 1.49,
  k1: 0.042,
  k2: 0.071,
  Vi: 0.04,
  m1: 0.379,
  m2: 0.673,
  m4: 0.269,
  m5: 0.0526,
  m6: 0.8118,
  HEb: 0.6,
  kmax: 0.0465,
  kmin: 0.0076,
  kabs: 0.023,
  kgri: 0.0465,
  f: 0.9,
  b: 0.68,
  d: 0.09,
  kp1: 3.09,
  kp2: 0.0007,
  kp3: 0.005,
  kp4: 0.0786,
  ki: 0.0066,
  Fcns: 1,
  Vm0: 4.65,
  Vmx: 0.034,
  Km0: 466.21,
  p2U: 0.084,
  K: 0.99,
  alpha: 0.013,
  beta: 0.05,
  gamma: 0.5,
  ke1: 0.0007,
  ke2: 269,
  ksc: DEFAULT_KSC,
});

export const DM2007_SETS = Object.freeze({ normal: DM2007_NORMAL, t2d: DM2007_T2D });
export type DM2007SetName = keyof typeof DM2007_SETS;

/** The basal steady state of a parameter set. */
export interface T2DBasal {
  /** Plasma glucose, mg/dL. */
  Gb: number;
  /** Plasma insulin, pmol/L. */
  Ib: number;
  /** Endogenous glucose production, mg/kg/min. */
  EGPb: number;
  /** Insulin secretion, pmol/kg/min. */
  Sb: number;
  Gpb: number;
  Gtb: number;
  Ipb: number;
  Ilb: number;
  Ipob: number;
  /** m3 at basal (HEb·m1/(1 − HEb)), 1/min. */
  m30: number;
}

function insulinBasal(p: DM2007Params): Pick<T2DBasal, 'Sb' | 'Ib' | 'Ipb' | 'Ilb' | 'Ipob' | 'm30'> {
  // HE(0) = HEb with HE = −m5·S + m6  ⇒  Sb = (m6 − HEb)/m5.
  const Sb = (p.m6 - p.HEb) / p.m5;
  const m30 = (p.HEb * p.m1) / (1 - p.HEb);
  // Il' = 0 and Ip' = 0 at basal: Ilb = (m2 + m4)·Ipb/m1 and Sb = (m1 + m30)·Ilb − m2·Ipb.
  const ratio = ((p.m1 + m30) * (p.m2 + p.m4)) / p.m1 - p.m2;
  const Ipb = Sb / ratio;
  return { Sb, m30, Ipb, Ib: Ipb / p.Vi, Ilb: ((p.m2 + p.m4) * Ipb) / p.m1, Ipob: Sb / p.gamma };
}

function glucoseTissue(p: DM2007Params, Gpb: number, EGPb: number): number {
  return (p.Fcns - EGPb + p.k1 * Gpb) / p.k2;
}

/**
 * The basal state implied by a parameter set's own kp1 and Vm0 (README "Basal state"): with insulin at
 * its basal (from m5, m6, HEb and the clearances), kp1 = EGPb + kp2·Gpb + kp3·Ib + kp4·Ipob and
 * Vm0 = (EGPb − Fcns)(Km0 + Gtb)/Gtb are two equations in (Gb, EGPb); solved by bisection on Gb in
 * [20, 600] mg/dL. Throws when the set has no basal state there.
 */
export function basalFromParams(p: DM2007Params): T2DBasal {
  const ins = insulinBasal(p);
  const egp = (Gb: number): number => p.kp1 - p.kp2 * p.Vg * Gb - p.kp3 * ins.Ib - p.kp4 * ins.Ipob;
  const residual = (Gb: number): number => {
    const E = egp(Gb);
    const Gtb = glucoseTissue(p, p.Vg * Gb, E);
    return ((E - p.Fcns) * (p.Km0 + Gtb)) / Gtb - p.Vm0;
  };
  let lo = 20;
  let hi = 600;
  const rLo = residual(lo);
  if (!(Math.sign(rLo) !== Math.sign(residual(hi)))) {
    throw new TwinlabError('INVALID_ARGUMENT', 'basalFromParams: kp1 and Vm0 admit no basal glucose in [20, 600] mg/dL');
  }
  for (let i = 0; i < 200 && hi - lo > 1e-13; i++) {
    const mid = 0.5 * (lo + hi);
    if (Math.sign(residual(mid)) === Math.sign(rLo)) lo = mid;
    else hi = mid;
  }
  const Gb = 0.5 * (lo + hi);
  const EGPb = egp(Gb);
  const Gpb = p.Vg * Gb;
  return { ...ins, Gb, EGPb, Gpb, Gtb: glucoseTissue(p, Gpb, EGPb) };
}

/**
 * A parameter set re-based on a chosen basal glucose and endogenous production: kp1 and Vm0 are
 * recomputed from the steady-state identities (as the paper defines them), every other value is kept.
 * Used by the generated cohort (each person rests at their own fasting glucose).
 */
export function withBasal(p: DM2007Params, Gb: number, EGPb: number): { params: DM2007Params; basal: T2DBasal } {
  if (!(Gb > 0) || !(EGPb > p.Fcns)) {
    throw new TwinlabError('INVALID_ARGUMENT', `withBasal: need Gb > 0 and EGPb > Fcns (${p.Fcns}), got Gb ${describeValue(Gb)}, EGPb ${describeValue(EGPb)}`);
  }
  const ins = insulinBasal(p);
  const Gpb = p.Vg * Gb;
  const Gtb = glucoseTissue(p, Gpb, EGPb);
  if (!(Gtb > 0)) throw new TwinlabError('INVALID_ARGUMENT', `withBasal: no basal tissue glucose (Gtb = ${Gtb}) for Gb ${Gb}, EGPb ${EGPb}`);
  const kp1 = EGPb + p.kp2 * Gpb + p.kp3 * ins.Ib + p.kp4 * ins.Ipob;
  const Vm0 = ((EGPb - p.Fcns) * (p.Km0 + Gtb)) / Gtb;
  return { params: { ...p, kp1, Vm0 }, basal: { ...ins, Gb, EGPb, Gpb, Gtb } };
}

/** The basal state vector (empty gut, Y = 0, X = 0, remote insulin at Ib, Gs = Gp). */
export function basalState(b: T2DBasal, out: Float64Array = new Float64Array(T2D_STATE_DIM)): Float64Array {
  out.fill(0);
  out[T2D.Gp] = b.Gpb;
  out[T2D.Gt] = b.Gtb;
  out[T2D.Il] = b.Ilb;
  out[T2D.Ip] = b.Ipb;
  out[T2D.I1] = b.Ib;
  out[T2D.Id] = b.Ib;
  out[T2D.Ipo] = b.Ipob;
  out[T2D.Gs] = b.Gpb;
  return out;
}

/**
 * Right-hand side of the model (README "Equations"), allocation-free: parameters and inputs are
 * number fields, `rhs` is a bound arrow function for engine/ode.ts.
 *
 * Inputs held constant by the caller over an integration interval: `ingestion` (mg/min of
 * carbohydrate swallowed), `dose` (D, mg: the meal size the gastric-emptying curve scales to, set at
 * the start of each meal), `absorption` (the meal's rate multiplier on kgri, kmax, kmin and kabs,
 * foods.ts; 1 = the Table 1 kinetics).
 */
export class DM2007Model {
  readonly p: DM2007Params;
  /** Basal plasma glucose h (β-cell threshold) and basal secretion Sb, Ib for X. */
  h: number;
  Sb: number;
  Ib: number;
  ingestion = 0;
  dose = 0;
  absorption = 1;
  readonly rhs: OdeRhs;

  constructor(params: DM2007Params, basal: T2DBasal) {
    this.p = { ...params };
    this.h = basal.Gb;
    this.Sb = basal.Sb;
    this.Ib = basal.Ib;
    const p = this.p;
    this.rhs = (_t, x, dx) => {
      const s = this.absorption;
      const Qsto1 = x[0] as number;
      const Qsto2 = x[1] as number;
      const Qgut = x[2] as number;
      const Gp = x[3] as number;
      const Gt = x[4] as number;
      const Il = x[5] as number;
      const Ip = x[6] as number;
      const X = x[7] as number;
      const I1 = x[8] as number;
      const Id = x[9] as number;
      const Ipo = x[10] as number;
      const Y = x[11] as number;
      const Gs = x[12] as number;

      // Gastric emptying (Dalla Man, Camilleri & Cobelli 2006), scaled by the meal's absorption factor.
      const kmax = p.kmax * s;
      const kmin = p.kmin * s;
      const kabs = p.kabs * s;
      const D = this.dose;
      let kempt = kmax;
      if (D > 0) {
        const qsto = Qsto1 + Qsto2;
        const a = 5 / (2 * D * (1 - p.b));
        const c = 5 / (2 * D * p.d);
        kempt = kmin + ((kmax - kmin) / 2) * (Math.tanh(a * (qsto - p.b * D)) - Math.tanh(c * (qsto - p.d * D)) + 2);
      }
      dx[0] = -p.kgri * s * Qsto1 + this.ingestion;
      dx[1] = p.kgri * s * Qsto1 - kempt * Qsto2;
      dx[2] = kempt * Qsto2 - kabs * Qgut;
      const Ra = (p.f * kabs * Qgut) / p.BW;

      // Glucose subsystem.
      const egp = p.kp1 - p.kp2 * Gp - p.kp3 * Id - p.kp4 * Ipo;
      const EGP = egp > 0 ? egp : 0;
      const E = Gp > p.ke2 ? p.ke1 * (Gp - p.ke2) : 0;
      const Uid = ((p.Vm0 + p.Vmx * X) * Gt) / (p.Km0 + Gt);
      const dGp = EGP + Ra - p.Fcns - E - p.k1 * Gp + p.k2 * Gt;
      dx[3] = dGp;
      dx[4] = -Uid + p.k1 * Gp - p.k2 * Gt;

      // β-cell secretion into the portal vein: static (Y) and dynamic (K·dG/dt when glucose rises).
      const G = Gp / p.Vg;
      const dG = dGp / p.Vg;
      const Sb = this.Sb;
      let Spo = dG > 0 ? Y + p.K * dG + Sb : Y + Sb;
      if (Spo < 0) Spo = 0;
      const target = p.beta * (G - this.h);
      dx[11] = target >= -Sb ? -p.alpha * (Y - target) : -p.alpha * Y - p.alpha * Sb;
      dx[10] = -p.gamma * Ipo + Spo;
      const S = p.gamma * Ipo;

      // Insulin kinetics with secretion-dependent hepatic extraction HE = −m5·S + m6 (kept in [0, 0.95]).
      let HE = -p.m5 * S + p.m6;
      if (HE < 0) HE = 0;
      else if (HE > 0.95) HE = 0.95;
      const m3 = (HE * p.m1) / (1 - HE);
      dx[5] = -(p.m1 + m3) * Il + p.m2 * Ip + S;
      dx[6] = -(p.m2 + p.m4) * Ip + p.m1 * Il;
      const I = Ip / p.Vi;
      dx[7] = -p.p2U * X + p.p2U * (I - this.Ib);
      dx[8] = -p.ki * (I1 - I);
      dx[9] = -p.ki * (Id - I1);
      dx[12] = -p.ksc * Gs + p.ksc * Gp;
    };
  }

  /** Rate of appearance of meal glucose, mg/kg/min. */
  rateOfAppearance(x: ArrayLike<number>): number {
    return (this.p.f * this.p.kabs * this.absorption * (x[T2D.Qgut] as number)) / this.p.BW;
  }

  /** Insulin secretion S = γ·Ipo, pmol/kg/min. */
  secretion(x: ArrayLike<number>): number {
    return this.p.gamma * (x[T2D.Ipo] as number);
  }

  /** Endogenous glucose production, mg/kg/min (as it enters the glucose equation). */
  egp(x: ArrayLike<number>): number {
    const p = this.p;
    const v = p.kp1 - p.kp2 * (x[T2D.Gp] as number) - p.kp3 * (x[T2D.Id] as number) - p.kp4 * (x[T2D.Ipo] as number);
    return v > 0 ? v : 0;
  }
}
