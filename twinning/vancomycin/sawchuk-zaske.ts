import type { Dose } from './model.js';

/**
 * The classic non-Bayesian two-level method (Sawchuk RJ, Zaske DE, J Pharmacokinet Biopharm
 * 1976;4(2):183–195): a one-compartment model with log-linear elimination fitted to a peak and a
 * trough drawn after the same dose (infusion of D mg over T h, given at t_d, every τ h).
 *
 *   ke   = ln(Cpeak / Ctrough) / (t_trough − t_peak)
 *   Cmax = Cpeak·e^{ke·(t_peak − (t_d + T))}          (back-extrapolated to the end of the infusion)
 *   Cmin = Ctrough·e^{−ke·(t_d + τ − t_trough)}        (forward to the end of the interval; taken as
 *                                                       the pre-dose level, i.e. steady state)
 *   V    = (D/T)·(1 − e^{−ke·T}) / (ke·(Cmax − Cmin·e^{−ke·T}))
 *   CL   = ke·V;   steady-state AUC24 = (24/τ)·D / CL
 * Returns null when the levels cannot give an elimination rate (trough ≥ peak, or non-positive levels).
 */
export interface SawchukZaske {
  ke: number;
  v: number;
  cl: number;
}

export function sawchukZaske(
  dose: Dose,
  intervalH: number,
  peak: { timeH: number; conc: number },
  trough: { timeH: number; conc: number },
): SawchukZaske | null {
  if (!(peak.conc > 0 && trough.conc > 0 && trough.conc < peak.conc && trough.timeH > peak.timeH)) return null;
  const ke = Math.log(peak.conc / trough.conc) / (trough.timeH - peak.timeH);
  const t = Math.max(dose.durationH, 1e-6);
  const cmax = peak.conc * Math.exp(ke * (peak.timeH - (dose.timeH + t)));
  const cmin = trough.conc * Math.exp(-ke * (dose.timeH + intervalH - trough.timeH));
  const denom = ke * (cmax - cmin * Math.exp(-ke * t));
  if (!(denom > 0)) return null;
  const v = ((dose.amountMg / t) * (1 - Math.exp(-ke * t))) / denom;
  return { ke, v, cl: ke * v };
}

/** One-compartment concentration (mg/L) at `timeH` after every dose (superposition of infusions). */
export function oneCompartmentConcentration(fit: SawchukZaske, doses: readonly Dose[], timeH: number): number {
  let c = 0;
  for (const d of doses) {
    if (d.timeH >= timeH) continue;
    const t = timeH - d.timeH;
    if (d.durationH <= 0) {
      c += (d.amountMg / fit.v) * Math.exp(-fit.ke * t);
      continue;
    }
    const rate = d.amountMg / d.durationH;
    const during = Math.min(t, d.durationH);
    c += (rate / (fit.ke * fit.v)) * (1 - Math.exp(-fit.ke * during)) * Math.exp(-fit.ke * Math.max(0, t - d.durationH));
  }
  return c;
}
