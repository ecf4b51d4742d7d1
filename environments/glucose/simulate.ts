import { describeValue, TwinlabError } from '../../engine/errors.js';
import type { PatientParams } from './params.js';
import { EAT_RATE, type IntegratorName, type PatientOptions, T1DPatient } from './patient.js';

export interface OpenLoopMeal {
  /** Minute of the announcement (eaten at 5 g/min from then). */
  minute: number;
  grams: number;
}

export interface OpenLoopBolus {
  /** A bolus of B units at minute t is infused as B U/min during [t, t+1), on top of basal. */
  minute: number;
  units: number;
}

export interface OpenLoopRequest {
  patient: PatientParams;
  /** Simulated minutes N; the result has N + 1 rows (minutes 0…N). */
  minutes: number;
  meals?: readonly OpenLoopMeal[];
  boluses?: readonly OpenLoopBolus[];
  /** Basal insulin, U/min (e.g. basalRate(patient)). */
  basal: number;
  integrator?: IntegratorName;
  /** Further integrator options (rk4Step, rtol, …). */
  options?: Omit<PatientOptions, 'integrator'>;
}

/** Columnar result; row t describes minute t. */
export interface OpenLoopResult {
  patient: string;
  minute: Int32Array;
  /** Plasma glucose Gp/Vg at the start of the minute, mg/dL. */
  bg: Float64Array;
  /** Subcutaneous glucose Gs/Vg at the start of the minute, mg/dL. */
  gsub: Float64Array;
  /** Insulin infused over [t, t+1), U/min (basal + boluses). */
  insulin: Float64Array;
  /** Carbohydrate eaten over [t, t+1), g/min. */
  cho: Float64Array;
}

function checkEvent(kind: string, i: number, minute: number, amount: number, amountName: string, minutes: number): void {
  if (!Number.isInteger(minute) || minute < 0 || minute > minutes) {
    throw new TwinlabError('INVALID_ARGUMENT', `${kind}[${i}].minute must be an integer in [0, ${minutes}], got ${describeValue(minute)}`);
  }
  if (!Number.isFinite(amount) || amount < 0) {
    throw new TwinlabError('INVALID_ARGUMENT', `${kind}[${i}].${amountName} must be a finite number ≥ 0, got ${describeValue(amount)}`);
  }
}

/**
 * Open-loop simulation of one patient: constant basal, boluses and announced meals, no sensor noise,
 * no pump quantisation. The last row (minute N) carries the inputs that would apply over [N, N+1).
 */
export function simulateOpenLoop(request: OpenLoopRequest): OpenLoopResult {
  const { patient, minutes, basal, meals = [], boluses = [] } = request;
  if (!Number.isInteger(minutes) || minutes < 0) {
    throw new TwinlabError('INVALID_ARGUMENT', `minutes must be a non-negative integer, got ${describeValue(minutes)}`);
  }
  if (!Number.isFinite(basal) || basal < 0) {
    throw new TwinlabError('INVALID_ARGUMENT', `basal must be a finite rate ≥ 0 U/min, got ${describeValue(basal)}`);
  }
  const n = minutes + 1;
  const announced = new Float64Array(n);
  const insulin = new Float64Array(n).fill(basal);
  meals.forEach((m, i) => {
    checkEvent('meals', i, m.minute, m.grams, 'grams', minutes);
    announced[m.minute] = (announced[m.minute] as number) + m.grams;
  });
  boluses.forEach((b, i) => {
    checkEvent('boluses', i, b.minute, b.units, 'units', minutes);
    insulin[b.minute] = (insulin[b.minute] as number) + b.units;
  });

  const sim = new T1DPatient(patient, { ...request.options, integrator: request.integrator ?? 'rk4' });
  const minute = new Int32Array(n);
  const bg = new Float64Array(n);
  const gsub = new Float64Array(n);
  const cho = new Float64Array(n);
  for (let t = 0; t < n; t++) {
    minute[t] = t;
    bg[t] = sim.plasmaGlucose;
    gsub[t] = sim.subcutaneousGlucose;
    if (t < minutes) {
      sim.step(insulin[t] as number, announced[t] as number);
      cho[t] = sim.carbsEatenLastStep;
    } else {
      cho[t] = Math.min(EAT_RATE, sim.plannedCarbs + (announced[t] as number));
    }
  }
  return { patient: patient.name, minute, bg, gsub, insulin, cho };
}
