import { S, STATE_DIM } from '../../environments/glucose/model.js';
import type { PatientParams } from '../../environments/glucose/params.js';
import { T1DPatient } from '../../environments/glucose/patient.js';

/** Inputs of a person's day, one value per 5-minute slot (datasets/types.ts grid rule). */
export interface SlotInputs {
  basalUPerH: ArrayLike<number>;
  bolusU: ArrayLike<number>;
  carbsG: ArrayLike<number>;
}

export const SLOT_MIN = 5;

/**
 * Integration steps used for personal twins (minutes): RK4 at 1 min, 0.25 min while eating. Their
 * error against Dormand–Prince at rtol 1e-10 is measured by test/twinning/glucose/simulate.test.ts
 * (< 0.5 mg/dL over a meal day), far below the CGM error the likelihood allows (σ ≈ 10 mg/dL), at
 * about twice the speed of the glucose env's default (0.5 / 0.05 min).
 */
export const TWIN_RK4_STEP = 1;
export const TWIN_RK4_EATING_STEP = 0.25;

/**
 * Initial state for a fit window: insulin subsystem at the basal steady state of `p` (which
 * patientForTheta derives from the basal rate in effect), glucose at the first CGM reading —
 * plasma and interstitial glucose equal to it, tissue glucose at its equilibrium with plasma for
 * X = 0: k2·Gt² + (k2·Km0 + Vm0 − k1·Gp)·Gt − k1·Gp·Km0 = 0 (positive root of dGt/dt = 0,
 * model.ts). The stomach and gut are empty (the data rules start the window ≥ 4 h after the last
 * meal and bolus, as ReplayBG requires).
 */
export function initialStateFromCgm(p: PatientParams, cgm0: number, out = new Float64Array(STATE_DIM)): Float64Array {
  out.set(p.x0);
  const gp = cgm0 * p.Vg;
  const B = p.k2 * p.Km0 + p.Vm0 - p.k1 * gp;
  const gt = (-B + Math.sqrt(B * B + 4 * p.k2 * p.k1 * gp * p.Km0)) / (2 * p.k2);
  out[S.Qsto1] = 0;
  out[S.Qsto2] = 0;
  out[S.Qgut] = 0;
  out[S.Gp] = gp;
  out[S.Gt] = gt;
  out[S.Gs] = gp;
  return out;
}

/** A T1DPatient at the twin's integration steps. */
export function twinPatient(p: PatientParams, initialState?: ArrayLike<number>): T1DPatient {
  return new T1DPatient(p, { rk4Step: TWIN_RK4_STEP, rk4EatingStep: TWIN_RK4_EATING_STEP, initialState });
}

/** Insulin rate of slot k, U/min: basal plus the bolus spread evenly over the slot. */
export function slotInsulin(inputs: SlotInputs, k: number): number {
  return (inputs.basalUPerH[k] as number) / 60 + (inputs.bolusU[k] as number) / SLOT_MIN;
}

/**
 * Advance `patient` through slot k of `inputs`: carbohydrate announced at the slot's first minute
 * (eaten at ≤ 5 g/min, T1DPatient), the bolus spread evenly over the slot's 5 minutes (the grid rule
 * only says it was given within the slot), basal at its rate. Total insulin and carbohydrate delivered
 * are exactly the logged amounts whatever the integration step (ReplayBG issue #58 class of bug:
 * impulses integrated once per sub-step).
 */
export function stepSlot(patient: T1DPatient, inputs: SlotInputs, k: number): void {
  const insulin = slotInsulin(inputs, k);
  const carbs = inputs.carbsG[k] as number;
  patient.step(insulin, carbs);
  for (let m = 1; m < SLOT_MIN; m++) patient.step(insulin, 0);
}

/**
 * Subcutaneous glucose (mg/dL) at the start of each slot k0 … k1−1, simulated from `x0` at the
 * start of slot k0 through the recorded inputs. Returns false if the integration failed (θ outside
 * the model's stable region), leaving `out` partly written.
 */
export function simulateSlots(p: PatientParams, inputs: SlotInputs, k0: number, k1: number, x0: ArrayLike<number>, out: Float64Array): boolean {
  const patient = twinPatient(p, x0);
  try {
    for (let k = k0; k < k1; k++) {
      out[k - k0] = patient.subcutaneousGlucose;
      stepSlot(patient, inputs, k);
    }
  } catch {
    return false;
  }
  return true;
}
