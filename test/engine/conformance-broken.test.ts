import { describe, expect, it } from 'vitest';
import { checkEnv } from '../../engine/conformance.js';
import { type Env, invalidActionError, type ResetOptions, type ResetResult, type StepResult } from '../../engine/env.js';
import { TwinlabError } from '../../engine/errors.js';
import { Rng } from '../../engine/random.js';
import { Box, Discrete, type Space } from '../../engine/spaces.js';

// The checker must find each way an env can break the contract, as Gymnasium's env-checker tests feed
// `check_env` deliberately broken envs. `WalkEnv` is a conforming random walk (checked first); every
// other case breaks exactly one rule and expects the checker to name that problem.

type Defect =
  | 'none'
  | 'discrete-observation-space'
  | 'sample-outside-space'
  | 'step-before-reset'
  | 'observation-not-float32'
  | 'observation-wrong-length'
  | 'observation-outside-space'
  | 'reset-info-null'
  | 'reward-nan'
  | 'terminated-not-boolean'
  | 'step-info-null'
  | 'step-after-end'
  | 'seed-ignored'
  | 'shared-global-state'
  | 'accepts-invalid-action'
  | 'invalid-action-plain-error'
  | 'invalid-action-vague-message'
  | 'set-state-ignored';

let globalCounter = 0;

class WalkEnv implements Env<number> {
  readonly id = 'test/walk-v0';
  readonly observationSpace: Box;
  readonly actionSpace: Space<number>;
  private x = 0;
  private t = 0;
  private phase: 'new' | 'running' | 'ended' = 'new';
  private resets = 0;

  constructor(private readonly defect: Defect = 'none') {
    this.observationSpace = defect === 'discrete-observation-space' ? (new Discrete(3) as unknown as Box) : new Box(-10, 10, [2]);
    const discrete = new Discrete(2);
    this.actionSpace =
      defect === 'sample-outside-space' ? Object.assign(Object.create(Discrete.prototype), discrete, { sample: () => 7 }) : discrete;
  }

  reset(options: ResetOptions = {}): ResetResult {
    this.resets++;
    let start = Rng.fromSeed(options.seed ?? 0).uniform(-2, 2);
    if (this.defect === 'seed-ignored') start += this.resets;
    if (this.defect === 'shared-global-state') start += ++globalCounter * 0.01;
    this.x = start;
    this.t = 0;
    this.phase = 'running';
    return { observation: this.obs(), info: this.defect === 'reset-info-null' ? (null as unknown as Record<string, unknown>) : { x: this.x } };
  }

  step(action: number): StepResult {
    if (this.phase !== 'running' && !(this.defect === 'step-before-reset' && this.phase === 'new') && this.defect !== 'step-after-end') {
      throw new TwinlabError('INVALID_STATE', `${this.id}: step() outside an episode`);
    }
    if (!this.actionSpace.contains(action) && this.defect !== 'accepts-invalid-action') {
      if (this.defect === 'invalid-action-plain-error') throw new Error('bad action');
      if (this.defect === 'invalid-action-vague-message') throw new TwinlabError('INVALID_ACTION', 'bad action');
      throw invalidActionError(this.id, action, this.actionSpace);
    }
    this.x += action === 1 ? 0.5 : -0.5;
    this.t++;
    const terminated = Math.abs(this.x) >= 5;
    const truncated = !terminated && this.t >= 40;
    if (terminated || truncated) this.phase = 'ended';
    return {
      observation: this.obs(),
      reward: this.defect === 'reward-nan' ? Number.NaN : -Math.abs(this.x),
      terminated: this.defect === 'terminated-not-boolean' ? (0 as unknown as boolean) : terminated,
      truncated,
      info: this.defect === 'step-info-null' ? (null as unknown as Record<string, unknown>) : { x: this.x },
    };
  }

  getState(): unknown {
    return { x: this.x, t: this.t };
  }

  setState(state: unknown): void {
    if (this.defect === 'set-state-ignored') return;
    const s = state as { x: number; t: number };
    this.x = s.x;
    this.t = s.t;
    this.phase = 'running';
  }

  private obs(): Float32Array {
    if (this.defect === 'observation-not-float32') return [this.x, this.t / 40] as unknown as Float32Array;
    if (this.defect === 'observation-wrong-length') return Float32Array.of(this.x);
    if (this.defect === 'observation-outside-space') return Float32Array.of(this.x, 11);
    return Float32Array.of(this.x, this.t / 40);
  }
}

describe('checkEnv on deliberately broken envs', () => {
  it('a conforming env has no problems (the control for every case below)', () => {
    expect(checkEnv(() => new WalkEnv(), { steps: 100 })).toEqual([]);
  });

  const cases: Array<[Defect, RegExp]> = [
    ['discrete-observation-space', /observation space must be a Box/],
    ['sample-outside-space', /actionSpace\.sample\(\) returned 7, which it does not contain/],
    ['step-before-reset', /step\(\) before reset\(\) must throw/],
    ['observation-not-float32', /reset observation must be a Float32Array/],
    ['observation-wrong-length', /reset observation has length 1, space says 2/],
    ['observation-outside-space', /reset observation \[.*, 11\] is outside Box\(-10, 10, \[2\]\)/],
    ['reset-info-null', /reset info must be an object/],
    ['reward-nan', /step 0 reward NaN is not a finite number/],
    ['terminated-not-boolean', /step 0 terminated\/truncated must be booleans/],
    ['step-info-null', /step 0 info must be an object/],
    ['step-after-end', /step\(\) after the episode ended must throw/],
    ['seed-ignored', /reset\(\{ seed \}\) twice with the same actions gave different trajectories/],
    ['shared-global-state', /two instances with the same seed and actions gave different trajectories/],
    ['accepts-invalid-action', /invalid action 2 was accepted/],
    ['invalid-action-plain-error', /invalid action must throw TwinlabError INVALID_ACTION, got: bad action/],
    ['invalid-action-vague-message', /invalid-action message must name env id and space, got: bad action/],
    ['set-state-ignored', /setState\(getState\(\)\) does not continue identically/],
  ];

  for (const [defect, expected] of cases) {
    it(`reports ${defect}`, () => {
      const problems = checkEnv(() => new WalkEnv(defect), { steps: 100 });
      expect(problems.some((p) => expected.test(p))).toBe(true);
      for (const p of problems) expect(p.startsWith('test/walk-v0: ')).toBe(true);
    });
  }
});
