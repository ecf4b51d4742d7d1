import { describeValue, TwinlabError } from '../../engine/errors.js';
import type { PumpParams } from './params.js';

/**
 * Insulin pump: what dose a pump can actually deliver (pump_params.csv: Insulet and Cozmo).
 *
 * Two modes:
 * - `'pump'` (default) — a real pump, reading the CSV values in the units of the pump manuals, as
 *   they were evidently meant (simglucose issue #71): basal programmed in **U/h** with a resolution of
 *   `incBasal` U/h (0.05 U/h) and a maximum of `maxBasal` U/h (Insulet Omnipod 30 U/h, Cozmo 35 U/h);
 *   boluses in **U** with `incBolus` U steps (0.05 U) and at most `maxBolus` U (Insulet 30 U, Cozmo 75 U).
 *   Doses round to the nearest step (half up) and then clip. A dose a pump cannot program is never given.
 * - `'simglucose'` — the reference quirk, for reproducing simglucose runs: the rate in U/min is
 *   converted to pmol/min (×6000), rounded to a multiple of inc (so the real step is 0.05 pmol/min
 *   ≈ 8.3e-6 U/min), converted back, then clipped to [min, max] read as **U/min** (so up to 30 U/min).
 *   A bolus is a rate held over one minute, treated the same way.
 *
 * Why the real pump is the default: the twin serves virtual trials of dosing policies, and a dose a
 * pump cannot deliver (30 U/min of basal, 8e-6 U/min resolution) is not a dose a trial can test.
 * The cost is that 1× basal is the programmed rate nearest the patient's steady-state basal, so
 * glucose settles within a few mg/dL of Gb instead of exactly at it — as for a real patient.
 */
export type PumpMode = 'pump' | 'simglucose';

export const PMOL_PER_UNIT = 6000;

export class InsulinPump {
  readonly params: PumpParams;
  readonly mode: PumpMode;

  constructor(params: PumpParams, mode: PumpMode = 'pump') {
    if (mode !== 'pump' && mode !== 'simglucose') {
      throw new TwinlabError('INVALID_ARGUMENT', `pump mode must be 'pump' or 'simglucose', got ${describeValue(mode)}`);
    }
    this.params = params;
    this.mode = mode;
  }

  /** The basal rate the pump delivers, U/min, for a requested rate in U/min. */
  basal(rateUPerMin: number): number {
    const p = this.params;
    if (this.mode === 'simglucose') {
      const q = (Math.round((rateUPerMin * PMOL_PER_UNIT) / p.incBasal) * p.incBasal) / PMOL_PER_UNIT;
      return Math.min(p.maxBasal, Math.max(p.minBasal, q));
    }
    const perHour = Math.min(p.maxBasal, Math.max(p.minBasal, roundTo(rateUPerMin * 60, p.incBasal)));
    return perHour / 60;
  }

  /** The bolus the pump delivers, U, for a requested dose in U (simglucose mode: delivered over one minute). */
  bolus(doseU: number): number {
    const p = this.params;
    if (this.mode === 'simglucose') {
      const q = (Math.round((doseU * PMOL_PER_UNIT) / p.incBolus) * p.incBolus) / PMOL_PER_UNIT;
      return Math.min(p.maxBolus, Math.max(p.minBolus, q));
    }
    return Math.min(p.maxBolus, Math.max(p.minBolus, roundTo(doseU, p.incBolus)));
  }

  /** Largest programmable basal, U/min. */
  get maxBasalUPerMin(): number {
    return this.mode === 'simglucose' ? this.params.maxBasal : this.params.maxBasal / 60;
  }

  /** Largest single bolus, U. */
  get maxBolusU(): number {
    return this.params.maxBolus;
  }
}

/** Round to the nearest multiple of `inc`, guarding against binary fractions (0.85/0.05 = 16.999…). */
function roundTo(x: number, inc: number): number {
  const k = Math.round(x / inc + 1e-9);
  return Math.round(k * inc * 1e9) / 1e9;
}
