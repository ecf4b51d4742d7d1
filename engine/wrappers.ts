import type { Env, Info, ResetOptions, ResetResult, StepResult } from './env.js';
import { invalidActionError } from './env.js';
import { EPISODE_LOG_VERSION, type EpisodeLog, type EpisodeStepRecord, type Keyframe } from './episode-log.js';
import { TwinlabError } from './errors.js';
import { TrajectoryHasher } from './hash.js';
import { Rng, type RngState } from './random.js';
import { Box, Discrete, type Action, type Space, isBox } from './spaces.js';

/**
 * Wrappers in the Gymnasium manner. Every wrapper enforces the episode contract itself (no step
 * after the episode ended), so a wrapper that ends an episode (TimeLimit) is respected by the layers
 * above it.
 */
export abstract class Wrapper<A extends Action = Action, InnerA extends Action = Action> implements Env<A> {
  private ended = true;
  private started = false;
  private readonly ownResult: StepResult = { observation: new Float32Array(0), reward: 0, terminated: false, truncated: false, info: {} };
  constructor(readonly env: Env<InnerA>) {}

  get id(): string {
    return this.env.id;
  }
  get observationSpace(): Box {
    return this.env.observationSpace;
  }
  get actionSpace(): Space<A> {
    return this.env.actionSpace as unknown as Space<A>;
  }
  get stepDuration(): Env['stepDuration'] {
    return this.env.stepDuration;
  }

  reset(options?: ResetOptions): ResetResult {
    const result = this.resetWrapped(options ?? {});
    this.ended = false;
    this.started = true;
    return result;
  }

  step(action: A): StepResult {
    if (this.ended) {
      throw new TwinlabError(
        'INVALID_STATE',
        this.started
          ? `${this.id}: step() called after the episode ended (terminated or truncated); call reset() first`
          : `${this.id}: step() called before reset()`,
      );
    }
    const result = this.stepWrapped(action);
    if (result.terminated || result.truncated) this.ended = true;
    return result;
  }

  getState(): unknown {
    return this.env.getState?.();
  }
  setState(state: unknown): void {
    if (!this.env.setState) throw new TwinlabError('INVALID_STATE', `${this.id}: env does not support setState`);
    this.env.setState(state);
  }
  close(): void {
    this.env.close?.();
  }

  /** The innermost env. */
  get unwrapped(): Env {
    let env: Env = this.env as Env;
    while (env instanceof Wrapper) env = env.env as Env;
    return env;
  }

  protected resetWrapped(options: ResetOptions): ResetResult {
    return this.env.reset(options);
  }
  protected abstract stepWrapped(action: A): StepResult;

  /**
   * The inner step result with `observation` replaced, in this wrapper's own (reused) result object.
   * A wrapper that changes the observation must not assign it into the inner result: envs reuse one
   * result object whose `observation` field they set once, so they would return the wrapper's buffer
   * (stale, or of another size) from then on.
   */
  protected withObservation(inner: StepResult, observation: Float32Array): StepResult {
    const r = this.ownResult;
    r.observation = observation;
    r.reward = inner.reward;
    r.terminated = inner.terminated;
    r.truncated = inner.truncated;
    r.info = inner.info;
    return r;
  }
}

/** Truncates an episode after `maxEpisodeSteps` steps (truncated = true unless it terminated on that step). */
export class TimeLimit<A extends Action = Action> extends Wrapper<A, A> {
  private elapsed = 0;
  constructor(
    env: Env<A>,
    readonly maxEpisodeSteps: number,
  ) {
    super(env);
    if (!Number.isInteger(maxEpisodeSteps) || maxEpisodeSteps < 1) {
      throw new TwinlabError('INVALID_ARGUMENT', `TimeLimit needs maxEpisodeSteps ≥ 1, got ${maxEpisodeSteps}`);
    }
  }
  get elapsedSteps(): number {
    return this.elapsed;
  }
  /** The inner env's state plus the step counter, so a restored episode truncates at the same step. */
  override getState(): unknown {
    const inner = this.env.getState?.();
    return inner === undefined ? undefined : { timeLimitElapsed: this.elapsed, env: inner };
  }
  override setState(state: unknown): void {
    const s = state as { timeLimitElapsed?: number; env?: unknown };
    if (typeof s?.timeLimitElapsed !== 'number') throw new TwinlabError('INVALID_ARGUMENT', `${this.id}: TimeLimit state must carry timeLimitElapsed`);
    this.elapsed = s.timeLimitElapsed;
    super.setState(s.env);
  }
  protected override resetWrapped(options: ResetOptions): ResetResult {
    this.elapsed = 0;
    return this.env.reset(options);
  }
  protected stepWrapped(action: A): StepResult {
    const result = this.env.step(action);
    this.elapsed++;
    if (this.elapsed >= this.maxEpisodeSteps && !result.terminated) result.truncated = true;
    return result;
  }
}

/**
 * Additive Gaussian observation noise with per-component standard deviations, clipped to the
 * observation space. Draws come from the substream "observation-noise" of the reset seed.
 */
export class ObservationNoise<A extends Action = Action> extends Wrapper<A, A> {
  private rng: Rng;
  private readonly sd: Float32Array;
  private readonly noisy: Float32Array;
  constructor(env: Env<A>, sd: number | ArrayLike<number>, seed = 0) {
    super(env);
    const size = env.observationSpace.size;
    this.sd = Float32Array.from({ length: size }, (_, i) => (typeof sd === 'number' ? sd : (sd[i] as number)));
    if (this.sd.some((s) => !(s >= 0))) throw new TwinlabError('INVALID_ARGUMENT', 'ObservationNoise: every sd must be ≥ 0');
    this.noisy = new Float32Array(size);
    this.rng = Rng.fromSeed(seed).fork('observation-noise');
  }
  /** The inner state plus the noise stream, so a restored episode draws the same noise. */
  override getState(): unknown {
    const inner = this.env.getState?.();
    return inner === undefined ? undefined : { observationNoiseRng: this.rng.saveState(), env: inner };
  }
  override setState(state: unknown): void {
    const s = state as { observationNoiseRng?: RngState; env?: unknown };
    if (!s?.observationNoiseRng) throw new TwinlabError('INVALID_ARGUMENT', `${this.id}: ObservationNoise state must carry observationNoiseRng`);
    this.rng = Rng.restore(s.observationNoiseRng);
    super.setState(s.env);
  }
  protected override resetWrapped(options: ResetOptions): ResetResult {
    if (options.seed !== undefined) this.rng = Rng.fromSeed(options.seed).fork('observation-noise');
    const result = this.env.reset(options);
    return { observation: this.perturb(result.observation), info: result.info };
  }
  protected stepWrapped(action: A): StepResult {
    const result = this.env.step(action);
    return this.withObservation(result, this.perturb(result.observation));
  }
  private perturb(obs: Float32Array): Float32Array {
    const { low, high } = this.env.observationSpace;
    for (let i = 0; i < obs.length; i++) {
      const v = (obs[i] as number) + (this.sd[i] as number) * this.rng.normal();
      this.noisy[i] = Math.min(high[i] as number, Math.max(low[i] as number, v));
    }
    return this.noisy;
  }
}

/**
 * Each observation component goes missing with probability `rate` at each step; a missing value is
 * replaced by the last observed one (last observation carried forward). The observation is extended
 * by a mask of the same length: 1 = observed this step, 0 = carried forward. The reset observation is
 * always fully observed.
 */
export class MissingObservations<A extends Action = Action> extends Wrapper<A, A> {
  private rng: Rng;
  private readonly space: Box;
  private readonly last: Float32Array;
  private readonly out: Float32Array;
  constructor(
    env: Env<A>,
    readonly rate: number,
    seed = 0,
  ) {
    super(env);
    if (!(rate >= 0 && rate < 1)) throw new TwinlabError('INVALID_ARGUMENT', `MissingObservations rate must be in [0, 1), got ${rate}`);
    const inner = env.observationSpace;
    const n = inner.size;
    this.space = new Box(
      [...inner.low, ...new Array<number>(n).fill(0)],
      [...inner.high, ...new Array<number>(n).fill(1)],
      [2 * n],
      inner.labels ? [...inner.labels, ...inner.labels.map((l) => `${l}_observed`)] : undefined,
    );
    this.last = new Float32Array(n);
    this.out = new Float32Array(2 * n);
    this.rng = Rng.fromSeed(seed).fork('missing-observations');
  }
  override get observationSpace(): Box {
    return this.space;
  }
  /** The inner state plus the missingness stream and the carried-forward values. */
  override getState(): unknown {
    const inner = this.env.getState?.();
    return inner === undefined ? undefined : { missingRng: this.rng.saveState(), last: Array.from(this.last), out: Array.from(this.out), env: inner };
  }
  override setState(state: unknown): void {
    const s = state as { missingRng?: RngState; last?: number[]; out?: number[]; env?: unknown };
    if (!s?.missingRng || !s.last || !s.out)
      throw new TwinlabError('INVALID_ARGUMENT', `${this.id}: MissingObservations state must carry missingRng, last and out`);
    this.rng = Rng.restore(s.missingRng);
    this.last.set(s.last);
    this.out.set(s.out);
    super.setState(s.env);
  }
  protected override resetWrapped(options: ResetOptions): ResetResult {
    if (options.seed !== undefined) this.rng = Rng.fromSeed(options.seed).fork('missing-observations');
    const result = this.env.reset(options);
    this.last.set(result.observation);
    this.out.set(result.observation);
    this.out.fill(1, this.last.length);
    return { observation: this.out, info: result.info };
  }
  protected stepWrapped(action: A): StepResult {
    const result = this.env.step(action);
    const n = this.last.length;
    for (let i = 0; i < n; i++) {
      const observed = this.rng.next() >= this.rate;
      if (observed) this.last[i] = result.observation[i] as number;
      this.out[i] = this.last[i] as number;
      this.out[n + i] = observed ? 1 : 0;
    }
    return this.withObservation(result, this.out);
  }
}

/**
 * Stacks the last `k` observations into one (Gymnasium `FrameStackObservation`, flattened): the
 * observation is [o_{t−k+1}, …, o_{t−1}, o_t], oldest first, each of the inner size n, with the inner
 * Box bounds tiled k times and labels `x@t-j` for the frame j steps back (`x` for the current one).
 * At reset every slot holds the first observation (Gymnasium's `padding_type="reset"`). Gives a
 * memoryless policy the recent trajectory, e.g. how fast a tumour shrinks under the current dose.
 */
export class FrameStack<A extends Action = Action> extends Wrapper<A, A> {
  private readonly space: Box;
  private readonly frames: Float32Array;
  private readonly n: number;
  constructor(
    env: Env<A>,
    readonly k: number,
  ) {
    super(env);
    if (!Number.isInteger(k) || k < 1) throw new TwinlabError('INVALID_ARGUMENT', `FrameStack needs k an integer ≥ 1, got ${k}`);
    const inner = env.observationSpace;
    const n = inner.size;
    this.n = n;
    const tile = (xs: ArrayLike<number>): number[] => Array.from({ length: k * n }, (_, i) => xs[i % n] as number);
    const labels = inner.labels
      ? Array.from({ length: k * n }, (_, i) => {
          const back = k - 1 - Math.floor(i / n);
          const label = inner.labels?.[i % n] as string;
          return back === 0 ? label : `${label}@t-${back}`;
        })
      : undefined;
    this.space = new Box(tile(inner.low), tile(inner.high), [k * n], labels);
    this.frames = new Float32Array(k * n);
  }
  override get observationSpace(): Box {
    return this.space;
  }
  /** The inner state plus the stacked frames, so a restored episode sees the same history. */
  override getState(): unknown {
    const inner = this.env.getState?.();
    return inner === undefined ? undefined : { frameStack: Array.from(this.frames), env: inner };
  }
  override setState(state: unknown): void {
    const s = state as { frameStack?: unknown; env?: unknown };
    if (!Array.isArray(s?.frameStack) || s.frameStack.length !== this.frames.length) {
      throw new TwinlabError('INVALID_ARGUMENT', `${this.id}: FrameStack state must carry frameStack, an array of ${this.frames.length} numbers`);
    }
    super.setState(s.env);
    this.frames.set(s.frameStack as number[]);
  }
  protected override resetWrapped(options: ResetOptions): ResetResult {
    const result = this.env.reset(options);
    for (let j = 0; j < this.k; j++) this.frames.set(result.observation, j * this.n);
    return { observation: this.frames, info: result.info };
  }
  protected stepWrapped(action: A): StepResult {
    const result = this.env.step(action);
    this.frames.copyWithin(0, this.n);
    this.frames.set(result.observation, (this.k - 1) * this.n);
    return this.withObservation(result, this.frames);
  }
}

/**
 * Maps a discrete action index to a continuous dose: index k → `levels[k]` (a row of the Box action).
 * This is how DQN agents dose: e.g. insulin multiples of basal, or chemo dose fractions.
 */
export class DiscreteActions extends Wrapper<number, Float32Array> {
  private readonly space: Discrete;
  private readonly rows: Float32Array[];
  constructor(env: Env<Float32Array>, levels: ReadonlyArray<number | ArrayLike<number>>, labels?: readonly string[]) {
    super(env);
    const inner = env.actionSpace;
    if (!isBox(inner)) throw new TwinlabError('INVALID_ARGUMENT', `${env.id}: DiscreteActions needs a Box action space, got ${inner.toString()}`);
    this.rows = levels.map((level) => (typeof level === 'number' ? Float32Array.of(level) : Float32Array.from(level)));
    for (const [k, row] of this.rows.entries()) {
      if (!inner.contains(row)) {
        throw new TwinlabError('INVALID_ARGUMENT', `${env.id}: discrete level ${k} = [${Array.from(row).join(', ')}] is outside ${inner.toString()}`);
      }
    }
    this.space = new Discrete(this.rows.length, 0, labels ?? this.rows.map((r) => Array.from(r).join(',')));
  }
  override get actionSpace(): Discrete {
    return this.space;
  }
  /** The continuous action that index k stands for. */
  level(k: number): Float32Array {
    return this.rows[k] as Float32Array;
  }
  protected stepWrapped(action: number): StepResult {
    if (!this.space.contains(action)) throw invalidActionError(this.id, action, this.space);
    return this.env.step(this.rows[action] as Float32Array);
  }
}

export interface RecordEpisodeOptions {
  /** Take a keyframe (env.getState()) every this many steps; 0 disables. Default 48. */
  keyframeInterval?: number;
  /** Reduce each step's info to what the log keeps (default: a JSON-safe copy of all of it). */
  selectInfo?: (info: Info) => Info;
  /** Called with each finished episode's log. */
  onEpisode?: (log: EpisodeLog) => void;
}

/** Records every episode as an `EpisodeLog` (docs/DESIGN.md: episode logs and replay). */
export class RecordEpisode<A extends Action = Action> extends Wrapper<A, A> {
  private current: EpisodeLog | null = null;
  private readonly hasher = new TrajectoryHasher();
  private readonly options: Required<Omit<RecordEpisodeOptions, 'onEpisode'>> & Pick<RecordEpisodeOptions, 'onEpisode'>;
  readonly episodes: EpisodeLog[] = [];

  constructor(env: Env<A>, options: RecordEpisodeOptions = {}) {
    super(env);
    this.options = { keyframeInterval: options.keyframeInterval ?? 48, selectInfo: options.selectInfo ?? jsonSafe, onEpisode: options.onEpisode };
  }

  get lastEpisode(): EpisodeLog | undefined {
    return this.episodes[this.episodes.length - 1];
  }

  protected override resetWrapped(options: ResetOptions): ResetResult {
    const result = this.env.reset(options);
    this.hasher.reset().observation(result.observation);
    const keyframes: Keyframe[] = [];
    const state = this.options.keyframeInterval > 0 ? this.env.getState?.() : undefined;
    if (state !== undefined) keyframes.push({ step: 0, state });
    this.current = {
      version: EPISODE_LOG_VERSION,
      envId: this.id,
      seed: options.seed ?? null,
      initialObservation: Array.from(result.observation),
      resetInfo: this.options.selectInfo(result.info),
      steps: [],
      keyframes,
      totalReward: 0,
      length: 0,
      terminated: false,
      truncated: false,
      hash: '',
    };
    return result;
  }

  protected stepWrapped(action: A): StepResult {
    const log = this.current as EpisodeLog;
    const result = this.env.step(action);
    this.hasher.step(action, result.reward, result.observation);
    const record: EpisodeStepRecord = {
      step: log.length,
      action: typeof action === 'number' ? action : Array.from(action),
      reward: result.reward,
      observation: Array.from(result.observation),
      terminated: result.terminated,
      truncated: result.truncated,
      info: this.options.selectInfo(result.info),
    };
    log.steps.push(record);
    log.length++;
    log.totalReward += result.reward;
    const k = this.options.keyframeInterval;
    if (k > 0 && log.length % k === 0 && !(result.terminated || result.truncated)) {
      const state = this.env.getState?.();
      if (state !== undefined) log.keyframes.push({ step: log.length, state });
    }
    if (result.terminated || result.truncated) {
      log.terminated = result.terminated;
      log.truncated = result.truncated;
      log.hash = this.hasher.digest();
      this.episodes.push(log);
      this.options.onEpisode?.(log);
    }
    return result;
  }
}

/**
 * A JSON-safe deep copy: typed arrays become number arrays, functions and undefined are dropped —
 * exactly `JSON.parse(JSON.stringify(info))` with typed arrays as arrays (so NaN/±∞ become null and
 * −0 becomes 0). Primitive fields, the usual case for a step's info, are copied directly: a JSON round
 * trip per step was the largest cost of recording an episode.
 */
export function jsonSafe(info: Info): Info {
  if (typeof (info as { toJSON?: unknown }).toJSON === 'function') return jsonRoundTrip(info);
  const out: Info = {};
  for (const key of Object.keys(info)) {
    const v = info[key];
    switch (typeof v) {
      case 'number':
        out[key] = Number.isFinite(v) ? v + 0 : null; // v + 0 turns −0 into 0, as JSON does
        break;
      case 'string':
      case 'boolean':
        out[key] = v;
        break;
      case 'undefined':
      case 'function':
      case 'symbol':
        break;
      default:
        if (key === '__proto__') return jsonRoundTrip(info);
        if (v === null) out[key] = null;
        else {
          const copy = jsonRoundTrip(v);
          if (copy !== undefined) out[key] = copy;
        }
    }
  }
  return out;
}

function jsonRoundTrip<T>(value: T): T {
  const text = JSON.stringify(value, (_k, v) => (ArrayBuffer.isView(v) && !(v instanceof DataView) ? Array.from(v as unknown as ArrayLike<number>) : v));
  return text === undefined ? (undefined as T) : JSON.parse(text);
}
