import type { Policy } from '../policy.js';
import { registerPolicy } from '../registry.js';

/**
 * Rule baselines for `hospital/ward-v1` (action = the nurses' serving rule for the next hour):
 * - `hospital/fcfs`: always first come, first served (earliest due task first).
 * - `hospital/news2-acuity`: always acuity first — the task of the patient with the highest observed
 *   NEWS2 score (Royal College of Physicians 2017, National Early Warning Score 2) first.
 * - `hospital/antibiotics-first`: first antibiotic doses first (Surviving Sepsis Campaign 2021: within
 *   1 h when shock or sepsis is probable), then first come, first served.
 */
const RULES = [
  { name: 'hospital/fcfs', action: 0, description: 'Nurses serve the earliest due task first (first come, first served)' },
  { name: 'hospital/news2-acuity', action: 1, description: 'Nurses serve the patient with the highest observed NEWS2 score first (RCP 2017)' },
  { name: 'hospital/antibiotics-first', action: 2, description: 'Nurses give pending first antibiotic doses first, then first come, first served' },
] as const;

class FixedRule implements Policy<number> {
  readonly kind = 'protocol' as const;
  constructor(
    readonly name: string,
    private readonly action: number,
  ) {}
  act(): number {
    return this.action;
  }
}

export function registerHospitalPolicies(): void {
  for (const r of RULES) {
    registerPolicy({ name: r.name, description: r.description, appliesTo: ['hospital/ward-v1'], create: () => new FixedRule(r.name, r.action) });
  }
}
