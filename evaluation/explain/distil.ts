import { DecisionTreeClassifier } from 'ml-cart';
import type { Env } from '../../engine/env.js';
import { TwinlabError } from '../../engine/errors.js';
import { deriveSeed, Rng } from '../../engine/random.js';
import { isDiscrete } from '../../engine/spaces.js';
import type { EndpointDefinition } from '../../engine/twin.js';
import { evaluatePolicy } from '../../policies/evaluate.js';
import type { GreedyQPolicy } from '../../policies/greedy-q.js';
import { type Policy, policyContext } from '../../policies/policy.js';

/**
 * Distil a DQN into a shallow decision tree with VIPER (Bastani, Pu & Solar-Lezama, NeurIPS 2018),
 * a Q-weighted DAgger (Ross, Gordon & Bagnell, AISTATS 2011):
 *
 *   D ← ∅; π₀ = the network (the teacher)
 *   for i = 0 … N−1:
 *     roll out πᵢ, collect the visited states s; label each by the teacher, a*(s) = argmax_a Q(s, a),
 *     and weight it by ℓ(s) = max_a Q(s, a) − min_a Q(s, a) (how much a wrong action can cost there)
 *     D ← D ∪ {(s, a*(s), ℓ(s))}
 *     resample `trainSize` points from D with probability ∝ ℓ; fit a CART tree πᵢ₊₁ (Gini, depth ≤ d)
 *   keep the tree with the highest fidelity on held-out states
 *
 * VIPER keeps the tree with the best return on validation rollouts; we keep the most faithful one
 * (cheaper, and the report shows its return next to the network's anyway).
 *
 * Trees are fitted with ml-cart's DecisionTreeClassifier. Its split search tries a threshold between
 * every pair of sorted neighbours with different labels and re-partitions the node for each, O(n²)
 * per feature (8.5 s for 2,000 states of 18 features on the 2-core machine): we restrict candidate
 * thresholds to ≤ 32 quantile midpoints per feature and node (the histogram approximation of
 * LightGBM/XGBoost 'hist'), which took 5,000 states to ≈ 2 s. Leaves are then relabelled with the
 * majority teacher action of the training points reaching them, and the tree is evaluated by our own
 * traversal (the same < / ≥ rule ml-cart uses).
 *
 * Fidelity = share of held-out states where tree and teacher choose the same action, on two state
 * distributions: the teacher's (rollouts of the network on held-out seeds) and the tree's own (its
 * rollouts, labelled by the teacher — where a distilled policy's mistakes compound). Performance:
 * both policies on the same evaluation episodes (same reset seeds: same patients, meals, noise).
 */
export type TreeNode = { feature: number; threshold: number; left: TreeNode; right: TreeNode } | { action: number; samples: number; agreement: number };

export interface DistilOptions {
  /** The network, bound to envs built by `makeEnv`. */
  teacher: GreedyQPolicy;
  makeEnv: () => Env;
  seed: number;
  /** States collected over all iterations (default 20,000). */
  states?: number;
  /** DAgger iterations N (default 4). */
  iterations?: number;
  /** Points resampled from D for each fit (default 5,000). */
  trainSize?: number;
  maxDepth?: number;
  /** Minimum points in a node to split it further (default 10). */
  minSamples?: number;
  /** Held-out states from teacher rollouts (default 5,000). */
  heldOutStates?: number;
  /** Evaluation episodes for the performance comparison (default 10). */
  evalEpisodes?: number;
  /** Endpoints computed on the evaluation episodes (a twin's primary endpoints). */
  endpoints?: EndpointDefinition[];
}

export interface PolicyPerformance {
  meanReturn: number;
  stdReturn: number;
  meanLength: number;
  endpoints: Record<string, number>;
}

export interface Distillation {
  tree: TreeNode;
  depth: number;
  leaves: number;
  featureLabels: readonly string[];
  actionLabels: readonly string[];
  actionStart: number;
  iterations: { states: number; fidelityHeldOut: number }[];
  chosenIteration: number;
  fidelity: { teacherStates: number; treeStates: number; heldOut: number; onTreeStates: number };
  performance: { teacher: PolicyPerformance; tree: PolicyPerformance; episodes: number; seed: number };
}

const CANDIDATE_THRESHOLDS = 32;
let patched = false;

/** Restrict ml-cart's split candidates to quantile midpoints (see the file comment). */
function patchCandidateThresholds(): void {
  if (patched) return;
  patched = true;
  const probe = new DecisionTreeClassifier({});
  probe.train([[0], [1]], [0, 1]);
  const proto = Object.getPrototypeOf(probe.root) as { featureSplit(x: number[], y: number[]): number[] };
  proto.featureSplit = (x: number[]): number[] => {
    const sorted = Float64Array.from(x).sort();
    const out: number[] = [];
    for (let k = 1; k < CANDIDATE_THRESHOLDS; k++) {
      const i = Math.floor((k * sorted.length) / CANDIDATE_THRESHOLDS);
      if (i < 1) continue;
      const a = sorted[i - 1] as number;
      const b = sorted[i] as number;
      if (b > a) {
        const v = (a + b) / 2;
        if (out[out.length - 1] !== v) out.push(v);
      }
    }
    return out;
  };
}

export function treeAction(tree: TreeNode, x: ArrayLike<number>): number {
  let node = tree;
  while ('feature' in node) node = (x[node.feature] as number) < node.threshold ? node.left : node.right;
  return node.action;
}

/** A fitted tree as a Policy over raw observations. */
export class TreePolicy implements Policy<number> {
  readonly kind = 'learned' as const;
  readonly name = 'distilled-tree';
  constructor(
    readonly tree: TreeNode,
    readonly actionStart: number,
  ) {}
  act(observation: Float32Array): number {
    return this.actionStart + treeAction(this.tree, observation);
  }
}

function shape(tree: TreeNode): { depth: number; leaves: number } {
  if (!('feature' in tree)) return { depth: 0, leaves: 1 };
  const l = shape(tree.left);
  const r = shape(tree.right);
  return { depth: 1 + Math.max(l.depth, r.depth), leaves: l.leaves + r.leaves };
}

/** Convert ml-cart's node tree and relabel each leaf by the majority label of the points reaching it. */
function convert(node: import('ml-cart').CartNode, X: Float32Array[], y: Int32Array, rows: number[], numActions: number): TreeNode {
  if (node.left && node.right && node.splitColumn !== undefined && node.splitValue !== undefined) {
    const feature = node.splitColumn;
    const threshold = node.splitValue;
    const left: number[] = [];
    const right: number[] = [];
    for (const r of rows) ((X[r] as Float32Array)[feature] as number) < threshold ? left.push(r) : right.push(r);
    if (left.length > 0 && right.length > 0) {
      return { feature, threshold, left: convert(node.left, X, y, left, numActions), right: convert(node.right, X, y, right, numActions) };
    }
  }
  const counts = new Array<number>(numActions).fill(0);
  for (const r of rows) counts[y[r] as number] = (counts[y[r] as number] as number) + 1;
  let action = 0;
  for (let a = 1; a < numActions; a++) if ((counts[a] as number) > (counts[action] as number)) action = a;
  return { action, samples: rows.length, agreement: rows.length > 0 ? (counts[action] as number) / rows.length : 1 };
}

interface Labelled {
  states: Float32Array[];
  labels: Int32Array;
  weights: Float64Array;
}

/** Roll out `policy` from seeds derived from `seedPath` until `count` states are collected. */
function collect(makeEnv: () => Env, policy: Policy, count: number, seed: number, teacher: GreedyQPolicy): Labelled {
  const env = makeEnv();
  const states: Float32Array[] = [];
  const rng = Rng.fromSeed(seed).fork('policy');
  try {
    for (let episode = 0; states.length < count; episode++) {
      let { observation, info } = env.reset({ seed: deriveSeed(seed, 'episode', episode) });
      policy.reset?.(policyContext(env, info));
      for (;;) {
        states.push(Float32Array.from(observation));
        if (states.length >= count) break;
        const action = policy.act(observation, rng, info);
        const r = env.step(action);
        observation = r.observation;
        info = r.info;
        if (r.terminated || r.truncated) break;
      }
    }
  } finally {
    env.close?.();
  }
  const A = teacher.numActions;
  const labels = new Int32Array(states.length);
  const weights = new Float64Array(states.length);
  const q = new Float32Array(A);
  states.forEach((s, i) => {
    teacher.qValues(s, q);
    let best = 0;
    let lo = q[0] as number;
    for (let a = 1; a < A; a++) {
      if ((q[a] as number) > (q[best] as number)) best = a;
      if ((q[a] as number) < lo) lo = q[a] as number;
    }
    labels[i] = best;
    weights[i] = (q[best] as number) - lo;
  });
  return { states, labels, weights };
}

function fidelity(tree: TreeNode, data: Labelled): number {
  let agree = 0;
  data.states.forEach((s, i) => {
    if (treeAction(tree, s) === data.labels[i]) agree++;
  });
  return data.states.length > 0 ? agree / data.states.length : 1;
}

/** Indices drawn with probability ∝ weight (uniform when every weight is 0). */
function resample(weights: Float64Array, n: number, rng: Rng): number[] {
  const cumulative = new Float64Array(weights.length);
  let total = 0;
  for (let i = 0; i < weights.length; i++) {
    total += Math.max(0, weights[i] as number);
    cumulative[i] = total;
  }
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    if (!(total > 0)) {
      out.push(rng.integer(0, weights.length));
      continue;
    }
    const u = rng.next() * total;
    let lo = 0;
    let hi = weights.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cumulative[mid] as number) > u) hi = mid;
      else lo = mid + 1;
    }
    out.push(lo);
  }
  return out;
}

function fitTree(all: Labelled, options: { trainSize: number; maxDepth: number; minSamples: number; numActions: number }, rng: Rng): TreeNode {
  const rows = resample(all.weights, options.trainSize, rng);
  const X = rows.map((r) => Array.from(all.states[r] as Float32Array));
  const y = rows.map((r) => all.labels[r] as number);
  const classifier = new DecisionTreeClassifier({ gainFunction: 'gini', maxDepth: options.maxDepth, minNumSamples: options.minSamples, gainThreshold: 0 });
  classifier.train(X, y);
  const Xf = rows.map((r) => all.states[r] as Float32Array);
  return convert(
    classifier.root,
    Xf,
    Int32Array.from(y),
    Xf.map((_, i) => i),
    options.numActions,
  );
}

function merge(a: Labelled, b: Labelled): Labelled {
  const labels = new Int32Array(a.labels.length + b.labels.length);
  labels.set(a.labels);
  labels.set(b.labels, a.labels.length);
  const weights = new Float64Array(a.weights.length + b.weights.length);
  weights.set(a.weights);
  weights.set(b.weights, a.weights.length);
  return { states: a.states.concat(b.states), labels, weights };
}

function performance(makeEnv: () => Env, policy: Policy, seed: number, episodes: number, endpoints: EndpointDefinition[]): PolicyPerformance {
  const env = makeEnv();
  try {
    const sums: Record<string, number> = Object.fromEntries(endpoints.map((e) => [e.id, 0]));
    const result = evaluatePolicy(env, policy, {
      seed,
      episodes,
      record: endpoints.length > 0 ? { keyframeInterval: 0 } : undefined,
      onEpisode: (e) => {
        if (e.log) for (const d of endpoints) sums[d.id] = (sums[d.id] as number) + d.compute(e.log);
      },
    });
    const means: Record<string, number> = {};
    for (const d of endpoints) means[d.id] = (sums[d.id] as number) / episodes;
    return { meanReturn: result.meanReturn, stdReturn: result.stdReturn, meanLength: result.meanLength, endpoints: means };
  } finally {
    env.close?.();
  }
}

export function distil(options: DistilOptions): Distillation {
  patchCandidateThresholds();
  const { teacher, makeEnv, seed } = options;
  const total = options.states ?? 20_000;
  const N = options.iterations ?? 4;
  const trainSize = options.trainSize ?? 5_000;
  const maxDepth = options.maxDepth ?? 5;
  const minSamples = options.minSamples ?? 10;
  const episodes = options.evalEpisodes ?? 10;
  for (const [name, v, min] of [
    ['states', total, 1],
    ['iterations', N, 1],
    ['trainSize', trainSize, 2],
    ['maxDepth', maxDepth, 1],
    ['minSamples', minSamples, 1],
    ['evalEpisodes', episodes, 1],
  ] as const) {
    if (!Number.isInteger(v) || v < min) throw new TwinlabError('INVALID_ARGUMENT', `distil: ${name} must be an integer ≥ ${min}, got ${v}`);
  }
  const probe = makeEnv();
  const space = probe.actionSpace;
  const featureLabels = probe.observationSpace.labels ?? Array.from({ length: probe.observationSpace.size }, (_, i) => `x${i}`);
  probe.close?.();
  if (!isDiscrete(space)) throw new TwinlabError('INVALID_ARGUMENT', 'distillation needs a Discrete action space');
  const actionLabels = space.labels ?? Array.from({ length: space.n }, (_, i) => String(space.start + i));
  const numActions = teacher.numActions;
  const rng = Rng.fromSeed(seed).fork('distil/resample');

  const heldOut = collect(makeEnv, teacher, options.heldOutStates ?? 5_000, deriveSeed(seed, 'held-out'), teacher);
  const perIteration = Math.ceil(total / N);
  let data: Labelled = { states: [], labels: new Int32Array(0), weights: new Float64Array(0) };
  let current: Policy = teacher;
  let best: { tree: TreeNode; fidelity: number; iteration: number } | undefined;
  const iterations: Distillation['iterations'] = [];
  for (let i = 0; i < N; i++) {
    data = merge(data, collect(makeEnv, current, perIteration, deriveSeed(seed, 'iteration', i), teacher));
    const tree = fitTree(data, { trainSize, maxDepth, minSamples, numActions }, rng);
    const f = fidelity(tree, heldOut);
    iterations.push({ states: data.states.length, fidelityHeldOut: f });
    if (!best || f > best.fidelity) best = { tree, fidelity: f, iteration: i };
    current = new TreePolicy(tree, teacher.actionStart);
  }
  const chosen = best as { tree: TreeNode; fidelity: number; iteration: number };
  const treePolicy = new TreePolicy(chosen.tree, teacher.actionStart);
  const onTree = collect(makeEnv, treePolicy, options.heldOutStates ?? 5_000, deriveSeed(seed, 'held-out-tree'), teacher);
  const evalSeed = deriveSeed(seed, 'evaluate');
  const endpoints = options.endpoints ?? [];
  return {
    tree: chosen.tree,
    ...shape(chosen.tree),
    featureLabels,
    actionLabels,
    actionStart: teacher.actionStart,
    iterations,
    chosenIteration: chosen.iteration,
    fidelity: { teacherStates: heldOut.states.length, treeStates: onTree.states.length, heldOut: chosen.fidelity, onTreeStates: fidelity(chosen.tree, onTree) },
    performance: {
      teacher: performance(makeEnv, teacher, evalSeed, episodes, endpoints),
      tree: performance(makeEnv, treePolicy, evalSeed, episodes, endpoints),
      episodes,
      seed: evalSeed,
    },
  };
}

function formatNumber(v: number): string {
  return Number.isInteger(v) ? String(v) : Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4);
}

/** The tree as indented if/else text with feature and action labels. */
export function treeText(tree: TreeNode, featureLabels: readonly string[], actionLabels: readonly string[], indent = ''): string {
  if (!('feature' in tree)) {
    return `${indent}→ ${actionLabels[tree.action] ?? tree.action}   (${tree.samples} training states, ${(tree.agreement * 100).toFixed(0)} % agree)\n`;
  }
  const name = featureLabels[tree.feature] ?? `x${tree.feature}`;
  return (
    `${indent}if ${name} < ${formatNumber(tree.threshold)}:\n` +
    treeText(tree.left, featureLabels, actionLabels, `${indent}  `) +
    `${indent}else:  # ${name} ≥ ${formatNumber(tree.threshold)}\n` +
    treeText(tree.right, featureLabels, actionLabels, `${indent}  `)
  );
}

/** The tree for reports: features and actions named. */
export function treeJson(tree: TreeNode, featureLabels: readonly string[], actionLabels: readonly string[]): unknown {
  if (!('feature' in tree))
    return { action: tree.action, label: actionLabels[tree.action] ?? String(tree.action), samples: tree.samples, agreement: tree.agreement };
  return {
    feature: tree.feature,
    label: featureLabels[tree.feature] ?? `x${tree.feature}`,
    threshold: tree.threshold,
    below: treeJson(tree.left, featureLabels, actionLabels),
    atOrAbove: treeJson(tree.right, featureLabels, actionLabels),
  };
}
