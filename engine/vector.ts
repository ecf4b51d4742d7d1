import type { Env, Info } from './env.js';
import { TwinlabError } from './errors.js';
import { type Action, type Box, type Space, isBox, isDiscrete, isMultiDiscrete } from './spaces.js';

export interface VectorStepResult {
  /** n × obsDim, row i = env i's observation (after autoreset when its episode ended). */
  observations: Float32Array;
  rewards: Float64Array;
  terminated: Uint8Array;
  truncated: Uint8Array;
  /** n × obsDim; row i holds env i's last observation of the episode when it ended on this step. */
  finalObservations: Float32Array;
  /** Per-env info of this step (for an env that ended: the info of its final step). */
  infos: Info[];
  /** Per-env reset info of the next episode for an env that ended on this step (else the previous value, stale). */
  resetInfos: Info[];
}

/**
 * Synchronous vector env with same-step autoreset (the convention of Stable-Baselines3): when env i
 * terminates or truncates, its final observation goes to `finalObservations` and the env is reset at
 * once, so `observations` row i is already the first observation of its next episode.
 *
 * Seeding: `reset({ seed })` seeds env i with `seed + i`; autoresets continue each env's own streams.
 * Result buffers are reused across calls (copy what you keep).
 */
export class VectorEnv {
  readonly numEnvs: number;
  readonly observationSize: number;
  readonly observationSpace: Box;
  readonly singleActionSpace: Space;
  private readonly actionViews: Action[];
  private readonly result: VectorStepResult;
  private started = false;

  constructor(readonly envs: Env[]) {
    if (envs.length === 0) throw new TwinlabError('INVALID_ARGUMENT', 'VectorEnv needs at least one env');
    const first = envs[0] as Env;
    this.numEnvs = envs.length;
    this.observationSpace = first.observationSpace;
    this.singleActionSpace = first.actionSpace;
    this.observationSize = first.observationSpace.size;
    for (const env of envs) {
      if (env.observationSpace.size !== this.observationSize || env.actionSpace.toString() !== first.actionSpace.toString()) {
        throw new TwinlabError('INVALID_ARGUMENT', `VectorEnv: env ${env.id} has different spaces from ${first.id}`);
      }
    }
    const n = this.numEnvs;
    this.result = {
      observations: new Float32Array(n * this.observationSize),
      rewards: new Float64Array(n),
      terminated: new Uint8Array(n),
      truncated: new Uint8Array(n),
      finalObservations: new Float32Array(n * this.observationSize),
      infos: new Array<Info>(n).fill({}),
      resetInfos: new Array<Info>(n).fill({}),
    };
    const space = this.singleActionSpace;
    const width = isBox(space) || isMultiDiscrete(space) ? space.shape.reduce((a, b) => a * b, 1) : 1;
    this.actionWidth = width;
    this.actionViews = envs.map(() => (isBox(space) ? new Float32Array(width) : isMultiDiscrete(space) ? new Int32Array(width) : 0));
  }

  /** Number of action components per env (1 for Discrete). */
  readonly actionWidth: number;

  static fromFactory(factory: (index: number) => Env, numEnvs: number): VectorEnv {
    return new VectorEnv(Array.from({ length: numEnvs }, (_, i) => factory(i)));
  }

  reset(options: { seed?: number; options?: Record<string, unknown> } = {}): { observations: Float32Array; infos: Info[] } {
    const infos: Info[] = [];
    for (let i = 0; i < this.numEnvs; i++) {
      const env = this.envs[i] as Env;
      const { observation, info } = env.reset({ seed: options.seed === undefined ? undefined : options.seed + i, options: options.options });
      this.result.observations.set(observation, i * this.observationSize);
      infos.push(info);
    }
    this.started = true;
    return { observations: this.result.observations, infos };
  }

  /**
   * Step every env. `actions` has one entry per env for Discrete spaces, or n × actionWidth values
   * (row-major) for Box and MultiDiscrete spaces.
   */
  step(actions: ArrayLike<number>): VectorStepResult {
    if (!this.started) throw new TwinlabError('INVALID_STATE', 'VectorEnv.step() called before reset()');
    const width = this.actionWidth;
    if (actions.length !== this.numEnvs * width) {
      throw new TwinlabError('INVALID_ARGUMENT', `VectorEnv.step expected ${this.numEnvs * width} action values, got ${actions.length}`);
    }
    const r = this.result;
    const discrete = isDiscrete(this.singleActionSpace);
    for (let i = 0; i < this.numEnvs; i++) {
      const env = this.envs[i] as Env;
      let action: Action;
      if (discrete) action = actions[i] as number;
      else {
        const view = this.actionViews[i] as Float32Array | Int32Array;
        for (let j = 0; j < width; j++) view[j] = actions[i * width + j] as number;
        action = view;
      }
      const out = env.step(action);
      r.rewards[i] = out.reward;
      r.terminated[i] = out.terminated ? 1 : 0;
      r.truncated[i] = out.truncated ? 1 : 0;
      r.infos[i] = out.info;
      if (out.terminated || out.truncated) {
        r.finalObservations.set(out.observation, i * this.observationSize);
        const next = env.reset();
        r.observations.set(next.observation, i * this.observationSize);
        r.resetInfos[i] = next.info;
      } else {
        r.observations.set(out.observation, i * this.observationSize);
      }
    }
    return r;
  }

  close(): void {
    for (const env of this.envs) env.close?.();
  }
}
