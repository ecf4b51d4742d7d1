import { TwinlabError } from '../../engine/errors.js';
import type { Policy, PolicyContext } from '../policy.js';
import { decisionIndex, LevelsSeen, nearestDoseLevel, readContext, regimenFor, type VancoContext } from './vancomycin-common.js';

/**
 * Trough-guided vancomycin dosing, the practice of the 2009 consensus review (Rybak M, Lomaestro B,
 * Rotschafer JC, et al., *Therapeutic monitoring of vancomycin in adult patients*, Am J Health-Syst
 * Pharm 2009;66(1):82–98), which the 2020 revision replaced with AUC-guided dosing:
 * - start with a weight-based dose — the review gives 15–20 mg/kg of actual body weight every 8–12 h
 *   for normal renal function; here `mgPerKg` (default 15) every 12 h, nearest dose level (as
 *   `pkpd/vancomycin-nomogram`);
 * - monitor troughs, drawn at steady state (the review: just before the fourth dose), and aim at a
 *   trough of 15–20 mg/L for serious infections (`troughLow`, `troughHigh`);
 * - adjustment rule (ours; the review gives no formula): vancomycin is linear, so a steady-state trough
 *   scales with the dose rate — when a measured trough C is outside [low, high], the per-12-h dose
 *   becomes dose·(low + high)/2 / max(C, 1 mg/L), extended to q24–48h when it falls below ¾ of the
 *   smallest level (`regimenFor`, as the AUC-guided protocol does).
 *
 * A trough counts as steady state when at least `steadyDoses` (default 3) decisions of the current
 * regimen precede its draw (a trough drawn before the last change of regimen is not used); it is read
 * at the first decision at which it is visible (after the lab turnaround on `pkpd/vancomycin-agents-v0`).
 * On `pkpd/vancomycin-v1` (levels in every second 12-h interval) the first usable
 * trough is the one drawn at 48 h, before the fifth dose. Only the trough is read (no peak): the point
 * of the comparison is trough-only monitoring.
 */
export interface VancoTroughOptions {
  mgPerKg: number;
  troughLow: number;
  troughHigh: number;
  steadyDoses: number;
}

export class VancoTroughNomogram implements Policy<number> {
  readonly name = 'pkpd/vancomycin-trough';
  readonly kind = 'protocol' as const;
  private context: VancoContext | null = null;
  private action = -1;
  private hold = -1;
  private intervalSteps = 1;
  private phase = 0;
  /** Decision at which the current regimen started. */
  private regimenStart = 0;
  private readonly seen = new LevelsSeen();
  /** Per-12-h dose of the current regimen, mg. */
  private mgPer12h = 0;

  constructor(private readonly options: VancoTroughOptions) {
    if (!(options.troughHigh > options.troughLow)) {
      throw new TwinlabError('INVALID_ARGUMENT', `${this.name}: option troughHigh must exceed troughLow, got ${options.troughLow}–${options.troughHigh}`);
    }
  }

  reset(context: PolicyContext): void {
    this.context = readContext(context, this.name);
    this.action = nearestDoseLevel(this.context.doses, this.options.mgPerKg * this.context.weight);
    this.mgPer12h = this.context.doses[this.action] as number;
    this.hold = this.context.doses.indexOf(0);
    this.intervalSteps = 1;
    this.phase = 0;
    this.regimenStart = 0;
    this.seen.reset();
  }

  act(observation: Float32Array): number {
    const c = this.context;
    if (!c) throw new TwinlabError('INVALID_STATE', `${this.name}: act() before reset()`);
    const at = (label: string): number => observation[c.idx[label] as number] as number;
    const n = decisionIndex(c, observation);
    const k = this.seen.next(c, observation);
    // steady state: the trough (end of interval k) follows ≥ steadyDoses decisions of the current regimen
    if (k >= this.regimenStart && k + 1 - this.regimenStart >= this.options.steadyDoses) {
      const trough = at('level_trough_mg_l');
      const { troughLow: lo, troughHigh: hi } = this.options;
      if (trough < lo || trough > hi) {
        const mg = (this.mgPer12h * (lo + hi)) / 2 / Math.max(trough, 1);
        const r = regimenFor(c.doses, mg, this.hold >= 0);
        this.action = r.action;
        this.intervalSteps = r.intervalSteps;
        this.mgPer12h = (c.doses[r.action] as number) / r.intervalSteps;
        this.phase = 0;
        this.regimenStart = n;
      }
    }
    const dose = this.phase % this.intervalSteps === 0 ? this.action : this.hold;
    this.phase++;
    return dose;
  }
}
