import { describeValue, TwinlabError } from '../../engine/errors.js';
import type { Policy, PolicyContext } from '../policy.js';
import { readContext, TAU_H } from './vancomycin-common.js';

/**
 * A fixed vancomycin regimen on `pkpd/vancomycin-v1`: an optional loading dose at the first decision,
 * then `doseMg` every `intervalH` hours (a multiple of the env's 12-h decision interval; hold in
 * between), whatever the levels say. The first maintenance dose comes one interval after the start
 * (after the loading dose, or the first maintenance dose when there is none). Doses must be dose
 * levels of the env (no rounding: a regimen the env cannot give is an error naming the option).
 *
 * Used as the arm of a Bayesian AUC-guided regimen: experiments/personal-cohort-vancomycin.ts
 * `bayesianRegimen` turns the person's twin (`twinlab twin dose`) into these options.
 */
export interface VancoRegimenOptions {
  doseMg: number;
  intervalH: number;
  loadingMg?: number;
}

export class VancoRegimen implements Policy<number> {
  readonly name = 'pkpd/vancomycin-regimen';
  readonly kind = 'protocol' as const;
  private maintenance = -1;
  private loading = -1;
  private hold = -1;
  private step = 0;
  private readonly intervalSteps: number;

  constructor(private readonly options: VancoRegimenOptions) {
    const { doseMg, intervalH, loadingMg } = options;
    if (!(typeof doseMg === 'number' && doseMg > 0)) throw new TwinlabError('INVALID_ARGUMENT', `${this.name}: option doseMg must be a dose in mg > 0, got ${describeValue(doseMg)}`);
    const k = intervalH / TAU_H;
    if (!(typeof intervalH === 'number' && Number.isInteger(k) && k >= 1 && k <= 8)) {
      throw new TwinlabError('INVALID_ARGUMENT', `${this.name}: option intervalH must be 12, 24, … 96 h (a multiple of the 12-h decision interval), got ${describeValue(intervalH)}`);
    }
    if (loadingMg !== undefined && !(typeof loadingMg === 'number' && loadingMg > 0)) {
      throw new TwinlabError('INVALID_ARGUMENT', `${this.name}: option loadingMg must be a dose in mg > 0, got ${describeValue(loadingMg)}`);
    }
    this.intervalSteps = k;
  }

  reset(context: PolicyContext): void {
    const c = readContext(context, this.name);
    const level = (mg: number, option: string): number => {
      const i = c.doses.indexOf(mg);
      if (i < 0) throw new TwinlabError('INVALID_ARGUMENT', `${this.name}: option ${option} ${mg} mg is not a dose level of ${context.envId} (levels: ${c.doses.join(', ')} mg)`);
      return i;
    };
    this.maintenance = level(this.options.doseMg, 'doseMg');
    this.loading = this.options.loadingMg === undefined ? this.maintenance : level(this.options.loadingMg, 'loadingMg');
    this.hold = c.doses.indexOf(0);
    if (this.intervalSteps > 1 && this.hold < 0) {
      throw new TwinlabError('INVALID_ARGUMENT', `${this.name}: option intervalH ${this.options.intervalH} needs a hold (0 mg) level in ${context.envId} (levels: ${c.doses.join(', ')} mg)`);
    }
    this.step = 0;
  }

  act(): number {
    if (this.maintenance < 0) throw new TwinlabError('INVALID_STATE', `${this.name}: act() before reset()`);
    const s = this.step++;
    if (s === 0) return this.loading;
    return s % this.intervalSteps === 0 ? this.maintenance : this.hold;
  }
}
