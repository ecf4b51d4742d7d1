import type { Env, Info } from '../../engine/env.js';
import type { EpisodeLog } from '../../engine/episode-log.js';
import { TwinlabError } from '../../engine/errors.js';
import type { Rng } from '../../engine/random.js';
import type { Discrete } from '../../engine/spaces.js';
import { isDiscrete } from '../../engine/spaces.js';
import type { EndpointDefinition } from '../../engine/twin.js';
import { RecordEpisode } from '../../engine/wrappers.js';
import { type Policy, policyContext } from '../../policies/policy.js';

/**
 * Counterfactual rollouts from a logged decision. An episode is determined by (env id, env options,
 * reset seed, policy and its random stream), so the exact twin state before step t is rebuilt by
 * re-running the episode: reset with the logged seed, the policy choosing at every step < t (its
 * choices must equal the logged actions — otherwise the log does not belong to this policy and we
 * refuse). Each branch then takes action `a` at steps t … t+H−1 and lets the same policy act from
 * t+H to the end of the episode. During the forced steps the policy still sees every observation and
 * draws from its stream (its internal state — integrators, counters, random stream — evolves as in
 * the factual run, only its choice is overridden).
 *
 * Given the logged action and H = 1 the branch is the logged episode itself, bit for bit (same
 * trajectory hash); test/evaluation/explain-decisions.test.ts checks it.
 */
export interface CounterfactualRequest {
  /** Builds a fresh env (same id and options as the logged episode). */
  makeEnv: () => Env;
  /** Builds a fresh policy for an env (the arm's policy, shield included). */
  makePolicy: (env: Env) => Policy;
  /** A fresh copy of the policy's random stream for the episode. */
  policyRng: () => Rng;
  log: EpisodeLog;
  /** Decision step t (0-based index into log.steps). */
  step: number;
  /** Steps H the alternative action is held (default 1). */
  horizon?: number;
  /** Actions to branch on (default every Discrete action). */
  actions?: number[];
  /** Endpoints computed on each branch's whole episode (the twin's). */
  endpoints?: EndpointDefinition[];
}

export interface CounterfactualBranch {
  action: number;
  /** This is the logged action. */
  logged: boolean;
  /** Sum of rewards from step t to the end. */
  returnFromStep: number;
  totalReward: number;
  length: number;
  terminated: boolean;
  truncated: boolean;
  /** Endpoint values of the branch's whole episode. */
  endpoints: Record<string, number>;
  hash: string;
  log: EpisodeLog;
}

export interface CounterfactualResult {
  step: number;
  horizon: number;
  loggedAction: number;
  branches: CounterfactualBranch[];
}

function sameAction(a: number | number[], b: number): boolean {
  return typeof a === 'number' && a === b;
}

/** One branch: action `forced` at steps [t, t + H), the policy elsewhere. */
function branch(request: CounterfactualRequest, forced: number, t: number, H: number): EpisodeLog {
  const { log } = request;
  const env = request.makeEnv();
  try {
    const recorder = new RecordEpisode(env, { keyframeInterval: 0 });
    const policy = request.makePolicy(env);
    const rng = request.policyRng();
    const reset = recorder.reset({ seed: log.seed ?? undefined });
    policy.reset?.(policyContext(env, reset.info));
    let observation = reset.observation;
    let info: Info = reset.info;
    for (let s = 0; ; s++) {
      const chosen = policy.act(observation, rng, info) as number;
      if (s < t && !sameAction((log.steps[s] as { action: number | number[] }).action, chosen)) {
        throw new TwinlabError(
          'CONFLICT',
          `the policy chose ${chosen} at step ${s} but the log records ${JSON.stringify(log.steps[s]?.action)}: this episode was not produced by this policy (or the code changed); replay it to find where`,
        );
      }
      const action = s >= t && s < t + H ? forced : chosen;
      const result = recorder.step(action);
      observation = result.observation;
      info = result.info;
      if (result.terminated || result.truncated) break;
    }
    return recorder.lastEpisode as EpisodeLog;
  } finally {
    env.close?.();
  }
}

export function counterfactuals(request: CounterfactualRequest): CounterfactualResult {
  const { log } = request;
  const t = request.step;
  const H = request.horizon ?? 1;
  if (!Number.isInteger(t) || t < 0 || t >= log.steps.length) {
    throw new TwinlabError('INVALID_ARGUMENT', `step must be an integer in [0, ${log.steps.length}), got ${t}`);
  }
  if (!Number.isInteger(H) || H < 1) throw new TwinlabError('INVALID_ARGUMENT', `horizon must be an integer ≥ 1, got ${H}`);
  if (log.seed === null) throw new TwinlabError('INVALID_ARGUMENT', 'the logged episode has no reset seed: it cannot be re-simulated');
  const loggedAction = log.steps[t]?.action;
  if (typeof loggedAction !== 'number')
    throw new TwinlabError('INVALID_ARGUMENT', 'counterfactuals need a Discrete action space (the logged action is a vector)');
  let actions = request.actions;
  if (actions === undefined) {
    const probe = request.makeEnv();
    const space = probe.actionSpace;
    probe.close?.();
    if (!isDiscrete(space)) throw new TwinlabError('INVALID_ARGUMENT', 'counterfactuals need a Discrete action space');
    const d = space as Discrete;
    actions = Array.from({ length: d.n }, (_, i) => d.start + i);
  }
  const branches = actions.map((action): CounterfactualBranch => {
    const out = branch(request, action, t, H);
    let returnFromStep = 0;
    for (let s = t; s < out.steps.length; s++) returnFromStep += (out.steps[s] as { reward: number }).reward;
    const endpoints: Record<string, number> = {};
    for (const e of request.endpoints ?? []) endpoints[e.id] = e.compute(out);
    return {
      action,
      logged: action === loggedAction,
      returnFromStep,
      totalReward: out.totalReward,
      length: out.length,
      terminated: out.terminated,
      truncated: out.truncated,
      endpoints,
      hash: out.hash,
      log: out,
    };
  });
  return { step: t, horizon: H, loggedAction, branches };
}
