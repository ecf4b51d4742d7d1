import { DM2007_T2D, T2D } from '../../environments/glucose-t2d/model.js';
import { T2DPatient } from '../../environments/glucose-t2d/patient.js';
import type { T2DPersonModel } from './parameters.js';

/**
 * The Dalla Man 2007 model with insulin secretion (environments/glucose-t2d/model.ts) evaluated fast
 * for identification and filtering, where it runs tens of thousands of times per fit.
 *
 * 1. **Stomach** (Qsto1, Qsto2, the dose D of the emptying curve): depends on the meals, their
 *    absorption multipliers (foods.ts; GI) and the Table 1 gastric rates only — none estimated — so it
 *    runs once per dataset in the T2D twin's own `T2DPatient` (`T2DStomachTrack`), storing per minute
 *    the mass leaving it, Fₘ = eatenₘ − ΔQstoₘ (mass balance, mg), and the absorption multiplier sₘ in
 *    force (the latest meal's, as T2DPatient applies it to the gut).
 * 2. **Gut**: Qgut' = Fₘ − kabs·sₘ·Qgut, solved exactly within each minute (F and s held).
 * 3. **The rest** (Gp, Gt, Il, Ip, X, I1, Id, Ipo, Y, Gs): the model's right-hand side as model.ts
 *    writes it (EGP floored at 0, renal excretion above ke2, dynamic secretion only while glucose
 *    rises, the static secretion's floor at −Sb, hepatic extraction kept in [0, 0.95]), one classical
 *    RK4 step per minute, the meal's appearance Ra taken from the exact gut at the stage times.
 *    The fastest rate of this part is the liver–plasma insulin exchange, ≤ 2.2/min for the Table 1
 *    T2D set (hepatic extraction ≤ m6), inside RK4's stability limit 2.78 at h = 1 min; the twin's
 *    reference, T2DPatient, uses 0.5 min. test/twinning/glucose-t2d/fast-model.test.ts holds the two
 *    together on meal days.
 */

/** Per-θ state: Qgut, Gp, Gt, Il, Ip, X (5), I1, Id, Ipo, Y (9), Gs. */
export const T2D_FAST_DIM = 11;
const QGUT = 0;
const GP = 1;
const GT = 2;
const IL = 3;
const IP = 4;
const I1 = 6;
const ID = 7;
const IPO = 8;
const GS = 10;
const ODE_DIM = 10;
const SLOT_MIN = 5;

/** Minute-by-minute stomach outflow and absorption multiplier, advanced slot by slot. */
export class T2DStomachTrack {
  private readonly patient: T2DPatient;
  constructor() {
    // Only the stomach of this patient is read; its gastric rates are Table 1's, as every θ's are.
    this.patient = new T2DPatient({ ...DM2007_T2D });
  }

  /**
   * Advance one 5-min slot with `carbsG` (absorption multiplier `absorption`) starting at its first
   * minute; writes 5 outflows (mg) at outflow[at…] and the multipliers in force at absorption[at…].
   */
  advanceSlot(carbsG: number, absorption: number, outflow: Float64Array, rate: Float64Array, at: number): void {
    const p = this.patient;
    if (carbsG > 0) p.eat({ carbsG, absorption });
    for (let m = 0; m < SLOT_MIN; m++) {
      const s = p.state;
      const before = (s[T2D.Qsto1] as number) + (s[T2D.Qsto2] as number);
      const ingested = p.ingestedMg;
      p.step();
      outflow[at + m] = p.ingestedMg - ingested + before - ((s[T2D.Qsto1] as number) + (s[T2D.Qsto2] as number));
      rate[at + m] = p.model.absorption;
    }
    // the glucose part of this patient is never read: keep it at rest so it cannot overflow
    p.state[T2D.Qgut] = 0;
  }

  getState(): ReturnType<T2DPatient['getState']> {
    return this.patient.getState();
  }
  setState(s: ReturnType<T2DPatient['getState']>): void {
    this.patient.setState(s);
  }
}

/** Stomach outflow and absorption multipliers for slots 0 … n−1 of per-slot meals (n·5 values each). */
export function t2dStomachInputs(carbsG: ArrayLike<number>, absorption: ArrayLike<number>, n: number): { outflow: Float64Array; rate: Float64Array } {
  const track = new T2DStomachTrack();
  const outflow = new Float64Array(n * SLOT_MIN);
  const rate = new Float64Array(n * SLOT_MIN);
  for (let k = 0; k < n; k++) track.advanceSlot(carbsG[k] as number, absorption[k] as number, outflow, rate, k * SLOT_MIN);
  return { outflow, rate };
}

/** Per-θ constants and the allocation-free slot step. */
export class T2DFastModel {
  readonly person: T2DPersonModel;
  // parameters as own fields (hot path)
  private readonly Vg: number;
  private readonly k1: number;
  private readonly k2: number;
  private readonly invVg: number;
  private readonly invVi: number;
  private readonly m1: number;
  private readonly m2: number;
  private readonly m4: number;
  private readonly m5: number;
  private readonly m6: number;
  private readonly kabs: number;
  private readonly raScale: number;
  private kp1: number;
  private readonly kp2: number;
  private kp3: number;
  private readonly kp4: number;
  private readonly ki: number;
  private readonly Fcns: number;
  private readonly Vm0: number;
  private Vmx: number;
  private readonly Km0: number;
  private readonly p2U: number;
  private readonly K: number;
  private readonly alpha: number;
  private readonly beta: number;
  private readonly gamma: number;
  private readonly ke1: number;
  private readonly ke2: number;
  private readonly ksc: number;
  private readonly h: number;
  private readonly Sb: number;
  private readonly Ib: number;
  private readonly y = new Float64Array(ODE_DIM);
  private lastRate = Number.NaN;
  private decayHalf = 1;
  private gainHalf = 0;

  constructor(person: T2DPersonModel) {
    this.person = person;
    const p = person.params;
    this.Vg = p.Vg;
    this.k1 = p.k1;
    this.k2 = p.k2;
    this.invVg = 1 / p.Vg;
    this.invVi = 1 / p.Vi;
    this.m1 = p.m1;
    this.m2 = p.m2;
    this.m4 = p.m4;
    this.m5 = p.m5;
    this.m6 = p.m6;
    this.kabs = p.kabs;
    this.raScale = (p.f * p.kabs) / p.BW;
    this.kp1 = p.kp1;
    this.kp2 = p.kp2;
    this.kp3 = p.kp3;
    this.kp4 = p.kp4;
    this.ki = p.ki;
    this.Fcns = p.Fcns;
    this.Vm0 = p.Vm0;
    this.Vmx = p.Vmx;
    this.Km0 = p.Km0;
    this.p2U = p.p2U;
    this.K = p.K;
    this.alpha = p.alpha;
    this.beta = p.beta;
    this.gamma = p.gamma;
    this.ke1 = p.ke1;
    this.ke2 = p.ke2;
    this.ksc = p.ksc;
    this.h = person.basal.Gb;
    this.Sb = person.basal.Sb;
    this.Ib = person.basal.Ib;
  }

  /**
   * Scale insulin action (Vmx and kp3, as the twin's SI does) by `factor` relative to the person's own
   * values, keeping the basal steady state (kp1 = EGPb + kp2·Gpb + kp3·Ib + kp4·Ipob moves with kp3).
   * Used by the living profile's slowly varying insulin sensitivity.
   */
  setInsulinSensitivityFactor(factor: number): void {
    const p = this.person.params;
    this.Vmx = p.Vmx * factor;
    this.kp3 = p.kp3 * factor;
    this.kp1 = p.kp1 + (factor - 1) * p.kp3 * this.Ib;
  }

  /**
   * Initial state of a window (README "Initial conditions"): insulin, secretion and the insulin signals
   * at the person's basal state, the gut empty, plasma and interstitial glucose at the first CGM
   * reading and tissue glucose at its equilibrium with plasma for X = 0 (positive root of
   * dGt/dt = 0: k2·Gt² + (k2·Km0 + Vm0 − k1·Gp)·Gt − k1·Gp·Km0 = 0).
   */
  initialState(cgm0: number, out = new Float64Array(T2D_FAST_DIM)): Float64Array {
    const b = this.person.basal;
    const p = this.person.params;
    const gp = cgm0 * p.Vg;
    const B = p.k2 * p.Km0 + p.Vm0 - p.k1 * gp;
    out.fill(0);
    out[GP] = gp;
    out[GT] = (-B + Math.sqrt(B * B + 4 * p.k2 * p.k1 * gp * p.Km0)) / (2 * p.k2);
    out[IL] = b.Ilb;
    out[IP] = b.Ipb;
    out[I1] = b.Ib;
    out[ID] = b.Ib;
    out[IPO] = b.Ipob;
    out[GS] = gp;
    return out;
  }

  /** Interstitial (CGM) glucose of a state, mg/dL. */
  gsub(state: ArrayLike<number>): number {
    return (state[GS] as number) / this.Vg;
  }

  /** Plasma glucose of a state, mg/dL. */
  plasmaGlucose(state: ArrayLike<number>): number {
    return (state[GP] as number) / this.Vg;
  }

  /** Index of Gp in the state (process noise acts on it). */
  static readonly GP_INDEX = GP;

  /**
   * Advance `state` one 5-min slot with stomach outflow outflow[at … at+4] (mg per minute) and the
   * absorption multipliers rate[at … at+4]. Returns false if the state became non-finite.
   */
  stepSlot(state: Float64Array, outflow: ArrayLike<number>, rate: ArrayLike<number>, at: number): boolean {
    const y = this.y;
    for (let i = 0; i < ODE_DIM; i++) y[i] = state[i + 1] as number;
    let q = state[QGUT] as number;
    for (let m = 0; m < SLOT_MIN; m++) {
      const F = outflow[at + m] as number;
      const s = rate[at + m] as number;
      if (s !== this.lastRate) {
        const r = this.kabs * s;
        this.lastRate = s;
        this.decayHalf = Math.exp(-0.5 * r);
        this.gainHalf = r > 0 ? (1 - this.decayHalf) / r : 0.5;
      }
      // exact gut at t, t + ½, t + 1 (F and s held over the minute)
      const raS = this.raScale * s;
      const ra0 = raS * q;
      const q1 = this.decayHalf * q + this.gainHalf * F;
      const ra1 = raS * q1;
      q = this.decayHalf * q1 + this.gainHalf * F;
      const ra2 = raS * q;
      this.rk4(y, ra0, ra1, ra2);
    }
    state[QGUT] = q;
    for (let i = 0; i < ODE_DIM; i++) state[i + 1] = y[i] as number;
    return Number.isFinite(y[0] as number) && Number.isFinite(y[9] as number) && Number.isFinite(y[3] as number);
  }

  /** One RK4 step of 1 min on y; Ra at the start, middle and end of the minute (scalar code: the hot loop). */
  private rk4(y: Float64Array, ra0: number, ra1: number, ra2: number): void {
    const x0 = y[0] as number;
    const x1 = y[1] as number;
    const x2 = y[2] as number;
    const x3 = y[3] as number;
    const x4 = y[4] as number;
    const x5 = y[5] as number;
    const x6 = y[6] as number;
    const x7 = y[7] as number;
    const x8 = y[8] as number;
    const x9 = y[9] as number;
    this.rhs(x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, ra0);
    const a0 = this.d0,
      a1 = this.d1,
      a2 = this.d2,
      a3 = this.d3,
      a4 = this.d4,
      a5 = this.d5,
      a6 = this.d6,
      a7 = this.d7,
      a8 = this.d8,
      a9 = this.d9;
    this.rhs(
      x0 + 0.5 * a0,
      x1 + 0.5 * a1,
      x2 + 0.5 * a2,
      x3 + 0.5 * a3,
      x4 + 0.5 * a4,
      x5 + 0.5 * a5,
      x6 + 0.5 * a6,
      x7 + 0.5 * a7,
      x8 + 0.5 * a8,
      x9 + 0.5 * a9,
      ra1,
    );
    const b0 = this.d0,
      b1 = this.d1,
      b2 = this.d2,
      b3 = this.d3,
      b4 = this.d4,
      b5 = this.d5,
      b6 = this.d6,
      b7 = this.d7,
      b8 = this.d8,
      b9 = this.d9;
    this.rhs(
      x0 + 0.5 * b0,
      x1 + 0.5 * b1,
      x2 + 0.5 * b2,
      x3 + 0.5 * b3,
      x4 + 0.5 * b4,
      x5 + 0.5 * b5,
      x6 + 0.5 * b6,
      x7 + 0.5 * b7,
      x8 + 0.5 * b8,
      x9 + 0.5 * b9,
      ra1,
    );
    const c0 = this.d0,
      c1 = this.d1,
      c2 = this.d2,
      c3 = this.d3,
      c4 = this.d4,
      c5 = this.d5,
      c6 = this.d6,
      c7 = this.d7,
      c8 = this.d8,
      c9 = this.d9;
    this.rhs(x0 + c0, x1 + c1, x2 + c2, x3 + c3, x4 + c4, x5 + c5, x6 + c6, x7 + c7, x8 + c8, x9 + c9, ra2);
    y[0] = x0 + (a0 + 2 * (b0 + c0) + this.d0) / 6;
    y[1] = x1 + (a1 + 2 * (b1 + c1) + this.d1) / 6;
    y[2] = x2 + (a2 + 2 * (b2 + c2) + this.d2) / 6;
    y[3] = x3 + (a3 + 2 * (b3 + c3) + this.d3) / 6;
    y[4] = x4 + (a4 + 2 * (b4 + c4) + this.d4) / 6;
    y[5] = x5 + (a5 + 2 * (b5 + c5) + this.d5) / 6;
    y[6] = x6 + (a6 + 2 * (b6 + c6) + this.d6) / 6;
    y[7] = x7 + (a7 + 2 * (b7 + c7) + this.d7) / 6;
    y[8] = x8 + (a8 + 2 * (b8 + c8) + this.d8) / 6;
    y[9] = x9 + (a9 + 2 * (b9 + c9) + this.d9) / 6;
  }

  private d0 = 0;
  private d1 = 0;
  private d2 = 0;
  private d3 = 0;
  private d4 = 0;
  private d5 = 0;
  private d6 = 0;
  private d7 = 0;
  private d8 = 0;
  private d9 = 0;

  /** model.ts's right-hand side without the stomach and gut, at (Gp, Gt, Il, Ip, X, I1, Id, Ipo, Y, Gs); derivatives into d0…d9. */
  private rhs(Gp: number, Gt: number, Il: number, Ip: number, X: number, i1: number, Id: number, Ipo: number, Y: number, Gs: number, ra: number): void {
    const egp = this.kp1 - this.kp2 * Gp - this.kp3 * Id - this.kp4 * Ipo;
    const E = Gp > this.ke2 ? this.ke1 * (Gp - this.ke2) : 0;
    const Uid = ((this.Vm0 + this.Vmx * X) * Gt) / (this.Km0 + Gt);
    const dGp = (egp > 0 ? egp : 0) + ra - this.Fcns - E - this.k1 * Gp + this.k2 * Gt;
    this.d0 = dGp;
    this.d1 = -Uid + this.k1 * Gp - this.k2 * Gt;
    const G = Gp * this.invVg;
    const dG = dGp * this.invVg;
    const Sb = this.Sb;
    let Spo = dG > 0 ? Y + this.K * dG + Sb : Y + Sb;
    if (Spo < 0) Spo = 0;
    const target = this.beta * (G - this.h);
    this.d8 = target >= -Sb ? -this.alpha * (Y - target) : -this.alpha * Y - this.alpha * Sb;
    this.d7 = -this.gamma * Ipo + Spo;
    const S = this.gamma * Ipo;
    let HE = -this.m5 * S + this.m6;
    if (HE < 0) HE = 0;
    else if (HE > 0.95) HE = 0.95;
    const m3 = (HE * this.m1) / (1 - HE);
    this.d2 = -(this.m1 + m3) * Il + this.m2 * Ip + S;
    this.d3 = -(this.m2 + this.m4) * Ip + this.m1 * Il;
    const I = Ip * this.invVi;
    this.d4 = -this.p2U * X + this.p2U * (I - this.Ib);
    this.d5 = -this.ki * (i1 - I);
    this.d6 = -this.ki * (Id - i1);
    this.d9 = -this.ksc * Gs + this.ksc * Gp;
  }
}
