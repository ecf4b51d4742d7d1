import type { Env } from './env.js';
import { TwinlabError } from './errors.js';
import { TrajectoryHasher } from './hash.js';
import { Rng } from './random.js';
import { type Action, flatSize, isBox, isDiscrete, isMultiDiscrete } from './spaces.js';

/**
 * The Env conformance checker (in the spirit of Gymnasium's `check_env`). Every registered env must
 * pass it; `test/engine/conformance.test.ts` runs it over the whole registry. It returns the list of
 * problems found (empty = conforms) instead of throwing, so callers can report all of them at once.
 */
export interface ConformanceOptions {
  /** Steps per rollout (default 200). */
  steps?: number;
  seed?: number;
}

export function checkEnv(makeEnv: () => Env, options: ConformanceOptions = {}): string[] {
  const problems: string[] = [];
  const steps = options.steps ?? 200;
  const seed = options.seed ?? 12345;
  const env = makeEnv();
  const id = env.id;
  const obsSize = flatSize(env.observationSpace);

  // 1. spaces are well formed
  if (!isBox(env.observationSpace)) problems.push(`${id}: observation space must be a Box`);
  const actionRng = Rng.fromSeed(seed).fork('conformance/actions');
  const actions: Action[] = Array.from({ length: steps }, () => env.actionSpace.sample(actionRng));
  const outside = actions.find((a) => !env.actionSpace.contains(a));
  if (outside !== undefined) {
    // The rollouts below step with sampled actions; with a broken sampler they would only report its fault.
    problems.push(`${id}: actionSpace.sample() returned ${String(outside)}, which it does not contain`);
    env.close?.();
    return problems;
  }

  // 2. step before reset is refused
  expectThrows(problems, `${id}: step() before reset() must throw`, () => env.step(actions[0] as Action));

  // 3. reset/step shapes, types and containment; 4. episode end is final until reset
  const rollout = (e: Env): { hash: string; ended: boolean } => {
    const hasher = new TrajectoryHasher();
    const first = e.reset({ seed });
    checkObservation(problems, id, 'reset', first.observation, e, obsSize);
    if (typeof first.info !== 'object' || first.info === null) problems.push(`${id}: reset info must be an object`);
    hasher.observation(first.observation);
    for (let t = 0; t < steps; t++) {
      const action = actions[t] as Action;
      const r = e.step(action);
      checkObservation(problems, id, `step ${t}`, r.observation, e, obsSize);
      if (typeof r.reward !== 'number' || !Number.isFinite(r.reward)) problems.push(`${id}: step ${t} reward ${r.reward} is not a finite number`);
      if (typeof r.terminated !== 'boolean' || typeof r.truncated !== 'boolean') problems.push(`${id}: step ${t} terminated/truncated must be booleans`);
      if (typeof r.info !== 'object' || r.info === null) problems.push(`${id}: step ${t} info must be an object`);
      hasher.step(action, r.reward, r.observation);
      if (r.terminated || r.truncated) {
        expectThrows(problems, `${id}: step() after the episode ended must throw`, () => e.step(action));
        return { hash: hasher.digest(), ended: true };
      }
    }
    return { hash: hasher.digest(), ended: false };
  };
  const a = rollout(env);

  // 5. seeding reproduces: the same seed and actions give the same trajectory, on this and a fresh instance
  const b = rollout(env);
  if (a.hash !== b.hash) problems.push(`${id}: reset({ seed }) twice with the same actions gave different trajectories`);
  const c = rollout(makeEnv());
  if (a.hash !== c.hash) problems.push(`${id}: two instances with the same seed and actions gave different trajectories`);

  // 6. invalid actions are rejected with an error naming the env, the action and the space
  env.reset({ seed });
  for (const bad of invalidActions(env)) {
    try {
      env.step(bad);
      problems.push(`${id}: invalid action ${String(bad)} was accepted`);
      env.reset({ seed });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (!(error instanceof TwinlabError) || error.code !== 'INVALID_ACTION') problems.push(`${id}: invalid action must throw TwinlabError INVALID_ACTION, got: ${message}`);
      else if (!message.includes(id) || !message.includes(env.actionSpace.toString())) problems.push(`${id}: invalid-action message must name env id and space, got: ${message}`);
    }
  }

  // 7. state save/restore (keyframes) continues identically, when the env supports it
  if (env.getState && env.setState) {
    env.reset({ seed });
    const half = Math.min(10, steps);
    let ended = false;
    for (let t = 0; t < half && !ended; t++) {
      const r = env.step(actions[t] as Action);
      ended = r.terminated || r.truncated;
    }
    if (!ended) {
      const saved = JSON.parse(JSON.stringify(env.getState()));
      const continueFrom = (e: Env): string => {
        const h = new TrajectoryHasher();
        for (let t = half; t < Math.min(steps, half + 30); t++) {
          const r = e.step(actions[t] as Action);
          h.step(actions[t] as Action, r.reward, r.observation);
          if (r.terminated || r.truncated) break;
        }
        return h.digest();
      };
      const original = continueFrom(env);
      const restored = makeEnv();
      restored.reset({ seed });
      restored.setState?.(saved);
      if (continueFrom(restored) !== original) problems.push(`${id}: setState(getState()) does not continue identically`);
    }
  }
  env.close?.();
  return problems;
}

function checkObservation(problems: string[], id: string, where: string, obs: unknown, env: Env, size: number): void {
  if (!(obs instanceof Float32Array)) {
    problems.push(`${id}: ${where} observation must be a Float32Array`);
    return;
  }
  if (obs.length !== size) problems.push(`${id}: ${where} observation has length ${obs.length}, space says ${size}`);
  else if (!env.observationSpace.contains(obs)) problems.push(`${id}: ${where} observation [${Array.from(obs).join(', ')}] is outside ${env.observationSpace.toString()}`);
}

function invalidActions(env: Env): Action[] {
  const space = env.actionSpace;
  if (isDiscrete(space)) return [space.start + space.n, space.start - 1, space.start + 0.5, Number.NaN];
  if (isBox(space)) {
    const tooHigh = Float32Array.from(space.high, (h, i) => (Number.isFinite(h) ? h + Math.max(1, Math.abs(h)) : (space.low[i] as number)));
    const bad: Action[] = [new Float32Array(space.size + 1), Float32Array.from(space.low, () => Number.NaN)];
    if (space.high.some((h) => Number.isFinite(h))) bad.push(tooHigh);
    return bad;
  }
  if (isMultiDiscrete(space)) return [Int32Array.from(space.nvec), new Int32Array(space.nvec.length + 1)];
  return [];
}

function expectThrows(problems: string[], message: string, fn: () => unknown): void {
  try {
    fn();
    problems.push(message);
  } catch {
    /* expected */
  }
}
