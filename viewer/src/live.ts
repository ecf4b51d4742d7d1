import { io, type Socket } from 'socket.io-client';
import type { EventMessage, StatusMessage } from '../../server/protocol.js';
import { SOCKET_MESSAGES } from '../../server/protocol.js';
import { api, enc } from './api.js';

/**
 * Live event stream of one experiment: history over REST first, then the socket from the last seq
 * seen. Events are delivered exactly once, in seq order (duplicates across the REST/socket seam are
 * dropped by seq).
 */
let socket: Socket | undefined;

export function connection(): Socket {
  if (!socket) {
    socket = io({ transports: ['websocket', 'polling'] });
    const pill = document.getElementById('connection');
    socket.on('connect', () => {
      if (pill) {
        pill.textContent = 'live';
        pill.classList.add('live');
      }
    });
    socket.on('disconnect', () => {
      if (pill) {
        pill.textContent = 'offline';
        pill.classList.remove('live');
      }
    });
  }
  return socket;
}

export interface Subscription {
  close(): void;
  readonly lastSeq: number;
}

/**
 * `afterSeq` given: the caller already has history up to it (e.g. from downsampled metric series), so
 * only newer events are fetched; otherwise the whole history is paged in over REST first.
 */
export async function followExperiment(experimentId: string, onEvents: (events: EventMessage[]) => void, onStatus?: (s: StatusMessage) => void, options: { afterSeq?: number } = {}): Promise<Subscription> {
  let lastSeq = options.afterSeq ?? 0;
  let closed = false;
  const accept = (batch: EventMessage[]) => {
    const fresh = batch.filter((m) => m.seq > lastSeq).sort((a, b) => a.seq - b.seq);
    if (fresh.length === 0) return;
    lastSeq = (fresh[fresh.length - 1] as EventMessage).seq;
    onEvents(fresh);
  };
  for (;;) {
    const page = await api.get<{ events: { seq: number; jobId: string | null; event: EventMessage['event'] }[] }>(`/api/experiments/${enc(experimentId)}/events?after=${lastSeq}&limit=5000`);
    if (page.events.length === 0) break;
    accept(page.events.map((e) => ({ experimentId, seq: e.seq, jobId: e.jobId, event: e.event })));
    if (page.events.length < 5000) break;
  }
  const s = connection();
  const pending: EventMessage[] = [];
  let flushScheduled = false;
  const onEvent = (m: EventMessage) => {
    if (closed || m.experimentId !== experimentId) return;
    pending.push(m);
    if (!flushScheduled) {
      flushScheduled = true;
      requestAnimationFrame(() => {
        flushScheduled = false;
        accept(pending.splice(0));
      });
    }
  };
  const onStatusMessage = (m: StatusMessage) => {
    if (!closed && m.experimentId === experimentId) onStatus?.(m);
  };
  const subscribe = () => s.emit(SOCKET_MESSAGES.subscribe, { experimentId, afterSeq: lastSeq });
  s.on(SOCKET_MESSAGES.event, onEvent);
  s.on(SOCKET_MESSAGES.status, onStatusMessage);
  s.on('connect', subscribe);
  if (s.connected) subscribe();
  return {
    close() {
      closed = true;
      s.off(SOCKET_MESSAGES.event, onEvent);
      s.off(SOCKET_MESSAGES.status, onStatusMessage);
      s.off('connect', subscribe);
      s.emit(SOCKET_MESSAGES.unsubscribe, { experimentId });
    },
    get lastSeq() {
      return lastSeq;
    },
  };
}
