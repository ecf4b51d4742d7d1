import { distributedPatient, distributedTherapy, type PatientParams, type Therapy, unknownPatient } from './params.js';
import { generatedPatientByName, generatedTherapyByName, isGeneratedName } from './virtual-patients.js';

/**
 * Patients by name: the 30 distributed ones (params.ts, data only) or generated ones
 * (virtual-patients.ts). Kept apart from params.ts so that virtual-patients.ts, which reads the
 * distributed patients, and params.ts do not import each other.
 */

/**
 * Parameters of a patient: one of the 30 distributed ones (a fresh copy the caller may modify), or a
 * generated one named `group~s<seed>#<index>` (memoised by virtual-patients.ts: do not mutate it).
 */
export function getPatient(name: string): PatientParams {
  const p = distributedPatient(name);
  if (p !== undefined) return p;
  if (isGeneratedName(name)) return generatedPatientByName(name);
  throw unknownPatient(name);
}

/** Therapy settings (Quest.csv) of a distributed patient, or the derived therapy of a generated one. */
export function getTherapy(name: string): Therapy {
  const t = distributedTherapy(name);
  if (t !== undefined) return t;
  if (isGeneratedName(name)) return generatedTherapyByName(name);
  throw unknownPatient(name);
}
