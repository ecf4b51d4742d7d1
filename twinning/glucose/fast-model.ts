import { TwinlabError } from '../../engine/errors.js';
import { S } from '../../environments/glucose/model.js';
import type { PatientParams } from '../../environments/glucose/params.js';
import { T1DPatient } from '../../environments/glucose/patient.js';

/**
 * A fast, exact-structure evaluation of the UVA/Padova S2008 model (environments/glucose/model.ts)
 * for identification and filtering, where the model runs tens of thousands of times per fit.
 *
 * The 13 states split into three parts that the model couples only one way:
 *
 * 1. **Stomach** (Qsto1, Qsto2 and the D̄ bookkeeping of the meal): depends on the meals and on
 *    kmax, kmin, b, d only — fixed at population values in a personal twin — so it is the same for
 *    every θ. It runs once per dataset in a T1DPatient (the glucose twin's own code), and what leaves
 *    it each minute, Fₘ = eatenₘ − ΔQstoₘ (mass balance; mg), is stored.
 * 2. **Insulin** z = (Isc1, Isc2, Ip, Il, X, I1, Id): linear with constant coefficients and inputs
 *    u (pmol/kg/min, constant over each 5-min slot) and the constant −p2u·Ib of the X equation:
 *      Isc1' = u − (ka1+kd)·Isc1;  Isc2' = kd·Isc1 − ka2·Isc2;
 *      Ip' = −(m2+m4)·Ip + m1·Il + ka1·Isc1 + ka2·Isc2;  Il' = −(m1+m30)·Il + m2·Ip;
 *      X' = −p2u·X + p2u·(Ip/Vi − Ib);  I1' = −ki·(I1 − Ip/Vi);  Id' = −ki·(Id − I1).
 *    It is advanced exactly over each node interval δ = 2.5 min by the zero-order-hold
 *    discretisation z⁺ = Φz + Γ[u, 1]ᵀ, [Φ Γ; 0 I] = exp(δ·[A B; 0 0]) (Van Loan 1978, IEEE TAC
 *    23(3)), computed once per θ. The non-negativity guards of model.ts never bind here: inputs are
 *    ≥ 0 and the system is positive.
 * 3. **Gut and glucose** (Qgut, Gp, Gt, Gs): Qgut' = F(t) − kabs·Qgut is solved exactly over each
 *    minute (half a minute to reach the 2.5-min node) with F constant over each minute; Gp, Gt, Gs follow model.ts (EGP floored at 0, renal
 *    excretion above ke2, Michaelis–Menten uptake driven by X, guards at 0) with one classical RK4
 *    step of h = 5 min per slot, whose stage times fall on the 2.5-min nodes where X, Id and Ra are
 *    known exactly. Their fastest rates (k1, k2, ksc, (Vm0+Vmx·X)/Km0) are ≲ 0.15/min, so h·λ ≲ 0.75.
 *    (Measured against Dormand–Prince at rtol 1e-10 over 7 days of six synthetic people: ≤ 0.23 mg/dL;
 *    with two 2.5-min steps it was ≤ 0.06 mg/dL at twice the cost — both far below the CGM error.)
 *
 * test/twinning/glucose/fast-model.test.ts holds it against T1DPatient with Dormand–Prince at
 * rtol 1e-10 on meal days with boluses.
 */

/** The insulin system is stepped to two nodes per slot, at 2.5 and 5 min (`advance` unrolls them). */
const NODE_MIN = 2.5;
const SLOT_MIN = 5;
const ZDIM = 7;
/**
 * Φ is block lower-triangular in the order (Isc1, Isc2, Ip, Il, X, I1, Id): a state depends only on
 * those before it (Ip and Il on each other). Powers of such a matrix keep the zero pattern exactly, so
 * row i of Φ is zero from column ROW_END[i] on and `advance` multiplies only the other 29 of 49 terms.
 */
const ROW_END = [1, 2, 4, 4, 5, 6, 7] as const;

/** Per-θ state: z (7), Qgut, Gp, Gt, Gs. */
export const FAST_STATE_DIM = 11;
const QGUT = 7;
const GP = 8;
const GT = 9;
const GS = 10;

/** exp(M) of an n×n row-major matrix by scaling and squaring with a degree-16 Taylor series. */
export function expm(M: Float64Array, n: number): Float64Array {
  let norm = 0;
  for (let i = 0; i < n; i++) {
    let row = 0;
    for (let j = 0; j < n; j++) row += Math.abs(M[i * n + j] as number);
    norm = Math.max(norm, row);
  }
  const s = Math.max(0, Math.ceil(Math.log2(norm / 0.5)));
  const scale = 2 ** -s;
  const A = M.map((v) => v * scale);
  const result = new Float64Array(n * n);
  const term = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    result[i * n + i] = 1;
    term[i * n + i] = 1;
  }
  const tmp = new Float64Array(n * n);
  for (let k = 1; k <= 16; k++) {
    matmul(term, A, tmp, n);
    for (let i = 0; i < n * n; i++) {
      term[i] = (tmp[i] as number) / k;
      result[i] = (result[i] as number) + (term[i] as number);
    }
  }
  for (let k = 0; k < s; k++) {
    matmul(result, result, tmp, n);
    result.set(tmp);
  }
  return result;
}

function matmul(a: Float64Array, b: Float64Array, out: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += (a[i * n + k] as number) * (b[k * n + j] as number);
      out[i * n + j] = s;
    }
  }
}

/**
 * Minute-by-minute mass (mg) leaving the stomach for the gut, for every minute of slots 0 … n−1 of
 * `inputs` (n·5 values), starting with an empty stomach. `params` supplies kmax, kmin, b, d (and
 * the rest of a patient for the T1DPatient that integrates it; its other states do not feed back).
 */
export function stomachOutflow(params: PatientParams, carbsG: ArrayLike<number>, n: number, from = 0): Float64Array {
  const stomach = new StomachTrack(params);
  const out = new Float64Array(n * SLOT_MIN);
  for (let k = 0; k < n; k++) stomach.advanceSlot(carbsG[from + k] as number, out, k * SLOT_MIN);
  return out;
}

/** A stomach advanced slot by slot (the filter and forecasts share one across particles). */
export class StomachTrack {
  private readonly patient: T1DPatient;
  constructor(params: PatientParams) {
    // Basal insulin keeps the (unused) glucose states of this patient in range; the stomach is
    // independent of them.
    this.patient = new T1DPatient(params, { rk4Step: 0.5, rk4EatingStep: 0.05 });
  }

  /** Advance one 5-min slot with `carbsG` announced at its first minute; writes 5 outflows at out[at…]. */
  advanceSlot(carbsG: number, out: Float64Array, at: number): void {
    const p = this.patient;
    const basal = (p.params.u2ss * p.params.BW) / 6000;
    for (let m = 0; m < SLOT_MIN; m++) {
      const before = (p.state[S.Qsto1] as number) + (p.state[S.Qsto2] as number);
      p.step(basal, m === 0 ? carbsG : 0);
      const after = (p.state[S.Qsto1] as number) + (p.state[S.Qsto2] as number);
      out[at + m] = 1000 * p.carbsEatenLastStep + before - after;
    }
  }

  /** Grams announced but not yet eaten plus mass in the stomach (mg): zero when nothing is left to empty. */
  get contentMg(): number {
    return 1000 * this.patient.plannedCarbs + (this.patient.state[S.Qsto1] as number) + (this.patient.state[S.Qsto2] as number);
  }

  getState(): ReturnType<T1DPatient['getState']> {
    return this.patient.getState();
  }
  setState(s: ReturnType<T1DPatient['getState']>): void {
    this.patient.setState(s);
  }
}

/** Per-θ constants of the fast model: the discretised insulin system and the glucose parameters. */
export class FastModel {
  readonly p: PatientParams;
  /** Φ (7×7) then Γ (7×2), row-major. */
  private readonly phi = new Float64Array(ZDIM * ZDIM);
  private readonly gamma = new Float64Array(ZDIM * 2);
  private readonly oneSlot = new Float64Array(1);
  /** Exact decay and gain of Qgut' = F − kabs·Qgut over a minute and half a minute with F held. */
  private readonly decayMinute: number;
  private readonly gainMinute: number;
  private readonly decayHalf: number;
  private readonly gainHalf: number;
  private readonly raScale: number;
  private readonly uScale: number;
  // glucose parameters as own fields (hot path)
  private kp1: number;
  private readonly kp2: number;
  private kp3: number;
  private readonly ke1: number;
  private readonly ke2: number;
  private readonly Fsnc: number;
  private readonly k1: number;
  private readonly k2: number;
  private readonly Vm0: number;
  private Vmx: number;
  private readonly Km0: number;
  private readonly ksc: number;

  constructor(p: PatientParams) {
    this.p = p;
    this.kp1 = p.kp1;
    this.kp2 = p.kp2;
    this.kp3 = p.kp3;
    this.ke1 = p.ke1;
    this.ke2 = p.ke2;
    this.Fsnc = p.Fsnc;
    this.k1 = p.k1;
    this.k2 = p.k2;
    this.Vm0 = p.Vm0;
    this.Vmx = p.Vmx;
    this.Km0 = p.Km0;
    this.ksc = p.ksc;
    const n = ZDIM + 2;
    const M = new Float64Array(n * n);
    const set = (i: number, j: number, v: number) => {
      M[i * n + j] = (M[i * n + j] as number) + v * NODE_MIN;
    };
    // z = Isc1 0, Isc2 1, Ip 2, Il 3, X 4, I1 5, Id 6; inputs u 7, const 8
    set(0, 0, -(p.ka1 + p.kd));
    set(0, 7, 1);
    set(1, 0, p.kd);
    set(1, 1, -p.ka2);
    set(2, 2, -(p.m2 + p.m4));
    set(2, 3, p.m1);
    set(2, 0, p.ka1);
    set(2, 1, p.ka2);
    set(3, 3, -(p.m1 + p.m30));
    set(3, 2, p.m2);
    set(4, 4, -p.p2u);
    set(4, 2, p.p2u / p.Vi);
    set(4, 8, -p.p2u * p.Ib);
    set(5, 5, -p.ki);
    set(5, 2, p.ki / p.Vi);
    set(6, 6, -p.ki);
    set(6, 5, p.ki);
    const E = expm(M, n);
    for (let i = 0; i < ZDIM; i++) {
      for (let j = 0; j < ZDIM; j++) {
        const v = E[i * n + j] as number;
        if (j >= (ROW_END[i] as number) && v !== 0) throw new TwinlabError('INTERNAL', `Φ[${i}][${j}] = ${v}: the insulin system lost its triangular structure`);
        this.phi[i * ZDIM + j] = v;
      }
      this.gamma[i * 2] = E[i * n + 7] as number;
      this.gamma[i * 2 + 1] = E[i * n + 8] as number;
    }
    this.decayMinute = Math.exp(-p.kabs);
    this.gainMinute = (1 - this.decayMinute) / p.kabs;
    this.decayHalf = Math.exp(-p.kabs * 0.5);
    this.gainHalf = (1 - this.decayHalf) / p.kabs;
    this.raScale = (p.f * p.kabs) / p.BW;
    this.uScale = 6000 / p.BW;
  }

  /**
   * Scale insulin action (Vmx and kp3, as the twin's SI does) by `factor` relative to the patient's
   * own values, keeping the basal steady state: kp1 = EGPb + kp2·Gpb + kp3·Ib moves with kp3. Used by
   * the filter's slowly varying insulin sensitivity.
   */
  setInsulinSensitivityFactor(factor: number): void {
    const p = this.p;
    this.Vmx = p.Vmx * factor;
    this.kp3 = p.kp3 * factor;
    this.kp1 = p.kp1 + (factor - 1) * p.kp3 * p.Ib;
  }

  /** Full 13-state vector (model.ts order) → fast state; stomach states are ignored. */
  fromFullState(x: ArrayLike<number>, out: Float64Array): Float64Array {
    out[0] = x[S.Isc1] as number;
    out[1] = x[S.Isc2] as number;
    out[2] = x[S.Ip] as number;
    out[3] = x[S.Il] as number;
    out[4] = x[S.X] as number;
    out[5] = x[S.I1] as number;
    out[6] = x[S.Id] as number;
    out[QGUT] = x[S.Qgut] as number;
    out[GP] = x[S.Gp] as number;
    out[GT] = x[S.Gt] as number;
    out[GS] = x[S.Gs] as number;
    return out;
  }

  /** Subcutaneous glucose of a fast state, mg/dL. */
  gsub(state: ArrayLike<number>): number {
    return (state[GS] as number) / this.p.Vg;
  }

  /**
   * Advance `state` over one slot: insulin rate `insulinUPerMin` (U/min), stomach outflow
   * `outflow[at … at+4]` (mg per minute). Returns false if the state became non-finite.
   */
  stepSlot(state: Float64Array, insulinUPerMin: number, outflow: ArrayLike<number>, at: number): boolean {
    this.oneSlot[0] = insulinUPerMin;
    return this.advance(state, this.oneSlot, outflow, at, 1, null);
  }

  /**
   * Advance `state` over `slots` slots: slot k has insulin rate insulin[k] (U/min) and stomach outflow
   * outflow[at + 5k … at + 5k + 4] (mg per minute). When `gsubOut` is given, gsubOut[k] receives the
   * subcutaneous glucose (mg/dL) at the start of slot k. Stops at the first slot that ends in a
   * non-finite state, leaves that state in `state` and returns false.
   *
   * One loop with Φ, Γ and the gut's exact decay held in locals: this is the likelihood's hot loop
   * (tens of thousands of 7-day windows per fit).
   */
  advance(
    state: Float64Array,
    insulin: ArrayLike<number>,
    outflow: ArrayLike<number>,
    at: number,
    slots: number,
    gsubOut: Float64Array | null,
  ): boolean {
    const f = this.phi;
    const g = this.gamma;
    // Φ by rows, only the entries the triangular structure (ROW_END) leaves non-zero.
    const f00 = f[0] as number;
    const f10 = f[7] as number, f11 = f[8] as number;
    const f20 = f[14] as number, f21 = f[15] as number, f22 = f[16] as number, f23 = f[17] as number;
    const f30 = f[21] as number, f31 = f[22] as number, f32 = f[23] as number, f33 = f[24] as number;
    const f40 = f[28] as number, f41 = f[29] as number, f42 = f[30] as number, f43 = f[31] as number, f44 = f[32] as number;
    const f50 = f[35] as number, f51 = f[36] as number, f52 = f[37] as number, f53 = f[38] as number, f54 = f[39] as number;
    const f55 = f[40] as number;
    const f60 = f[42] as number, f61 = f[43] as number, f62 = f[44] as number, f63 = f[45] as number, f64 = f[46] as number;
    const f65 = f[47] as number, f66 = f[48] as number;
    const u0 = g[0] as number, c0 = g[1] as number, u1 = g[2] as number, c1 = g[3] as number;
    const u2 = g[4] as number, c2 = g[5] as number, u3 = g[6] as number, c3 = g[7] as number;
    const u4 = g[8] as number, c4 = g[9] as number, u5 = g[10] as number, c5 = g[11] as number;
    const u6 = g[12] as number, c6 = g[13] as number;
    const dm = this.decayMinute;
    const gm = this.gainMinute;
    const dh = this.decayHalf;
    const gh = this.gainHalf;
    const raScale = this.raScale;
    const uScale = this.uScale;
    const vg = this.p.Vg;
    const h = 2 * NODE_MIN;
    let z0 = state[0] as number, z1 = state[1] as number, z2 = state[2] as number, z3 = state[3] as number;
    let z4 = state[4] as number, z5 = state[5] as number, z6 = state[6] as number;
    let qgut = state[QGUT] as number;
    let gp = state[GP] as number;
    let gt = state[GT] as number;
    let gs = state[GS] as number;
    let finite = true;
    for (let k = 0; k < slots; k++) {
      if (gsubOut !== null) gsubOut[k] = gs / vg;
      const u = (insulin[k] as number) * uScale;
      const o = at + 5 * k;
      // node 0 (0 min): X, Id and Ra at the slot's start
      const x0 = z4;
      const id0 = z6;
      const ra0 = raScale * qgut;
      // node 1 (2.5 min): the exact insulin step; the gut over minutes 0, 1 and the first half of 2
      const n0 = f00 * z0 + u0 * u + c0;
      const n1 = f10 * z0 + f11 * z1 + u1 * u + c1;
      const n2 = f20 * z0 + f21 * z1 + f22 * z2 + f23 * z3 + u2 * u + c2;
      const n3 = f30 * z0 + f31 * z1 + f32 * z2 + f33 * z3 + u3 * u + c3;
      const n4 = f40 * z0 + f41 * z1 + f42 * z2 + f43 * z3 + f44 * z4 + u4 * u + c4;
      const n5 = f50 * z0 + f51 * z1 + f52 * z2 + f53 * z3 + f54 * z4 + f55 * z5 + u5 * u + c5;
      const n6 = f60 * z0 + f61 * z1 + f62 * z2 + f63 * z3 + f64 * z4 + f65 * z5 + f66 * z6 + u6 * u + c6;
      qgut = dm * qgut + gm * (outflow[o] as number);
      qgut = dm * qgut + gm * (outflow[o + 1] as number);
      qgut = dh * qgut + gh * (outflow[o + 2] as number);
      const x1 = n4;
      const id1 = n6;
      const ra1 = raScale * qgut;
      // node 2 (5 min): the second half of minute 2, minutes 3 and 4
      z0 = f00 * n0 + u0 * u + c0;
      z1 = f10 * n0 + f11 * n1 + u1 * u + c1;
      z2 = f20 * n0 + f21 * n1 + f22 * n2 + f23 * n3 + u2 * u + c2;
      z3 = f30 * n0 + f31 * n1 + f32 * n2 + f33 * n3 + u3 * u + c3;
      z4 = f40 * n0 + f41 * n1 + f42 * n2 + f43 * n3 + f44 * n4 + u4 * u + c4;
      z5 = f50 * n0 + f51 * n1 + f52 * n2 + f53 * n3 + f54 * n4 + f55 * n5 + u5 * u + c5;
      z6 = f60 * n0 + f61 * n1 + f62 * n2 + f63 * n3 + f64 * n4 + f65 * n5 + f66 * n6 + u6 * u + c6;
      qgut = dh * qgut + gh * (outflow[o + 2] as number);
      qgut = dm * qgut + gm * (outflow[o + 3] as number);
      qgut = dm * qgut + gm * (outflow[o + 4] as number);
      const x2 = z4;
      const id2 = z6;
      const ra2 = raScale * qgut;
      // one classical RK4 step of h = 5 min for Gp, Gt, Gs; stages at nodes 0, 1 (twice), 2
      const d1p = this.dGp(gp, gt, id0, ra0);
      const d1t = this.dGt(gp, gt, x0);
      const d1s = this.dGs(gp, gs);
      const p2 = gp + 0.5 * h * d1p;
      const t2 = gt + 0.5 * h * d1t;
      const s2 = gs + 0.5 * h * d1s;
      const d2p = this.dGp(p2, t2, id1, ra1);
      const d2t = this.dGt(p2, t2, x1);
      const d2s = this.dGs(p2, s2);
      const p3 = gp + 0.5 * h * d2p;
      const t3 = gt + 0.5 * h * d2t;
      const s3 = gs + 0.5 * h * d2s;
      const d3p = this.dGp(p3, t3, id1, ra1);
      const d3t = this.dGt(p3, t3, x1);
      const d3s = this.dGs(p3, s3);
      const p4 = gp + h * d3p;
      const t4 = gt + h * d3t;
      const s4 = gs + h * d3s;
      const d4p = this.dGp(p4, t4, id2, ra2);
      const d4t = this.dGt(p4, t4, x2);
      const d4s = this.dGs(p4, s4);
      gp += (h / 6) * (d1p + 2 * (d2p + d3p) + d4p);
      gt += (h / 6) * (d1t + 2 * (d2t + d3t) + d4t);
      gs += (h / 6) * (d1s + 2 * (d2s + d3s) + d4s);
      if (!(Number.isFinite(gp) && Number.isFinite(gt) && Number.isFinite(gs))) {
        finite = false;
        break;
      }
    }
    state[0] = z0;
    state[1] = z1;
    state[2] = z2;
    state[3] = z3;
    state[4] = z4;
    state[5] = z5;
    state[6] = z6;
    state[QGUT] = qgut;
    state[GP] = gp;
    state[GT] = gt;
    state[GS] = gs;
    return finite;
  }

  private dGp(gp: number, gt: number, id: number, ra: number): number {
    if (gp < 0) return 0;
    const egp = this.kp1 - this.kp2 * gp - this.kp3 * id;
    const e = gp > this.ke2 ? this.ke1 * (gp - this.ke2) : 0;
    return (egp > 0 ? egp : 0) + ra - this.Fsnc - e - this.k1 * gp + this.k2 * gt;
  }

  private dGt(gp: number, gt: number, x: number): number {
    if (gt < 0) return 0;
    const uid = ((this.Vm0 + this.Vmx * x) * gt) / (this.Km0 + gt);
    return -uid + this.k1 * gp - this.k2 * gt;
  }

  private dGs(gp: number, gs: number): number {
    if (gs < 0) return 0;
    return this.ksc * (gp - gs);
  }
}
