import type { Server, Socket } from 'socket.io';
import { z } from 'zod';
import { isStreamingTrialSpec } from '../experiments/block-patients.js';
import type { Store, StoredEvent } from '../experiments/store.js';
import { type EventMessage, experimentRoom, runRoom, SOCKET_MESSAGES, type StatusMessage } from './protocol.js';

/**
 * Relays persisted events from the store to socket.io rooms. The store is the single source of
 * order: events get their per-experiment `seq` when they are written (by this process's runner or by
 * a CLI process writing the same database), and the relay polls for rows after the last seq it sent.
 *
 * Gap-free late joining: on `subscribe { afterSeq }` the relay replays every stored event in
 * (afterSeq, relayed] to the client, then joins it to the room. The replay reads the store in pages of
 * REPLAY_PAGE events and sends them a few at a time; all replays of all sockets share one round-robin
 * pump that yields to the event loop (setImmediate) after REPLAY_BUDGET_MS, so a flood of subscribes
 * cannot stall the server.
 * While a replay runs `relayed` may advance (the poller keeps sending live events to the room, which
 * this socket has not joined yet); the replay simply chases it, and the final page and the join happen
 * in the same tick — so together with the live stream the client sees each event exactly once, in
 * seq order.
 *
 * Limits: a new subscribe to a room supersedes a replay still running for that room (its ack says so),
 * and a socket may have at most MAX_REPLAYS_PER_SOCKET replays running; more are refused with a
 * protocol error.
 */
export const REPLAY_PAGE = 500;
export const MAX_REPLAYS_PER_SOCKET = 4;
/** Milliseconds of replay work per event-loop turn before yielding. */
const REPLAY_BUDGET_MS = 3;
/** Events one replay emits (and rows it scans) per step between budget checks. */
const EMIT_CHUNK = 50;
const SCAN_CHUNK = 200;
/** Events all replays together emit per event-loop turn. */
const EMITS_PER_TURN = 200;

const SubscribeSchema = z.strictObject({
  experimentId: z.string().min(1).max(200),
  jobId: z.string().min(1).max(300).optional(),
  afterSeq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
});

interface Tracked {
  relayed: number;
  status: string;
  jobStatus: Map<string, string>;
  /** Replays in progress; the entry is not dropped while any run. */
  replays: number;
}

type Ack = (reply: unknown) => void;

interface Replay {
  socket: Socket;
  room: string;
  experimentId: string;
  jobId: string | undefined;
  cursor: number;
  /** The current page read from the store, and the next row of it to send. */
  page: StoredEvent[];
  next: number;
  /** Events sent so far. */
  emitted: number;
  t: Tracked;
  reply: Ack | undefined;
  done: boolean;
}

export class EventRelay {
  private readonly tracked = new Map<string, Tracked>();
  private timer: NodeJS.Timeout | undefined;
  /** Round-robin queue of running replays, and each socket's replays by room. */
  private readonly queue: Replay[] = [];
  private readonly bySocket = new Map<string, Map<string, Replay>>();
  private pumping = false;

  constructor(
    private readonly io: Server,
    private readonly store: Store,
    private readonly pollMs = 20,
  ) {}

  start(): void {
    this.io.on('connection', (socket) => this.onConnection(socket));
    this.timer = setInterval(() => this.poll(), this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const r of this.queue) this.finish(r, undefined);
    this.queue.length = 0;
  }

  /** Start relaying an experiment (called when one starts, and on subscribe). */
  track(experimentId: string): Tracked | undefined {
    let t = this.tracked.get(experimentId);
    if (t) return t;
    const experiment = this.store.getExperiment(experimentId);
    if (!experiment) return undefined;
    t = { relayed: this.store.lastSeq(experimentId), status: experiment.status, jobStatus: new Map(), replays: 0 };
    for (const job of this.store.jobStatuses(experimentId)) t.jobStatus.set(job.id, job.status);
    this.tracked.set(experimentId, t);
    return t;
  }

  /** Replays currently running (for tests and health checks). */
  get activeReplays(): number {
    return this.queue.length;
  }

  private onConnection(socket: Socket): void {
    const replays = new Map<string, Replay>();
    this.bySocket.set(socket.id, replays);
    socket.on('disconnect', () => {
      for (const r of replays.values()) this.finish(r, undefined);
      this.bySocket.delete(socket.id);
    });
    socket.on(SOCKET_MESSAGES.subscribe, (raw: unknown, ack?: unknown) => {
      const reply = typeof ack === 'function' ? (ack as Ack) : undefined;
      const parsed = SubscribeSchema.safeParse(raw);
      if (!parsed.success) {
        const message = parsed.error.issues.map((i) => `${['subscribe', ...i.path.map(String)].join('.')}: ${i.message}`).join('; ');
        socket.emit(SOCKET_MESSAGES.error, { message });
        reply?.({ ok: false, error: message });
        return;
      }
      const { experimentId, jobId, afterSeq } = parsed.data;
      try {
        const room = jobId ? runRoom(jobId) : experimentRoom(experimentId);
        const previous = replays.get(room);
        if (previous) this.finish(previous, { ok: false, error: `superseded by a newer subscribe to ${room}` });
        else if (replays.size >= MAX_REPLAYS_PER_SOCKET) {
          const message = `subscribe: at most ${MAX_REPLAYS_PER_SOCKET} history replays may run at once per connection; wait for an ack before subscribing again`;
          socket.emit(SOCKET_MESSAGES.error, { message });
          reply?.({ ok: false, error: message });
          return;
        }
        const t = this.track(experimentId);
        if (!t) {
          reply?.({ ok: false, error: `unknown experiment "${experimentId}"` });
          return;
        }
        // Re-subscribing restarts the stream from afterSeq: out of the room until the replay is done.
        void socket.leave(room);
        // Counted before the poll below: a finished experiment with an empty room would otherwise be
        // dropped from tracking by that poll, and this client would never get its later status changes.
        t.replays++;
        // A client that read history over REST may be ahead of the relay: relay up to the store's
        // head first (this socket is not in the room), so the room never re-sends what it has.
        if (afterSeq > t.relayed) this.pollExperiment(experimentId, t);
        const replay: Replay = { socket, room, experimentId, jobId, cursor: afterSeq, page: [], next: 0, emitted: 0, t, reply, done: false };
        replays.set(room, replay);
        this.queue.push(replay);
        this.pump();
      } catch (error) {
        reply?.({ ok: false, error: error instanceof Error ? error.message : String(error) });
      }
    });
    socket.on(SOCKET_MESSAGES.unsubscribe, (raw: unknown) => {
      const parsed = SubscribeSchema.partial({ afterSeq: true }).safeParse(raw);
      if (!parsed.success) return;
      const room = parsed.data.jobId ? runRoom(parsed.data.jobId) : experimentRoom(parsed.data.experimentId);
      const running = replays.get(room);
      if (running) this.finish(running, { ok: false, error: `unsubscribed from ${room}` });
      void socket.leave(room);
    });
  }

  /** Ends a replay (completed, superseded, cancelled or its socket gone) and acks it once. */
  private finish(r: Replay, reply: unknown): void {
    if (r.done) return;
    r.done = true;
    r.t.replays--;
    const mine = this.bySocket.get(r.socket.id);
    if (mine?.get(r.room) === r) mine.delete(r.room);
    if (reply !== undefined) r.reply?.(reply);
  }

  /**
   * Runs replays round-robin, a few events each, until REPLAY_BUDGET_MS or EMITS_PER_TURN is spent,
   * then yields (setImmediate). Each emit costs again when its frame is written, later in the loop,
   * hence the event cap besides the time budget. A socket whose previous frames are still being written
   * is skipped (backpressure: a slow reader holds at most about one chunk in the server's buffers).
   */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    let progressed = false;
    const turn = () => {
      this.pumping = false;
      const started = performance.now();
      let emitted = 0;
      let blockedInARow = 0;
      while (this.queue.length > 0 && blockedInARow < this.queue.length && emitted < EMITS_PER_TURN && performance.now() - started < REPLAY_BUDGET_MS) {
        const r = this.queue.shift() as Replay;
        if (r.done) continue;
        if (!r.socket.connected) {
          this.finish(r, undefined);
          continue;
        }
        if (!r.socket.conn.transport.writable) {
          this.queue.push(r);
          blockedInARow++;
          continue;
        }
        blockedInARow = 0;
        const before = r.emitted;
        if (!this.replayStep(r)) this.queue.push(r);
        emitted += r.emitted - before;
      }
      progressed = emitted > 0;
      if (this.queue.length === 0 || this.pumping) return;
      this.pumping = true;
      // Only waiting on slow sockets: poll for them with a timer instead of spinning on setImmediate.
      if (progressed) setImmediate(turn);
      else setTimeout(turn, 2);
    };
    setImmediate(turn);
  }

  /**
   * Sends the next few events of a replay (EMIT_CHUNK at most, so the pump can keep to its time
   * budget: each emit also costs a socket write later); true when it has caught up and joined.
   */
  private replayStep(r: Replay): boolean {
    const { socket, experimentId, jobId, t } = r;
    try {
      let emitted = 0;
      let scanned = 0;
      let exhausted = false;
      while (r.cursor < t.relayed && emitted < EMIT_CHUNK && scanned < SCAN_CHUNK) {
        if (r.next >= r.page.length) {
          r.page = this.store.eventsAfter(experimentId, r.cursor, REPLAY_PAGE);
          r.next = 0;
          if (r.page.length === 0) {
            exhausted = true;
            break;
          }
        }
        const row = r.page[r.next] as StoredEvent;
        // Beyond what the room has been sent: the live stream delivers it after the join.
        if (row.seq > t.relayed) {
          exhausted = true;
          break;
        }
        r.next++;
        scanned++;
        if (!jobId || row.jobId === jobId) {
          socket.emit(SOCKET_MESSAGES.event, { experimentId, seq: row.seq, jobId: row.jobId, event: row.event } satisfies EventMessage);
          emitted++;
          r.emitted++;
        }
        r.cursor = row.seq;
      }
      if (r.cursor < t.relayed && !exhausted) return false;
      // Caught up with what the room has been sent: join in this same tick, so nothing falls between.
      void socket.join(r.room);
      this.finish(r, { ok: true, relayed: t.relayed, status: t.status });
    } catch (error) {
      this.finish(r, { ok: false, error: error instanceof Error ? error.message : String(error) });
    }
    return true;
  }

  /** One polling round: new events and status changes of every tracked experiment. */
  poll(): void {
    for (const [experimentId, t] of this.tracked) this.pollExperiment(experimentId, t);
  }

  /** Relay what the store holds beyond `t.relayed` to the experiment's rooms, then its status. */
  private pollExperiment(experimentId: string, t: Tracked): void {
    try {
      for (;;) {
        const batch = this.store.eventsAfter(experimentId, t.relayed, 2000);
        if (batch.length === 0) break;
        for (const row of batch) {
          const message: EventMessage = { experimentId, seq: row.seq, jobId: row.jobId, event: row.event };
          this.io.to(experimentRoom(experimentId)).emit(SOCKET_MESSAGES.event, message);
          if (row.jobId) this.io.to(runRoom(row.jobId)).emit(SOCKET_MESSAGES.event, message);
          t.relayed = row.seq;
        }
        if (batch.length < 2000) break;
      }
      this.pollStatus(experimentId, t);
    } catch {
      // A transient read error (e.g. the database is busy) is retried on the next tick.
    }
  }

  private pollStatus(experimentId: string, t: Tracked): void {
    const experiment = this.store.getExperiment(experimentId);
    if (!experiment) return;
    // ids and statuses only (never the results: a streaming trial's blocks hold every patient's values)
    const jobs = this.store.jobStatuses(experimentId);
    let changed = experiment.status !== t.status;
    const changedJobs: { id: string; status: string }[] = [];
    for (const job of jobs) {
      if (t.jobStatus.get(job.id) !== job.status) {
        changed = true;
        changedJobs.push(job);
        t.jobStatus.set(job.id, job.status);
      }
    }
    t.status = experiment.status;
    if (changed) {
      // A streaming trial may have 100,000 blocks: its messages carry the changes and the counts, not every job.
      const message: StatusMessage = isStreamingTrialSpec(experiment.spec)
        ? { experimentId, status: experiment.status, jobs: changedJobs, changed: true, progress: this.store.jobProgress(experimentId) }
        : { experimentId, status: experiment.status, jobs };
      this.io.to(experimentRoom(experimentId)).emit(SOCKET_MESSAGES.status, message);
    }
    const room = this.io.sockets.adapter.rooms.get(experimentRoom(experimentId));
    const terminal = ['finished', 'failed', 'cancelled'].includes(experiment.status);
    if (terminal && (!room || room.size === 0) && t.replays === 0) this.tracked.delete(experimentId);
  }
}
