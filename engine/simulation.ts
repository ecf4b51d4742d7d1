import { TwinlabError } from './errors.js';
import { Rng } from './random.js';

/**
 * The agent-based core, in the manner of Mesa or Repast, tuned for clinics.
 *
 * A `Simulation` owns the clock, the named RNG streams, an event queue, its agents (in insertion
 * order) and a `DataCollector`. Agents are virtual patients (physiology state), clinicians (a
 * protocol or a learned policy) and devices (sensor, pump, infusion line).
 *
 * Pipeline of one `step(dt)` (t = sim.time at entry, tEnd = t + dt); the numbers match the code:
 *
 *   1. sense     — every agent's `sense(sim)`, in insertion order (devices sample physiology).
 *   2. decide    — every agent's `decide(sim)` (clinicians choose actions).
 *   3. act       — every agent's `act(sim)` (doses and interventions are applied).
 *   4. integrate — advance from t to tEnd, split at every scheduled event time te in (t, tEnd]:
 *                  every agent's `advance(sim, t_prev, te)` in insertion order, then the clock is
 *                  set to te and all events due at te fire in (time, priority, sequence) order; then
 *                  continue to the next event time, and finally to tEnd. Events scheduled for the
 *                  current time (e.g. by `act`, "bolus now") fire at the start of this phase, before
 *                  any physiology advances.
 *   5. collect   — a new row of the collector: column `time` = tEnd, then every agent's
 *                  `collect(sim, collector)`.
 *
 * Events due at the *start* of a step (time ≤ sim.time: scheduled before the first step, at the
 * start time, or between steps for the current time) fire first, as step 0, before sense — so a
 * meal scheduled at t is visible to every agent's sense at t. An event at exactly tEnd fires inside
 * step 4 of the step ending at tEnd, before collect (intervals are half-open (t, tEnd]).
 *
 * Events fired from an event may schedule further events at the current time or later; those at
 * the current time fire in the same pass (after the ones already fired, if the queue orders them
 * later). `schedule` may not be called while agents are advancing (an agent's `advance`), because
 * the clock is mid-interval there: schedule from `sense`/`decide`/`act`/`collect` or from an event.
 * Agents added during a step take part from the next phase that starts (or, for `advance`, the next
 * sub-interval).
 *
 * Determinism: the simulation reads no clock and no `Math.random`; every draw goes through
 * `sim.rng(name)` = root.fork(name), so adding a consumer never shifts another's numbers.
 */

export interface SimAgent {
  readonly name: string;
  sense?(sim: Simulation): void;
  decide?(sim: Simulation): void;
  act?(sim: Simulation): void;
  /** Advance the agent's continuous state from t0 to t1 (t1 > t0); sim.time === t0 during the call. */
  advance?(sim: Simulation, t0: number, t1: number): void;
  collect?(sim: Simulation, out: DataCollector): void;
}

export interface ScheduledEvent {
  time: number;
  /** Lower fires first among events at the same time (default 0); ties go by insertion order. */
  priority?: number;
  name: string;
  fire(sim: Simulation): void;
}

export interface PendingEvent {
  readonly id: number;
  readonly time: number;
  readonly priority: number;
  readonly name: string;
}

export interface SimulationOptions {
  seed: number | string;
  startTime?: number;
}

// ---------------------------------------------------------------------------------------------
// Data collector
// ---------------------------------------------------------------------------------------------

/**
 * Named numeric columns, one value per row, stored in growable Float64Arrays. A row is opened by
 * `beginRow()` (the simulation does this at every collect); `record(name, value)` fills the current
 * row. A column not recorded in a row holds NaN there; a column first recorded at row k is NaN for
 * rows 0..k−1. Recording the same column twice in one row throws (two agents fighting over a name).
 */
export class DataCollector {
  private readonly series = new Map<string, Float64Array>();
  private readonly filled = new Map<string, number>(); // rows written (incl. NaN padding) per column
  private capacity = 64;
  private nRows = 0;
  private open = false;

  /** Number of rows begun so far (including the open one). */
  get rows(): number {
    return this.nRows;
  }

  /** Column names in order of first appearance. */
  get columnNames(): string[] {
    return [...this.series.keys()];
  }

  has(name: string): boolean {
    return this.series.has(name);
  }

  beginRow(): void {
    if (this.open) this.endRow();
    if (this.nRows === this.capacity) this.grow();
    this.nRows++;
    this.open = true;
  }

  /** Close the current row, padding unrecorded columns with NaN (optional: beginRow closes too). */
  endRow(): void {
    for (const [name, data] of this.series) {
      const filled = this.filled.get(name) as number;
      if (filled < this.nRows) {
        data.fill(Number.NaN, filled, this.nRows);
        this.filled.set(name, this.nRows);
      }
    }
    this.open = false;
  }

  record(name: string, value: number): void {
    if (!this.open) throw new TwinlabError('INVALID_STATE', `DataCollector.record('${name}') outside a row; call beginRow() first`);
    if (typeof value !== 'number') {
      throw new TwinlabError('INVALID_ARGUMENT', `DataCollector.record('${name}') needs a number, got ${typeof value}`);
    }
    let data = this.series.get(name);
    if (data === undefined) {
      data = new Float64Array(this.capacity);
      this.series.set(name, data);
      this.filled.set(name, 0);
    }
    const row = this.nRows - 1;
    const filled = this.filled.get(name) as number;
    if (filled > row) throw new TwinlabError('INVALID_STATE', `column '${name}' recorded twice in row ${row}`);
    if (filled < row) data.fill(Number.NaN, filled, row);
    data[row] = value;
    this.filled.set(name, row + 1);
  }

  /** A copy of the column's values for rows 0..rows−1 (NaN where not recorded). */
  column(name: string): Float64Array {
    const data = this.series.get(name);
    if (data === undefined) {
      throw new TwinlabError('NOT_FOUND', `no column '${name}' (have: ${this.columnNames.join(', ') || 'none'})`);
    }
    const out = data.slice(0, this.nRows);
    const filled = this.filled.get(name) as number;
    if (filled < this.nRows) out.fill(Number.NaN, filled);
    return out;
  }

  /** Row i as a record of every column (NaN where not recorded). */
  row(i: number): Record<string, number> {
    if (!Number.isInteger(i) || i < 0 || i >= this.nRows) {
      throw new TwinlabError('INVALID_ARGUMENT', `row index ${i} out of range [0, ${this.nRows})`);
    }
    const out: Record<string, number> = {};
    for (const [name, data] of this.series) {
      out[name] = i < (this.filled.get(name) as number) ? (data[i] as number) : Number.NaN;
    }
    return out;
  }

  private grow(): void {
    this.capacity *= 2;
    for (const [name, data] of this.series) {
      const next = new Float64Array(this.capacity);
      next.set(data);
      this.series.set(name, next);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Event queue: binary min-heap on (time, priority, seq)
// ---------------------------------------------------------------------------------------------

/** Mutable so fired and dropped entries can be reused (the step loop then allocates nothing per event). */
interface QueueEntry {
  time: number;
  priority: number;
  seq: number;
  event: ScheduledEvent;
  cancelled: boolean;
}

function before(a: QueueEntry, b: QueueEntry): boolean {
  if (a.time !== b.time) return a.time < b.time;
  if (a.priority !== b.priority) return a.priority < b.priority;
  return a.seq < b.seq;
}

class EventHeap {
  private readonly items: QueueEntry[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): QueueEntry | undefined {
    return this.items[0];
  }

  push(entry: QueueEntry): void {
    const items = this.items;
    items.push(entry);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(entry, items[parent] as QueueEntry)) break;
      items[i] = items[parent] as QueueEntry;
      i = parent;
    }
    items[i] = entry;
  }

  pop(): QueueEntry | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    const n = items.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && before(items[r] as QueueEntry, items[l] as QueueEntry) ? r : l;
      if (!before(items[child] as QueueEntry, last)) break;
      items[i] = items[child] as QueueEntry;
      i = child;
    }
    items[i] = last;
    return top;
  }

  /** Live entries in firing order (a sorted copy). */
  sorted(): QueueEntry[] {
    return this.items.filter((e) => !e.cancelled).sort((a, b) => (before(a, b) ? -1 : 1));
  }
}

// ---------------------------------------------------------------------------------------------
// Simulation
// ---------------------------------------------------------------------------------------------

/** The run's start time; throws on a non-finite start time or seed. */
function checkRunOptions(options: SimulationOptions): number {
  if (typeof options.seed === 'number' && !Number.isFinite(options.seed)) {
    throw new TwinlabError('INVALID_ARGUMENT', `seed must be a finite number or a string, got ${options.seed}`);
  }
  const startTime = options.startTime ?? 0;
  if (!Number.isFinite(startTime)) throw new TwinlabError('INVALID_ARGUMENT', `startTime must be finite, got ${startTime}`);
  return startTime;
}

const RECYCLED: ScheduledEvent = { time: 0, name: '(recycled)', fire: () => undefined };

export type SimPhase = 'idle' | 'events' | 'sense' | 'decide' | 'act' | 'integrate' | 'advance' | 'collect';

export class Simulation {
  readonly seed: number | string;
  readonly startTime: number;
  readonly collector = new DataCollector();

  private clock: number;
  private steps = 0;
  private fired = 0;
  private nextSeq = 0;
  private phase: SimPhase = 'idle';
  private readonly streams = new Map<string, Rng>();
  private readonly queue = new EventHeap();
  private readonly live = new Map<number, QueueEntry>();
  /** Entries out of both the heap and `live`, ready for reuse by `schedule`. */
  private readonly spare: QueueEntry[] = [];
  private readonly agentList: SimAgent[] = [];
  private readonly agentsByName = new Map<string, SimAgent>();

  constructor(options: SimulationOptions) {
    const startTime = checkRunOptions(options);
    this.seed = options.seed;
    this.startTime = startTime;
    this.clock = startTime;
  }

  /** Current simulation time (same unit as dt, e.g. minutes). */
  get time(): number {
    return this.clock;
  }

  /** Completed steps. */
  get stepCount(): number {
    return this.steps;
  }

  /** Events fired so far. */
  get eventsFired(): number {
    return this.fired;
  }

  /** The phase being run ('idle' between steps). */
  get currentPhase(): SimPhase {
    return this.phase;
  }

  get agents(): readonly SimAgent[] {
    return this.agentList;
  }

  /** The named RNG stream Rng.fromSeed(seed).fork(name), created once and cached (it keeps its position). */
  rng(name: string): Rng {
    let stream = this.streams.get(name);
    if (stream === undefined) {
      stream = Rng.substream(this.seed, name);
      this.streams.set(name, stream);
    }
    return stream;
  }

  addAgent<A extends SimAgent>(agent: A): A {
    if (typeof agent.name !== 'string' || agent.name.length === 0) {
      throw new TwinlabError('INVALID_ARGUMENT', 'an agent needs a non-empty name');
    }
    if (this.agentsByName.has(agent.name)) {
      throw new TwinlabError('CONFLICT', `an agent named '${agent.name}' is already in the simulation`);
    }
    this.agentList.push(agent);
    this.agentsByName.set(agent.name, agent);
    return agent;
  }

  /** The agent with this name; throws NOT_FOUND if absent. */
  agent<A extends SimAgent = SimAgent>(name: string): A {
    const agent = this.agentsByName.get(name);
    if (agent === undefined) throw new TwinlabError('NOT_FOUND', `no agent named '${name}'`);
    return agent as A;
  }

  /** Queue an event; returns its sequence id (for `cancel`). Times before `sim.time` are rejected. */
  schedule(event: ScheduledEvent): number {
    const { time, name } = event;
    const priority = event.priority ?? 0;
    if (this.phase === 'advance') {
      throw new TwinlabError('INVALID_STATE', `cannot schedule '${name}' while agents are advancing; schedule from sense/decide/act/collect or an event`);
    }
    if (typeof time !== 'number' || !Number.isFinite(time)) {
      throw new TwinlabError('INVALID_ARGUMENT', `event '${name}' has a non-finite time (${time})`);
    }
    if (typeof priority !== 'number' || !Number.isFinite(priority)) {
      throw new TwinlabError('INVALID_ARGUMENT', `event '${name}' has a non-finite priority (${priority})`);
    }
    if (time < this.clock) {
      throw new TwinlabError('INVALID_ARGUMENT', `cannot schedule '${name}' at t=${time}, in the past (now t=${this.clock})`, {
        time,
        now: this.clock,
      });
    }
    if (typeof event.fire !== 'function') throw new TwinlabError('INVALID_ARGUMENT', `event '${name}' has no fire()`);
    const seq = this.nextSeq++;
    let entry = this.spare.pop();
    if (entry === undefined) entry = { time, priority, seq, event, cancelled: false };
    else {
      entry.time = time;
      entry.priority = priority;
      entry.seq = seq;
      entry.event = event;
      entry.cancelled = false;
    }
    this.queue.push(entry);
    this.live.set(seq, entry);
    return seq;
  }

  /** Cancel a pending event; returns false if it already fired, was cancelled, or never existed. */
  cancel(id: number): boolean {
    const entry = this.live.get(id);
    if (entry === undefined) return false;
    entry.cancelled = true;
    this.live.delete(id);
    return true;
  }

  /** Pending (not fired, not cancelled) events in firing order. */
  pendingEvents(): PendingEvent[] {
    return this.queue.sorted().map((e) => ({ id: e.seq, time: e.time, priority: e.priority, name: e.event.name }));
  }

  /** Time of the next pending event, or undefined. */
  nextEventTime(): number | undefined {
    this.dropCancelled();
    return this.queue.peek()?.time;
  }

  /** Run one step of length dt (see the pipeline in the module comment). */
  step(dt: number): void {
    if (typeof dt !== 'number' || !Number.isFinite(dt) || dt <= 0) {
      throw new TwinlabError('INVALID_ARGUMENT', `step dt must be a positive finite number, got ${dt}`);
    }
    this.stepTo(this.clock + dt);
  }

  /**
   * Step with `dt` until the clock reaches `until` exactly (the last step is shortened). Returns the
   * number of steps run.
   */
  runUntil(until: number, dt: number): number {
    if (typeof dt !== 'number' || !Number.isFinite(dt) || dt <= 0) {
      throw new TwinlabError('INVALID_ARGUMENT', `step dt must be a positive finite number, got ${dt}`);
    }
    if (!Number.isFinite(until) || until < this.clock) {
      throw new TwinlabError('INVALID_ARGUMENT', `runUntil(${until}) must be finite and not before now (t=${this.clock})`);
    }
    let n = 0;
    while (this.clock < until) {
      const next = this.clock + dt;
      // Avoid a sliver step from round-off: land on `until` when within a millionth of a step.
      this.stepTo(next >= until - 1e-9 * dt ? until : next);
      n++;
    }
    return n;
  }

  private stepTo(tEnd: number): void {
    if (this.phase !== 'idle') throw new TwinlabError('INVALID_STATE', `step() called re-entrantly (during ${this.phase})`);
    if (!(tEnd > this.clock)) {
      throw new TwinlabError('INVALID_ARGUMENT', `step must move time forward (now t=${this.clock}, end t=${tEnd})`);
    }
    const agents = this.agentList;
    try {
      // 0. events due at the start of the step (time ≤ now) fire before sense.
      this.phase = 'events';
      this.fireDue(this.clock);

      // 1. sense
      this.phase = 'sense';
      for (let i = 0; i < agents.length; i++) (agents[i] as SimAgent).sense?.(this);

      // 2. decide
      this.phase = 'decide';
      for (let i = 0; i < agents.length; i++) (agents[i] as SimAgent).decide?.(this);

      // 3. act
      this.phase = 'act';
      for (let i = 0; i < agents.length; i++) (agents[i] as SimAgent).act?.(this);

      // 4. integrate, split at event times in (t, tEnd]; events scheduled for "now" by act fire first.
      this.phase = 'integrate';
      this.fireDue(this.clock);
      for (;;) {
        this.dropCancelled();
        const next = this.queue.peek();
        const te = next !== undefined && next.time <= tEnd ? next.time : tEnd;
        if (te > this.clock) {
          this.phase = 'advance';
          const t0 = this.clock;
          for (let i = 0; i < agents.length; i++) (agents[i] as SimAgent).advance?.(this, t0, te);
          this.clock = te;
          this.phase = 'integrate';
        }
        if (next === undefined || next.time > tEnd) break;
        this.fireDue(te);
      }
      this.clock = tEnd;

      // 5. collect
      this.phase = 'collect';
      this.collector.beginRow();
      this.collector.record('time', tEnd);
      for (let i = 0; i < agents.length; i++) (agents[i] as SimAgent).collect?.(this, this.collector);
      this.collector.endRow();
      this.steps++;
    } finally {
      this.phase = 'idle';
    }
  }

  /** Fire, in queue order, every live event with time ≤ t (including ones scheduled meanwhile). */
  private fireDue(t: number): void {
    for (;;) {
      const top = this.queue.peek();
      if (top === undefined || top.time > t) return;
      this.queue.pop();
      if (top.cancelled) {
        this.recycle(top);
        continue;
      }
      this.live.delete(top.seq);
      this.fired++;
      const event = top.event;
      this.recycle(top);
      event.fire(this);
    }
  }

  private dropCancelled(): void {
    for (;;) {
      const top = this.queue.peek();
      if (top === undefined || !top.cancelled) return;
      this.queue.pop();
      this.recycle(top);
    }
  }

  private recycle(entry: QueueEntry): void {
    if (this.spare.length < 1024) {
      entry.event = RECYCLED;
      this.spare.push(entry);
    }
  }
}
