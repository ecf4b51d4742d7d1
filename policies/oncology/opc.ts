import type { Info } from '../../engine/env.js';
import { TwinlabError } from '../../engine/errors.js';
import type { Rng } from '../../engine/random.js';
import type { Policy, PolicyContext } from '../policy.js';
import { registerPolicy } from '../registry.js';

/**
 * Baselines for the SYNTHETIC OPC treatment-sequencing twin (`oncology/opc-sequencing-v1`). They read the
 * documented observation (age/100, HPV+, smoker, T/4, N/3, PS/2, stage one-hot IC/CC/ND/done, then the
 * revealed intermediates; see environments/oncology/README-opc.md):
 * - `opc/guideline`: simplified NCCN-style rules (a caricature for benchmarking, not medical advice):
 *   induction chemo only for bulky disease (T4 or N3) in fit patients (PS ≤ 1, age ≤ 70); concurrent
 *   chemoradiation for locally advanced disease (T3–4 or N2–3) in fit patients (PS ≤ 1, age ≤ 70), RT
 *   alone otherwise; neck dissection iff residual nodal disease after (chemo)radiation.
 * - `opc/physician`: the guideline, but chemotherapy is withheld when the clinician's frailty impression
 *   (reset info `prescription.frailtyImpression`, correlated with the hidden frailty) exceeds 1 — the
 *   confounded behaviour policy of docs/MODELS.md §5 fact 3.
 * - `opc/maximal` (IC + CC + ND for all) and `opc/minimal` (RT alone, nothing else).
 */
const APPLIES = ['oncology/opc-sequencing-v1', 'oncology/opc-sequencing-agents-v0'];
const IDX = { age: 0, hpv: 1, T: 3, N: 4, PS: 5, stage: 6, resid: 16 } as const;

export interface OpcFeatures {
  stage: number;
  age: number;
  T: number;
  N: number;
  PS: number;
  residual: number;
}

export function readOpcObservation(o: Float32Array): OpcFeatures {
  if (o.length !== 17) throw new TwinlabError('INVALID_ARGUMENT', `opc policies expect the 17-float oncology/opc-sequencing-v1 observation, got length ${o.length}`);
  let stage = 0;
  for (let k = 1; k < 4; k++) if ((o[IDX.stage + k] as number) > 0.5) stage = k;
  return {
    stage,
    age: Math.round((o[IDX.age] as number) * 1000) / 10,
    T: Math.round((o[IDX.T] as number) * 4),
    N: Math.round((o[IDX.N] as number) * 3),
    PS: Math.round((o[IDX.PS] as number) * 2),
    residual: (o[IDX.resid] as number) > 0.5 ? 1 : 0,
  };
}

/** The guideline's decision at a stage (0 IC, 1 CC, 2 ND). */
export function guidelineAction(f: OpcFeatures, chemoAllowed = true): number {
  const fit = f.PS <= 1 && f.age <= 70 && chemoAllowed;
  if (f.stage === 0) return fit && (f.T === 4 || f.N === 3) ? 1 : 0;
  if (f.stage === 1) return fit && (f.T >= 3 || f.N >= 2) ? 1 : 0;
  return f.residual;
}

class GuidelinePolicy implements Policy<number> {
  readonly kind = 'protocol' as const;
  private chemoAllowed = true;
  constructor(
    readonly name: string,
    private readonly confounded: boolean,
  ) {}
  reset(context: PolicyContext): void {
    const impression = (context.resetInfo.prescription as { frailtyImpression?: unknown } | undefined)?.frailtyImpression;
    this.chemoAllowed = !(this.confounded && typeof impression === 'number' && impression > 1);
  }
  act(observation: Float32Array, _rng: Rng, _info?: Info): number {
    return guidelineAction(readOpcObservation(observation), this.chemoAllowed);
  }
}

class FixedRegimen implements Policy<number> {
  readonly kind = 'protocol' as const;
  constructor(
    readonly name: string,
    private readonly actions: readonly [number, number, number],
  ) {}
  act(observation: Float32Array): number {
    return this.actions[Math.min(2, readOpcObservation(observation).stage)] as number;
  }
}

export function registerOpcPolicies(): void {
  registerPolicy({ name: 'opc/guideline', description: 'Simplified NCCN-style rules (IC for T4/N3, CC for T3–4/N2–3 if fit, ND iff residual nodes)', appliesTo: APPLIES, create: () => new GuidelinePolicy('opc/guideline', false) });
  registerPolicy({ name: 'opc/physician', description: 'Guideline, chemo withheld when the clinician judges the patient frail (confounded by hidden frailty)', appliesTo: APPLIES, create: () => new GuidelinePolicy('opc/physician', true) });
  registerPolicy({ name: 'opc/maximal', description: 'Induction chemo + concurrent chemoradiation + neck dissection for all', appliesTo: APPLIES, create: () => new FixedRegimen('opc/maximal', [1, 1, 1]) });
  registerPolicy({ name: 'opc/minimal', description: 'Radiotherapy alone: no induction, no concurrent chemo, no neck dissection', appliesTo: APPLIES, create: () => new FixedRegimen('opc/minimal', [0, 0, 0]) });
}
