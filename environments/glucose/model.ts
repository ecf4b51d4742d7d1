import type { OdeRhs } from '../../engine/ode.js';
import type { PatientParams } from './params.js';

/** Number of states of the model. */
export const STATE_DIM = 13;

/** State indices (simglucose order; CSV columns x0_1 … x0_13). */
export const S = {
  Qsto1: 0,
  Qsto2: 1,
  Qgut: 2,
  Gp: 3,
  Gt: 4,
  Ip: 5,
  X: 6,
  I1: 7,
  Id: 8,
  Il: 9,
  Isc1: 10,
  Isc2: 11,
  Gs: 12,
} as const;

/**
 * Right-hand side of the UVA/Padova S2008 type-1 glucose–insulin model: the meal model of
 * C. Dalla Man, R. A. Rizza, C. Cobelli, "Meal simulation model of the glucose-insulin system",
 * IEEE Trans. Biomed. Eng. 54(10):1740–1749 (2007), in the type-1 form (subcutaneous insulin and
 * glucose) of B. P. Kovatchev, M. Breton, C. Dalla Man, C. Cobelli, "In silico preclinical trials:
 * a proof of concept in closed-loop control of type 1 diabetes", J. Diabetes Sci. Technol.
 * 3(1):44–55 (2009), written exactly as the simglucose v0.2.11 implementation (MIT) evaluates it.
 *
 * Inputs (held constant by the caller over each integration interval):
 *   insulin u [U/min] → u(t) = insulin·6000/BW pmol/kg/min;  CHO eaten [g/min] → d(t) = 1000·CHO mg/min;
 *   D̄ [mg] = Qsto at the start of the eating bout + 1000·grams eaten in the bout (set by T1DPatient).
 *
 * Gastric emptying (Dalla Man et al. 2006): Qsto = Qsto1 + Qsto2;
 *   kgut = kmin + (kmax−kmin)/2 · [tanh(α(Qsto − b·D̄)) − tanh(β(Qsto − d·D̄)) + 2],
 *   α = 5/(2·D̄·(1−b)), β = 5/(2·D̄·d)  if D̄ > 0, else kgut = kmax.
 *   Qsto1' = −kmax·Qsto1 + d(t);  Qsto2' = kmax·Qsto1 − kgut·Qsto2;  Qgut' = kgut·Qsto2 − kabs·Qgut;
 *   Ra = f·kabs·Qgut/BW [mg/kg/min].
 * Glucose: EGP = kp1 − kp2·Gp − kp3·Id (enters as max(EGP, 0)); Uii = Fsnc;
 *   E = ke1·(Gp − ke2) if Gp > ke2 else 0;  Uid = (Vm0 + Vmx·X)·Gt/(Km0 + Gt);
 *   Gp' = max(EGP,0) + Ra − Uii − E − k1·Gp + k2·Gt;  Gt' = −Uid + k1·Gp − k2·Gt.
 * Insulin: Ip' = −(m2+m4)·Ip + m1·Il + ka1·Isc1 + ka2·Isc2;  Il' = −(m1+m30)·Il + m2·Ip;  I = Ip/Vi;
 *   X' = −p2u·X + p2u·(I − Ib);  I1' = −ki·(I1 − I);  Id' = −ki·(Id − I1).
 * Subcutaneous: Isc1' = u(t) − (ka1+kd)·Isc1;  Isc2' = kd·Isc1 − ka2·Isc2;  Gs' = −ksc·Gs + ksc·Gp.
 * Guards (as simglucose): the derivatives of Gp, Gt, Ip, Il, Isc1, Isc2, Gs are multiplied by
 * (x ≥ 0), i.e. zeroed while the state is negative. Qsto1, Qsto2, Qgut, X, I1, Id have no guard.
 *
 * Allocation-free: parameters are plain number fields, inputs are mutable fields, `rhs` is a bound
 * arrow function suitable for engine/ode.ts integrators.
 */
export class T1DModel {
  BW = 0;
  kabs = 0;
  kmax = 0;
  kmin = 0;
  b = 0;
  d = 0;
  f = 0;
  Vi = 0;
  Ib = 0;
  Vmx = 0;
  Km0 = 0;
  k1 = 0;
  k2 = 0;
  p2u = 0;
  m1 = 0;
  m2 = 0;
  m4 = 0;
  m30 = 0;
  ki = 0;
  kp1 = 0;
  kp2 = 0;
  kp3 = 0;
  ke1 = 0;
  ke2 = 0;
  Fsnc = 0;
  Vm0 = 0;
  kd = 0;
  ksc = 0;
  ka1 = 0;
  ka2 = 0;

  /** Insulin input, U/min. */
  insulin = 0;
  /** Carbohydrate eaten, g/min. */
  cho = 0;
  /** D̄, mg: the meal size seen by the gastric-emptying function. */
  dbar = 0;

  readonly rhs: OdeRhs;

  constructor(params: PatientParams) {
    this.setParams(params);
    this.rhs = (_t, x, dx) => {
      const BW = this.BW;
      const dIn = this.cho * 1000; // g/min → mg/min
      const u = (this.insulin * 6000) / BW; // U/min → pmol/kg/min
      const x0 = x[0] as number;
      const x1 = x[1] as number;
      const x2 = x[2] as number;
      const Gp = x[3] as number;
      const Gt = x[4] as number;
      const Ip = x[5] as number;
      const X = x[6] as number;
      const I1 = x[7] as number;
      const Id = x[8] as number;
      const Il = x[9] as number;
      const Isc1 = x[10] as number;
      const Isc2 = x[11] as number;
      const Gs = x[12] as number;

      const kmax = this.kmax;
      const Dbar = this.dbar;
      let kgut: number;
      if (Dbar > 0) {
        const qsto = x0 + x1;
        const aa = 5 / (2 * Dbar * (1 - this.b));
        const cc = 5 / (2 * Dbar * this.d);
        kgut = this.kmin + ((kmax - this.kmin) / 2) * (Math.tanh(aa * (qsto - this.b * Dbar)) - Math.tanh(cc * (qsto - this.d * Dbar)) + 2);
      } else {
        kgut = kmax;
      }
      dx[0] = -kmax * x0 + dIn;
      dx[1] = kmax * x0 - kgut * x1;
      dx[2] = kgut * x1 - this.kabs * x2;

      const Ra = (this.f * this.kabs * x2) / BW;
      const egp = this.kp1 - this.kp2 * Gp - this.kp3 * Id;
      const E = Gp > this.ke2 ? this.ke1 * (Gp - this.ke2) : 0;
      const dGp = Math.max(egp, 0) + Ra - this.Fsnc - E - this.k1 * Gp + this.k2 * Gt;
      dx[3] = Gp >= 0 ? dGp : 0;
      const Uid = ((this.Vm0 + this.Vmx * X) * Gt) / (this.Km0 + Gt);
      const dGt = -Uid + this.k1 * Gp - this.k2 * Gt;
      dx[4] = Gt >= 0 ? dGt : 0;

      const ka1 = this.ka1;
      const ka2 = this.ka2;
      const dIp = -(this.m2 + this.m4) * Ip + this.m1 * Il + ka1 * Isc1 + ka2 * Isc2;
      dx[5] = Ip >= 0 ? dIp : 0;
      const I = Ip / this.Vi;
      dx[6] = -this.p2u * X + this.p2u * (I - this.Ib);
      dx[7] = -this.ki * (I1 - I);
      dx[8] = -this.ki * (Id - I1);
      const dIl = -(this.m1 + this.m30) * Il + this.m2 * Ip;
      dx[9] = Il >= 0 ? dIl : 0;
      const dIsc1 = u - (ka1 + this.kd) * Isc1;
      dx[10] = Isc1 >= 0 ? dIsc1 : 0;
      const dIsc2 = this.kd * Isc1 - ka2 * Isc2;
      dx[11] = Isc2 >= 0 ? dIsc2 : 0;
      const dGs = -this.ksc * Gs + this.ksc * Gp;
      dx[12] = Gs >= 0 ? dGs : 0;
    };
  }

  /** Copy the parameters the dynamics read. */
  setParams(p: PatientParams): void {
    this.BW = p.BW;
    this.kabs = p.kabs;
    this.kmax = p.kmax;
    this.kmin = p.kmin;
    this.b = p.b;
    this.d = p.d;
    this.f = p.f;
    this.Vi = p.Vi;
    this.Ib = p.Ib;
    this.Vmx = p.Vmx;
    this.Km0 = p.Km0;
    this.k1 = p.k1;
    this.k2 = p.k2;
    this.p2u = p.p2u;
    this.m1 = p.m1;
    this.m2 = p.m2;
    this.m4 = p.m4;
    this.m30 = p.m30;
    this.ki = p.ki;
    this.kp1 = p.kp1;
    this.kp2 = p.kp2;
    this.kp3 = p.kp3;
    this.ke1 = p.ke1;
    this.ke2 = p.ke2;
    this.Fsnc = p.Fsnc;
    this.Vm0 = p.Vm0;
    this.kd = p.kd;
    this.ksc = p.ksc;
    this.ka1 = p.ka1;
    this.ka2 = p.ka2;
  }

  /** Rate of appearance of meal glucose in plasma, mg/kg/min, for state x. */
  rateOfAppearance(x: ArrayLike<number>): number {
    return (this.f * this.kabs * (x[S.Qgut] as number)) / this.BW;
  }
}
