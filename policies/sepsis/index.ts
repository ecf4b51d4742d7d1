import type { Env, Info } from '../../engine/env.js';
import { TwinlabError, describeValue } from '../../engine/errors.js';
import type { Rng } from '../../engine/random.js';
import type { Policy, PolicyContext } from '../policy.js';
import { registerPolicy } from '../registry.js';
import { type SepsisDecoder, actionTableSource, projectObserved, sepsisDecoder } from './observation.js';

/**
 * Baseline policies of the sepsis twin (Oberst & Sontag 2019, `plots-main-paper.ipynb`):
 * - `sepsis/optimal`: the optimal policy of the full-information MDP (1440 states, diabetes known), from
 *   value iteration with γ = 0.99 — the physician's greedy policy, the best any policy can do;
 * - `sepsis/physician`: that policy ε-softened as the paper's behaviour policy (PHYS_EPSILON = 0.05: the
 *   greedy action w.p. 0.95, each other action w.p. 0.05/7);
 * - `sepsis/optimal-observed`: value iteration on the 720-state observed MDP (diabetes marginalised by its
 *   0.2 prior) — uses the observation only;
 * - `sepsis/optimal-projected`: the paper's "RL policy" in its large-sample limit (144 projected states,
 *   glucose hidden, transitions weighted by the physician's occupancy);
 * - `sepsis/no-treatment` (action 0 always) and `sepsis/treat-all` (action 7 always).
 * Full-information policies read diabetes from the reset info's `prescription.diabetic`.
 */
const APPLIES = ['sepsis/oberst-v1', 'sepsis/oberst-agents-v0'];
const N_OBS = 720;
const N_ACTIONS = 8;

type TableKind = 'full' | 'observed' | 'projected';

class TablePolicy implements Policy<number> {
  readonly kind = 'protocol' as const;
  private diabetic = -1;
  constructor(
    readonly name: string,
    private readonly table: Int32Array,
    private readonly tableKind: TableKind,
    private readonly decoder: SepsisDecoder,
    private readonly epsilon: number,
  ) {
    if (tableKind !== 'projected' && decoder.view === 'projected') {
      throw new TwinlabError('INVALID_ARGUMENT', `${name} needs the observed view (glucose visible); the env uses view "projected" — use sepsis/optimal-projected`);
    }
  }
  reset(context: PolicyContext): void {
    const prescription = context.resetInfo.prescription as { diabetic?: unknown } | undefined;
    const d = prescription?.diabetic;
    if (this.tableKind === 'full' && d !== 0 && d !== 1) {
      throw new TwinlabError('INVALID_ARGUMENT', `${this.name} needs resetInfo.prescription.diabetic (0 or 1), got ${describeValue(d)}`);
    }
    this.diabetic = typeof d === 'number' ? d : -1;
  }
  /** The greedy action for an observation. */
  greedy(observation: Float32Array): number {
    const index = this.decoder.decode(observation);
    if (this.tableKind === 'projected') return this.table[this.decoder.view === 'observed' ? projectObserved(index) : index] as number;
    if (this.tableKind === 'observed') return this.table[index] as number;
    if (this.diabetic < 0) throw new TwinlabError('INVALID_STATE', `${this.name}: act() before reset() — diabetes status unknown`);
    return this.table[this.diabetic * N_OBS + index] as number;
  }
  act(observation: Float32Array, rng: Rng, _info?: Info): number {
    const a = this.greedy(observation);
    if (this.epsilon === 0) return a;
    // one draw: with probability 1 − ε the greedy action, else each other action with ε/7
    const u = rng.next();
    if (u < 1 - this.epsilon) return a;
    const k = Math.min(N_ACTIONS - 2, Math.floor(((u - (1 - this.epsilon)) / this.epsilon) * (N_ACTIONS - 1)));
    return k >= a ? k + 1 : k;
  }
}

class ConstantPolicy implements Policy<number> {
  readonly kind = 'protocol' as const;
  constructor(
    readonly name: string,
    private readonly action: number,
  ) {}
  act(): number {
    return this.action;
  }
  actBatch(_observations: Float32Array, n: number, _rng: Rng, out: Int32Array): void {
    out.fill(this.action, 0, n);
  }
}

function epsilonOption(options: Record<string, unknown>, fallback: number): number {
  const e = options.epsilon ?? fallback;
  if (typeof e !== 'number' || !(e >= 0 && e <= 1)) throw new TwinlabError('INVALID_ARGUMENT', `sepsis/physician: option epsilon must be a number in [0, 1], got ${describeValue(e)}`);
  return e;
}

function tablePolicy(name: string, kind: TableKind, env: Env, epsilon: number): TablePolicy {
  const table = actionTableSource(env).sepsisActionTable(kind);
  return new TablePolicy(name, table, kind, sepsisDecoder(env.observationSpace), epsilon);
}

export { TablePolicy as SepsisTablePolicy };

export function registerSepsisPolicies(): void {
  registerPolicy({
    name: 'sepsis/optimal',
    description: 'Optimal policy of the full-information MDP (diabetes known), value iteration γ = 0.99 on the exact tensor',
    appliesTo: APPLIES,
    create: (env) => tablePolicy('sepsis/optimal', 'full', env, 0),
  });
  registerPolicy({
    name: 'sepsis/physician',
    description: "The paper's behaviour policy: full-information optimal action w.p. 1 − ε (ε = 0.05), each other action ε/7",
    appliesTo: APPLIES,
    create: (env, options) => tablePolicy('sepsis/physician', 'full', env, epsilonOption(options, 0.05)),
  });
  registerPolicy({
    name: 'sepsis/optimal-observed',
    description: 'Value iteration (γ = 0.99) on the 720-state observed MDP, diabetes marginalised by its prior',
    appliesTo: APPLIES,
    create: (env) => tablePolicy('sepsis/optimal-observed', 'observed', env, 0),
  });
  registerPolicy({
    name: 'sepsis/optimal-projected',
    description: "The paper's RL policy in its large-sample limit: value iteration on the 144-state projected MDP (glucose hidden)",
    appliesTo: APPLIES,
    create: (env) => tablePolicy('sepsis/optimal-projected', 'projected', env, 0),
  });
  registerPolicy({
    name: 'sepsis/no-treatment',
    description: 'Never treat (action 0)',
    appliesTo: APPLIES,
    create: () => new ConstantPolicy('sepsis/no-treatment', 0),
  });
  registerPolicy({
    name: 'sepsis/treat-all',
    description: 'Antibiotics + ventilation + vasopressors every step (action 7)',
    appliesTo: APPLIES,
    create: () => new ConstantPolicy('sepsis/treat-all', 7),
  });
}
