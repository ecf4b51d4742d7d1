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
 * 3. **Gut and glucose** (Qgut, Gp, Gt, Gs): Qgut' = F(t) − kabs·Qgut is solved exactly per quarter
 *    minute with F constant over each minute; Gp, Gt, Gs follow model.ts (EGP floored at 0, renal
 *    excretion above ke2, Michaelis–Menten uptake driven by X, guards at 0) with one classical RK4
 *    step of h = 5 min per slot, whose stage times fall on the 2.5-min nodes where X, Id and Ra are
 *    known exactly. Their fastest rates (k1, k2, ksc, (Vm0+Vmx·X)/Km0) are ≲ 0.15/min, so h·λ ≲ 0.75.
 *    (Measured against Dormand–Prince at rtol 1e-10 over 7 days of six synthetic people: ≤ 0.23 mg/dL;
 *    with two 2.5-min steps it was ≤ 0.06 mg/dL at twice the cost — both far below the CGM error.)
 *
 * test/twinning/glucose/fast-model.test.ts holds it against T1DPatient with Dormand–Prince at
 * rtol 1e-10 on meal days with boluses.
 */

export const NODES_PER_SLOT = 2;
export const NODE_MIN = 2.5;
/** Quarter minutes per node. */
const QUARTERS_PER_NODE = 10;
/** RK4 steps of the glucose part per slot (h = 5 / this). */
const GLUCOSE_STEPS = NODES_PER_SLOT / 2;
const SLOT_MIN = 5;
const ZDIM = 7;
/**
 * Φ is block lower-triangular in the order (Isc1, Isc2, Ip, Il, X, I1, Id): a state depends only on
 * those before it (Ip and Il on each other). Powers of such a matrix keep the zero pattern exactly, so
 * row i of Φ is zero from column ROW_END[i] on and the product skips those columns (29 of 49 terms).
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
  private readonly z = new Float64Array(ZDIM);
  private readonly zNew = new Float64Array(ZDIM);
  /** X, Id, Ra at the nodes of a slot (0, 2.5, 5 min). */
  private readonly nodeX = new Float64Array(NODES_PER_SLOT + 1);
  private readonly nodeId = new Float64Array(NODES_PER_SLOT + 1);
  private readonly nodeRa = new Float64Array(NODES_PER_SLOT + 1);
  private readonly decayQuarter: number;
  private readonly gainQuarter: number;
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
    this.decayQuarter = Math.exp(-p.kabs * 0.25);
    this.gainQuarter = (1 - this.decayQuarter) / p.kabs;
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
    const z = this.z;
    const zn = this.zNew;
    const phi = this.phi;
    const gam = this.gamma;
    const u = insulinUPerMin * this.uScale;
    for (let i = 0; i < ZDIM; i++) z[i] = state[i] as number;
    this.nodeX[0] = z[4] as number;
    this.nodeId[0] = z[6] as number;
    let qgut = state[QGUT] as number;
    this.nodeRa[0] = this.raScale * qgut;
    const dq = this.decayQuarter;
    const gq = this.gainQuarter;
    // quarter minutes 0..19; node j (1..4) is at quarter 5j
    for (let j = 1; j <= NODES_PER_SLOT; j++) {
      for (let i = 0; i < ZDIM; i++) {
        let s = (gam[i * 2] as number) * u + (gam[i * 2 + 1] as number);
        const row = i * ZDIM;
        const end = ROW_END[i] as number;
        for (let c = 0; c < end; c++) s += (phi[row + c] as number) * (z[c] as number);
        zn[i] = s;
      }
      z.set(zn);
      for (let q = QUARTERS_PER_NODE * (j - 1); q < QUARTERS_PER_NODE * j; q++) {
        const F = outflow[at + (q >> 2)] as number;
        qgut = dq * qgut + gq * F;
      }
      this.nodeX[j] = z[4] as number;
      this.nodeId[j] = z[6] as number;
      this.nodeRa[j] = this.raScale * qgut;
    }
    let gp = state[GP] as number;
    let gt = state[GT] as number;
    let gs = state[GS] as number;
    const h = 2 * NODE_MIN;
    for (let s = 0; s < GLUCOSE_STEPS; s++) {
      const a = 2 * s;
      // RK4 stages at nodes a, a+1 (twice), a+2
      const d1p = this.dGp(gp, gt, a);
      const d1t = this.dGt(gp, gt, a);
      const d1s = this.dGs(gp, gs);
      const p2 = gp + 0.5 * h * d1p;
      const t2 = gt + 0.5 * h * d1t;
      const s2 = gs + 0.5 * h * d1s;
      const d2p = this.dGp(p2, t2, a + 1);
      const d2t = this.dGt(p2, t2, a + 1);
      const d2s = this.dGs(p2, s2);
      const p3 = gp + 0.5 * h * d2p;
      const t3 = gt + 0.5 * h * d2t;
      const s3 = gs + 0.5 * h * d2s;
      const d3p = this.dGp(p3, t3, a + 1);
      const d3t = this.dGt(p3, t3, a + 1);
      const d3s = this.dGs(p3, s3);
      const p4 = gp + h * d3p;
      const t4 = gt + h * d3t;
      const s4 = gs + h * d3s;
      const d4p = this.dGp(p4, t4, a + 2);
      const d4t = this.dGt(p4, t4, a + 2);
      const d4s = this.dGs(p4, s4);
      gp += (h / 6) * (d1p + 2 * (d2p + d3p) + d4p);
      gt += (h / 6) * (d1t + 2 * (d2t + d3t) + d4t);
      gs += (h / 6) * (d1s + 2 * (d2s + d3s) + d4s);
    }
    for (let i = 0; i < ZDIM; i++) state[i] = z[i] as number;
    state[QGUT] = qgut;
    state[GP] = gp;
    state[GT] = gt;
    state[GS] = gs;
    return Number.isFinite(gp) && Number.isFinite(gt) && Number.isFinite(gs);
  }

  private dGp(gp: number, gt: number, node: number): number {
    if (gp < 0) return 0;
    const egp = this.kp1 - this.kp2 * gp - this.kp3 * (this.nodeId[node] as number);
    const e = gp > this.ke2 ? this.ke1 * (gp - this.ke2) : 0;
    return (egp > 0 ? egp : 0) + (this.nodeRa[node] as number) - this.Fsnc - e - this.k1 * gp + this.k2 * gt;
  }

  private dGt(gp: number, gt: number, node: number): number {
    if (gt < 0) return 0;
    const uid = ((this.Vm0 + this.Vmx * (this.nodeX[node] as number)) * gt) / (this.Km0 + gt);
    return -uid + this.k1 * gp - this.k2 * gt;
  }

  private dGs(gp: number, gs: number): number {
    if (gs < 0) return 0;
    return this.ksc * (gp - gs);
  }
}
