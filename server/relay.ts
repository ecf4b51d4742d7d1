import type { Server, Socket } from 'socket.io';
import { z } from 'zod';
import type { Store } from '../experiments/store.js';
import { type EventMessage, experimentRoom, runRoom, SOCKET_MESSAGES, type StatusMessage } from './protocol.js';

/**
 * Relays persisted events from the store to socket.io rooms. The store is the single source of
 * order: events get their per-experiment `seq` when they are written (by this process's runner or by
 * a CLI process writing the same database), and the relay polls for rows after the last seq it sent.
 *
 * Gap-free late joining: on `subscribe { afterSeq }` the relay (synchronously, in one tick) sends the
 * client every stored event in (afterSeq, relayed] and then joins it to the room, so together with
 * the live stream the client sees each event exactly once, in seq order.
 */
const SubscribeSchema = z.strictObject({
  experimentId: z.string().min(1).max(200),
  jobId: z.string().min(1).max(300).optional(),
  afterSeq: z.number().int().min(0),
});

interface Tracked {
  relayed: number;
  status: string;
  jobStatus: Map<string, string>;
}

export class EventRelay {
  private readonly tracked = new Map<string, Tracked>();
  private timer: NodeJS.Timeout | undefined;

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
  }

  /** Start relaying an experiment (called when one starts, and on subscribe). */
  track(experimentId: string): Tracked | undefined {
    let t = this.tracked.get(experimentId);
    if (t) return t;
    const experiment = this.store.getExperiment(experimentId);
    if (!experiment) return undefined;
    t = { relayed: this.store.lastSeq(experimentId), status: experiment.status, jobStatus: new Map() };
    for (const job of this.store.listJobs(experimentId)) t.jobStatus.set(job.id, job.status);
    this.tracked.set(experimentId, t);
    return t;
  }

  private onConnection(socket: Socket): void {
    socket.on(SOCKET_MESSAGES.subscribe, (raw: unknown, ack?: unknown) => {
      const parsed = SubscribeSchema.safeParse(raw);
      const reply = typeof ack === 'function' ? (ack as (r: unknown) => void) : undefined;
      if (!parsed.success) {
        const message = parsed.error.issues.map((i) => `${['subscribe', ...i.path.map(String)].join('.')}: ${i.message}`).join('; ');
        socket.emit(SOCKET_MESSAGES.error, { message });
        reply?.({ ok: false, error: message });
        return;
      }
      const { experimentId, jobId, afterSeq } = parsed.data;
      try {
        const t = this.track(experimentId);
        if (!t) {
          reply?.({ ok: false, error: `unknown experiment "${experimentId}"` });
          return;
        }
        // A client that read history over REST may be ahead of the relay: relay up to the store's
        // head first (this socket is not in the room yet), so the room never re-sends what it has.
        if (afterSeq > t.relayed) this.pollExperiment(experimentId, t);
        let cursor = afterSeq;
        while (cursor < t.relayed) {
          const batch = this.store.eventsAfter(experimentId, cursor, 2000);
          if (batch.length === 0) break;
          for (const row of batch) {
            if (row.seq > t.relayed) break;
            if (!jobId || row.jobId === jobId) socket.emit(SOCKET_MESSAGES.event, { experimentId, seq: row.seq, jobId: row.jobId, event: row.event } satisfies EventMessage);
            cursor = row.seq;
          }
        }
        void socket.join(jobId ? runRoom(jobId) : experimentRoom(experimentId));
        reply?.({ ok: true, relayed: t.relayed, status: t.status });
      } catch (error) {
        reply?.({ ok: false, error: error instanceof Error ? error.message : String(error) });
      }
    });
    socket.on(SOCKET_MESSAGES.unsubscribe, (raw: unknown) => {
      const parsed = SubscribeSchema.partial({ afterSeq: true }).safeParse(raw);
      if (!parsed.success) return;
      void socket.leave(parsed.data.jobId ? runRoom(parsed.data.jobId) : experimentRoom(parsed.data.experimentId));
    });
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
    const jobs = this.store.listJobs(experimentId);
    let changed = experiment.status !== t.status;
    for (const job of jobs) {
      if (t.jobStatus.get(job.id) !== job.status) {
        changed = true;
        t.jobStatus.set(job.id, job.status);
      }
    }
    t.status = experiment.status;
    if (changed) {
      const message: StatusMessage = { experimentId, status: experiment.status, jobs: jobs.map((j) => ({ id: j.id, status: j.status })) };
      this.io.to(experimentRoom(experimentId)).emit(SOCKET_MESSAGES.status, message);
    }
    const room = this.io.sockets.adapter.rooms.get(experimentRoom(experimentId));
    const terminal = ['finished', 'failed', 'cancelled'].includes(experiment.status);
    if (terminal && (!room || room.size === 0)) this.tracked.delete(experimentId);
  }
}
