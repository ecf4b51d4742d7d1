import { TwinlabError } from '../../engine/errors.js';
import { interval95 } from './fit.js';
import { kinetics, steadyState } from './model.js';
import { pkAt } from './parameters.js';
import type { VancoTwinFile } from './twin-file.js';

/**
 * Dose recommendation from a personal twin's posterior, following the revised consensus guideline
 * (Rybak MJ et al., Am J Health Syst Pharm 2020;77(11):835–864):
 * - target AUC24/MIC 400–600 (MIC 1 mg/L by broth microdilution assumed unless given), Bayesian AUC
 *   dosing preferred; AUC24 above 600 mg·h/L is associated with acute kidney injury, so P(AUC24 > 600)
 *   is reported as the safety risk whatever the MIC;
 * - infusion at no more than 1 g/h, at least 1 h (to limit infusion reactions): duration = max(1 h, dose / 1 g·h⁻¹);
 * - doses rounded to 250 mg (how vials are combined in practice);
 * - loading dose 20–35 mg/kg of actual body weight, at most 3,000 mg (for serious infections /
 *   critically ill patients); suggested here: 25 mg/kg rounded to 250 mg.
 */
export const DOSE_STEP_MG = 250;
export const MAX_MAINTENANCE_DOSE_MG = 4000;
export const LOADING = { lowMgPerKg: 20, highMgPerKg: 35, suggestedMgPerKg: 25, capMg: 3000 } as const;
export const AKI_AUC24 = 600;

export function infusionDurationH(doseMg: number): number {
  return Math.max(1, doseMg / 1000);
}

export function roundDose(mg: number): number {
  return Math.max(DOSE_STEP_MG, Math.round(mg / DOSE_STEP_MG) * DOSE_STEP_MG);
}

export interface DoseOptions {
  targetAuc: [number, number];
  intervals: number[];
  mic: number;
  /** Rows returned (best first). */
  top?: number;
}

export interface RegimenRow {
  doseMg: number;
  intervalH: number;
  infusionH: number;
  dailyDoseMg: number;
  auc24: { mean: number; lo: number; hi: number };
  trough: { mean: number; lo: number; hi: number };
  pTarget: number;
  pAucAbove600: number;
}

export interface DoseRecommendation {
  target: { aucOverMic: [number, number]; mic: number; auc24: [number, number] };
  regimens: RegimenRow[];
  loadingDose: { mg: number; mgPerKg: number; rangeMg: [number, number]; capMg: number; bodyWeightKg: number };
}

/**
 * Every regimen (dose 250…4,000 mg in steps of 250 mg × interval) evaluated on every posterior draw
 * at steady state; sorted by P(AUC24/MIC in target) descending, ties by P(AUC24 > 600) ascending,
 * then by the smaller daily dose.
 */
export function recommendDoses(twin: VancoTwinFile, opts: DoseOptions): DoseRecommendation {
  const [lo, hi] = opts.targetAuc;
  if (!(lo > 0 && hi > lo))
    throw new TwinlabError('INVALID_ARGUMENT', `--target-auc must be LOW-HIGH with 0 < LOW < HIGH, got ${lo}-${hi}`, { field: 'target-auc' });
  if (!(opts.mic > 0 && opts.mic <= 64)) throw new TwinlabError('INVALID_ARGUMENT', `--mic must be in (0, 64] mg/L, got ${opts.mic}`, { field: 'mic' });
  if (opts.intervals.length === 0 || opts.intervals.some((t) => !(t > 0 && t <= 72))) {
    throw new TwinlabError('INVALID_ARGUMENT', `--intervals must be hours in (0, 72], got ${opts.intervals.join(',')}`, { field: 'intervals' });
  }
  const aucLo = lo * opts.mic;
  const aucHi = hi * opts.mic;
  const kins = twin.posterior.draws.map((d) => kinetics(pkAt(twin.covariates, d)));
  const n = kins.length;
  const rows: RegimenRow[] = [];
  for (const tau of opts.intervals) {
    for (let dose = DOSE_STEP_MG; dose <= MAX_MAINTENANCE_DOSE_MG; dose += DOSE_STEP_MG) {
      const dur = Math.min(infusionDurationH(dose), tau);
      const aucs = new Float64Array(n);
      const troughs = new Float64Array(n);
      let inTarget = 0;
      let above = 0;
      for (let i = 0; i < n; i++) {
        const ss = steadyState(kins[i] as ReturnType<typeof kinetics>, dose, tau, dur);
        aucs[i] = ss.auc24;
        troughs[i] = ss.trough;
        if (ss.auc24 >= aucLo && ss.auc24 <= aucHi) inTarget++;
        if (ss.auc24 > AKI_AUC24) above++;
      }
      rows.push({
        doseMg: dose,
        intervalH: tau,
        infusionH: dur,
        dailyDoseMg: (dose * 24) / tau,
        auc24: interval95(aucs),
        trough: interval95(troughs),
        pTarget: inTarget / n,
        pAucAbove600: above / n,
      });
    }
  }
  rows.sort((a, b) => b.pTarget - a.pTarget || a.pAucAbove600 - b.pAucAbove600 || a.dailyDoseMg - b.dailyDoseMg || a.intervalH - b.intervalH);
  const w = twin.covariates.bodyWeightKg;
  const cap = (mg: number) => Math.min(LOADING.capMg, roundDose(mg));
  const loading = cap(LOADING.suggestedMgPerKg * w);
  return {
    target: { aucOverMic: [lo, hi], mic: opts.mic, auc24: [aucLo, aucHi] },
    regimens: rows.slice(0, opts.top ?? 10),
    loadingDose: {
      mg: loading,
      mgPerKg: loading / w,
      rangeMg: [cap(LOADING.lowMgPerKg * w), cap(LOADING.highMgPerKg * w)],
      capMg: LOADING.capMg,
      bodyWeightKg: w,
    },
  };
}
