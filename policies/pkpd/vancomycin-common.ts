import { describeValue, TwinlabError } from '../../engine/errors.js';
import type { PolicyContext } from '../policy.js';

/**
 * What the vancomycin protocols share (policies/pkpd/index.ts, vancomycin-regimen.ts,
 * vancomycin-trough.ts): the env's 12-h decision interval, what a clinician reads from the reset info
 * and the observation, the nearest dose level, and how a per-12-h dose becomes a regimen.
 */
export const TAU_H = 12;

export interface VancoContext {
  doses: number[];
  weight: number;
  mic: number;
  idx: Record<string, number>;
}

const LABELS = ['weight_kg', 'mic_mg_l', 'day', 'last_dose_mg', 'level_predose_mg_l', 'level_peak_mg_l', 'level_trough_mg_l', 'hours_since_levels', 'has_levels'] as const;

export function readContext(context: PolicyContext, who: string): VancoContext {
  const prescription = context.resetInfo.prescription as { weightKg?: number; mic?: number; doseLevelsMg?: number[] } | undefined;
  if (!prescription || !Array.isArray(prescription.doseLevelsMg) || !(typeof prescription.weightKg === 'number' && prescription.weightKg > 0)) {
    throw new TwinlabError('INVALID_STATE', `${who}: reset info of ${context.envId} has no 'prescription' { weightKg, mic, doseLevelsMg }, got ${describeValue(prescription)}`);
  }
  const labels = context.observationSpace.labels ?? [];
  const idx: Record<string, number> = {};
  for (const l of LABELS) {
    const i = labels.indexOf(l);
    if (i < 0) throw new TwinlabError('INVALID_STATE', `${who}: observation of ${context.envId} has no '${l}' component (labels: ${labels.join(', ')})`);
    idx[l] = i;
  }
  return { doses: prescription.doseLevelsMg, weight: prescription.weightKg, mic: prescription.mic ?? 1, idx };
}

/** Index of the decision an observation belongs to (0 at reset), from its `day` (12-h decisions). */
export function decisionIndex(c: VancoContext, observation: Float32Array): number {
  return Math.round(((observation[c.idx.day as number] as number) * 24) / TAU_H);
}

/**
 * The 12-h interval in which the set of levels an observation shows was drawn (its trough at the end of
 * that interval), or −1 when none has been reported yet: decision index − 1 − hours_since_levels / 12.
 * Read from the observation only (`day`, `hours_since_levels`, `has_levels`), so it works whether the
 * levels arrive at the next decision (`pkpd/vancomycin-v1`, hours_since_levels 0) or after a lab
 * turnaround (`pkpd/vancomycin-agents-v0` option `lab`), when hours_since_levels is 12 h or more at the
 * first decision that shows them.
 */
export function levelsInterval(c: VancoContext, observation: Float32Array): number {
  if ((observation[c.idx.has_levels as number] as number) !== 1) return -1;
  return decisionIndex(c, observation) - 1 - Math.round((observation[c.idx.hours_since_levels as number] as number) / TAU_H);
}

/**
 * Per-episode tracker of the levels a protocol has acted on: `next(observation)` is the interval of a set
 * not seen before (the first decision at which it is visible), else −1. Sets are reported in drawing
 * order, so a set is new exactly when its interval is later than the last one seen. With levels reported
 * at the next decision this is the old rule (has_levels and hours_since_levels 0).
 */
export class LevelsSeen {
  private last = -1;
  reset(): void {
    this.last = -1;
  }
  next(c: VancoContext, observation: Float32Array): number {
    const k = levelsInterval(c, observation);
    if (k <= this.last) return -1;
    this.last = k;
    return k;
  }
}

/** Index of the non-zero dose level nearest `mg` (ties to the lower dose). */
export function nearestDoseLevel(doses: readonly number[], mg: number): number {
  let best = -1;
  let dist = Number.POSITIVE_INFINITY;
  for (let k = 0; k < doses.length; k++) {
    const d = doses[k] as number;
    if (d <= 0) continue;
    const e = Math.abs(d - mg);
    if (e < dist - 1e-9 || (Math.abs(e - dist) <= 1e-9 && d < (doses[best] as number))) {
      dist = e;
      best = k;
    }
  }
  if (best < 0) throw new TwinlabError('INVALID_STATE', `vancomycin protocol: no non-zero dose level in [${doses.join(', ')}]`);
  return best;
}

/**
 * A per-12-h dose `mg` as a regimen: the nearest level every 12 h, or — when `mg` is below ¾ of the
 * smallest non-zero level and the env can hold — the smallest k ∈ {1, 2, 3, 4} with k·mg ≥ ¾·smallest,
 * dosing ≈ k·mg every k-th decision and holding in between (q24h, q36h, q48h).
 */
export function regimenFor(doses: readonly number[], mg: number, canHold: boolean): { action: number; intervalSteps: number } {
  const smallest = Math.min(...doses.filter((d) => d > 0));
  let k = 1;
  while (k < 4 && mg * k < 0.75 * smallest) k++;
  return { action: nearestDoseLevel(doses, mg * k), intervalSteps: canHold ? k : 1 };
}
