import { describeValue, TwinlabError } from '../../engine/errors.js';
import type { Policy, PolicyContext } from '../policy.js';
import { registerPolicy } from '../registry.js';

/**
 * The dietitian rule for `glucose/t2d-nutrition-v1` (and its agent form `glucose/t2d-nutrition-agents-v0`): at each meal choose, among the menu's feasible
 * meals (those that still let the day meet its energy and nutrient constraints), the one with the
 * lowest glycaemic index; ties go to the lower glycaemic load, then the lower index. It reads only the
 * observation's per-option `optionM_gi`, `optionM_carbs_g` and `optionM_feasible` components — what a
 * menu card shows. Low-GI choices are the ADA's advice for carbohydrate quality (Evert et al.,
 * Diabetes Care 42:731–754, 2019, "Nutrition therapy for adults with diabetes or prediabetes").
 */
export class DietitianLowGiPolicy implements Policy<number> {
  readonly name = 'glucose-t2d/dietitian-low-gi';
  readonly kind = 'protocol' as const;
  private gi: number[] = [];
  private carbs: number[] = [];
  private feasible: number[] = [];

  reset(context: PolicyContext): void {
    const labels = context.observationSpace.labels ?? [];
    this.gi = [];
    this.carbs = [];
    this.feasible = [];
    for (let m = 0; ; m++) {
      const g = labels.indexOf(`option${m}_gi`);
      if (g < 0) break;
      const c = labels.indexOf(`option${m}_carbs_g`);
      const f = labels.indexOf(`option${m}_feasible`);
      if (c < 0 || f < 0) throw new TwinlabError('INVALID_STATE', `${this.name}: observation of ${context.envId} lacks option${m}_carbs_g / option${m}_feasible`);
      this.gi.push(g);
      this.carbs.push(c);
      this.feasible.push(f);
    }
    if (this.gi.length === 0) throw new TwinlabError('INVALID_STATE', `${this.name}: observation of ${context.envId} has no option0_gi component (labels: ${labels.join(', ')})`);
  }

  act(observation: Float32Array): number {
    if (this.gi.length === 0) throw new TwinlabError('INVALID_STATE', `${this.name}: act() before reset()`);
    let best = -1;
    let bestGi = Number.POSITIVE_INFINITY;
    let bestGl = Number.POSITIVE_INFINITY;
    for (let m = 0; m < this.gi.length; m++) {
      if (observation[this.feasible[m] as number] !== 1) continue;
      const gi = observation[this.gi[m] as number] as number;
      const gl = (gi * (observation[this.carbs[m] as number] as number)) / 100;
      if (gi < bestGi || (gi === bestGi && gl < bestGl)) {
        best = m;
        bestGi = gi;
        bestGl = gl;
      }
    }
    // nothing feasible (cannot happen on the shipped menu): the lowest GI overall; the env substitutes
    if (best < 0) {
      for (let m = 0; m < this.gi.length; m++) if (best < 0 || (observation[this.gi[m] as number] as number) < (observation[this.gi[best] as number] as number)) best = m;
    }
    return best;
  }
}

export function registerGlucoseT2dPolicies(): void {
  registerPolicy({
    name: 'glucose-t2d/dietitian-low-gi',
    description: 'Dietitian rule: the lowest-GI meal among those that keep the day within its energy and nutrient constraints',
    appliesTo: ['glucose/t2d-nutrition-v1', 'glucose/t2d-nutrition-agents-v0'],
    create: (_env, options) => {
      if (Object.keys(options).length > 0) throw new TwinlabError('INVALID_ARGUMENT', `glucose-t2d/dietitian-low-gi takes no options, got ${describeValue(options)}`);
      return new DietitianLowGiPolicy();
    },
  });
}
