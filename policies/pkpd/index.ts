import { describeValue, TwinlabError } from '../../engine/errors.js';
import type { Policy, PolicyContext } from '../policy.js';
import { registerPolicy } from '../registry.js';
import { decisionIndex, LevelsSeen, nearestDoseLevel, readContext, regimenFor, TAU_H, type VancoContext } from './vancomycin-common.js';
import { checkBayesianOptions, VancoBayesian } from './vancomycin-bayesian.js';
import { VancoRegimen } from './vancomycin-regimen.js';
import { VancoTroughNomogram } from './vancomycin-trough.js';

export { nearestDoseLevel, regimenFor } from './vancomycin-common.js';

/**
 * Vancomycin dosing protocols for `pkpd/vancomycin-v1` and `pkpd/vancomycin-agents-v0` (q12h
 * decisions). They read only what a clinician has: the reset info's `prescription` (weightKg, mic,
 * doseLevelsMg) and the observation components by label (weight_kg, day, last_dose_mg,
 * level_predose/peak/trough_mg_l, hours_since_levels, has_levels, mic_mg_l). The level-reading ones act
 * on a set of levels at the first decision at which it is visible (`LevelsSeen`, vancomycin-common.ts:
 * the set's draw interval from day − hours_since_levels changed), so a lab turnaround delays their
 * adjustment instead of suppressing it; with levels reported at the next decision (v1) that is the
 * decision right after the draw, as before.
 *
 * - Weight-based nomogram: `mgPerKg` (default 15; guideline range 15–20 mg/kg) every 12 h, rounded to
 *   the nearest available dose level; never adjusted.
 * - AUC-guided (two-level, Bayesian-free; Sawchuk & Zaske 1976, as recommended for AUC estimation by
 *   Rybak et al. 2020 when no Bayesian software is available): starts like the nomogram; whenever fresh
 *   levels arrive (pre-dose C0, peak Cp drawn 1 h after the end of the infusion, trough Ct at the end of
 *   the τ = 12 h interval; D is the dose of the interval they were drawn in, from the episode's
 *   last_dose_mg record) it fits a one-compartment model:
 *     ke   = ln(Cp/Ct) / (τ − t_inf − 1)
 *     Cmax = Cp·exp(ke·1)                                      (back-extrapolated to the infusion end)
 *     V    = (D/t_inf)·(1 − exp(−ke·t_inf)) / (ke·(Cmax − C0·exp(−ke·t_inf)))   (non-steady-state form)
 *     CL   = ke·V,   AUC24,ss = 24·D/(τ·CL)
 *   and sets the next maintenance dose D' = target·MIC·CL·τ/24 (target AUC24/MIC, default 500), rounded
 *   to the nearest level; when D' is below ¾ of the smallest non-zero level, the interval is extended
 *   instead (the smallest k ∈ {1, 2, 3, 4} with k·D' ≥ ¾·smallest; dose ≈ k·D' every k-th decision,
 *   hold otherwise: q24h, q36h, q48h). Infusion time t_inf = max(1 h, D / infusionRate) with infusionRate 1000 mg/h
 *   (the env's rule). Implausible fits (Cp ≤ Ct, non-positive V) keep the current dose.
 */
export interface TwoLevelFit {
  ke: number;
  v: number;
  cl: number;
  auc24ss: number;
}

/** Sawchuk–Zaske one-compartment fit from (C0, Cp, Ct) of one interval with dose D (see module comment). */
export function sawchukZaske(doseMg: number, c0: number, peak: number, trough: number, infusionRateMgPerH = 1000, tauH = TAU_H): TwoLevelFit | null {
  if (!(doseMg > 0) || !(peak > trough) || !(trough > 0)) return null;
  const tInf = Math.max(1, doseMg / infusionRateMgPerH);
  const dt = tauH - tInf - 1;
  if (!(dt > 0)) return null;
  const ke = Math.log(peak / trough) / dt;
  const cmax = peak * Math.exp(ke);
  const decay = Math.exp(-ke * tInf);
  const denominator = ke * (cmax - Math.max(0, c0) * decay);
  if (!(denominator > 0)) return null;
  const v = ((doseMg / tInf) * (1 - decay)) / denominator;
  const cl = ke * v;
  if (!(cl > 0) || !Number.isFinite(cl)) return null;
  return { ke, v, cl, auc24ss: (24 * doseMg) / (tauH * cl) };
}

function positive(options: Record<string, unknown>, name: string, fallback: number): number {
  const v = options[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new TwinlabError('INVALID_ARGUMENT', `vancomycin protocol option ${name} must be a positive number, got ${describeValue(v)}`);
  }
  return v;
}

export class VancoNomogram implements Policy<number> {
  readonly name = 'pkpd/vancomycin-nomogram';
  readonly kind = 'protocol' as const;
  private action = -1;
  constructor(private readonly mgPerKg = 15) {}
  reset(context: PolicyContext): void {
    const c = readContext(context, this.name);
    this.action = nearestDoseLevel(c.doses, this.mgPerKg * c.weight);
  }
  act(): number {
    if (this.action < 0) throw new TwinlabError('INVALID_STATE', `${this.name}: act() before reset()`);
    return this.action;
  }
}

export class VancoAucGuided implements Policy<number> {
  readonly name = 'pkpd/vancomycin-auc-guided';
  readonly kind = 'protocol' as const;
  private context: VancoContext | null = null;
  private action = -1;
  /** The last fit (for inspection). */
  lastFit: TwoLevelFit | null = null;
  constructor(
    private readonly mgPerKg = 15,
    private readonly targetAucOverMic = 500,
    private readonly infusionRate = 1000,
  ) {}
  private intervalSteps = 1;
  private phase = 0;
  private holdAction = -1;
  private readonly seen = new LevelsSeen();
  /** Dose given in each 12-h interval of the episode (the observation's last_dose_mg), mg. */
  private readonly givenMg: number[] = [];
  reset(context: PolicyContext): void {
    this.context = readContext(context, this.name);
    this.action = nearestDoseLevel(this.context.doses, this.mgPerKg * this.context.weight);
    this.holdAction = this.context.doses.indexOf(0);
    this.intervalSteps = 1;
    this.phase = 0;
    this.lastFit = null;
    this.seen.reset();
    this.givenMg.length = 0;
  }
  act(observation: Float32Array): number {
    const c = this.context;
    if (!c) throw new TwinlabError('INVALID_STATE', `${this.name}: act() before reset()`);
    const at = (label: string): number => observation[c.idx[label] as number] as number;
    const n = decisionIndex(c, observation);
    if (n > 0) this.givenMg[n - 1] = at('last_dose_mg');
    const k = this.seen.next(c, observation);
    const dose = k >= 0 ? this.givenMg[k] : undefined;
    if (dose !== undefined) {
      const fit = sawchukZaske(dose, at('level_predose_mg_l'), at('level_peak_mg_l'), at('level_trough_mg_l'), this.infusionRate);
      if (fit) {
        this.lastFit = fit;
        const mic = at('mic_mg_l') > 0 ? at('mic_mg_l') : c.mic;
        this.setRegimen(c.doses, (this.targetAucOverMic * mic * fit.cl * TAU_H) / 24);
      }
    }
    const action = this.phase % this.intervalSteps === 0 ? this.action : this.holdAction;
    this.phase++;
    return action;
  }

  /** Per-12-h dose `mg`; below ¾ of the smallest level, extend the interval (q24h, q36h, q48h) instead. */
  private setRegimen(doses: readonly number[], mg: number): void {
    const r = regimenFor(doses, mg, this.holdAction >= 0);
    this.action = r.action;
    this.intervalSteps = r.intervalSteps;
    this.phase = 0;
  }
}

export function registerPkpdPolicies(): void {
  // the vancomycin twin's envs: v1 and the same twin as agents (whose lab may report levels after a turnaround)
  const appliesTo = ['pkpd/vancomycin-v1', 'pkpd/vancomycin-agents-v0'];
  registerPolicy({
    name: 'pkpd/vancomycin-nomogram',
    description: 'Weight-based nomogram: mgPerKg (default 15) every 12 h, nearest dose level',
    appliesTo,
    create: (_env, options) => new VancoNomogram(positive(options, 'mgPerKg', 15)),
  });
  registerPolicy({
    name: 'pkpd/vancomycin-auc-guided',
    description: 'AUC-guided: nomogram start, then Sawchuk–Zaske two-level (peak/trough) dose adjustment to AUC24/MIC 500',
    appliesTo,
    create: (_env, options) => new VancoAucGuided(positive(options, 'mgPerKg', 15), positive(options, 'targetAuc', 500), positive(options, 'infusionRate', 1000)),
  });
  registerPolicy({
    name: 'pkpd/vancomycin-trough',
    description: 'Trough-guided (Rybak 2009 consensus): mgPerKg (default 15) q12h, then proportional adjustment of steady-state troughs to 15–20 mg/L',
    appliesTo,
    create: (_env, options) =>
      new VancoTroughNomogram({
        mgPerKg: positive(options, 'mgPerKg', 15),
        troughLow: positive(options, 'troughLow', 15),
        troughHigh: positive(options, 'troughHigh', 20),
        steadyDoses: positive(options, 'steadyDoses', 3),
      }),
  });
  registerPolicy({
    name: 'pkpd/vancomycin-bayesian',
    description: 'Bayesian AUC-guided: prior η ~ N(prior.mean, prior.cov) (a twin posterior, default the Goti population), reweighted by every set of levels; regimen of highest P(AUC24/MIC 400–600)',
    appliesTo,
    create: (_env, options) => new VancoBayesian(checkBayesianOptions(options)),
  });
  registerPolicy({
    name: 'pkpd/vancomycin-regimen',
    description: 'Fixed regimen: optional loadingMg, then doseMg every intervalH (12, 24, … h); e.g. the Bayesian AUC-guided regimen of a personal twin',
    appliesTo,
    create: (_env, options) =>
      new VancoRegimen({
        doseMg: options.doseMg as number,
        intervalH: (options.intervalH ?? 12) as number,
        ...(options.loadingMg !== undefined ? { loadingMg: options.loadingMg as number } : {}),
      }),
  });
}
