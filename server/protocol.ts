/**
 * The wire contract between the server and the browser viewer: socket.io message names and payloads,
 * and the JSON error shape of the REST API. The viewer imports these types (type-only), so both sides
 * compile against one definition.
 */
import type { TwinlabEvent } from '../engine/events.js';

export const SOCKET_MESSAGES = {
  /** client → server: start (or resume) receiving an experiment's or a run's events after `afterSeq`. */
  subscribe: 'subscribe',
  unsubscribe: 'unsubscribe',
  /** server → client: one persisted event, with its per-experiment sequence number. */
  event: 'event',
  /** server → client: experiment or job status changed. */
  status: 'status',
  /** server → client: a message the client sent was malformed. */
  error: 'protocol-error',
} as const;

export interface SubscribeMessage {
  experimentId: string;
  /** Only this run's events (room `run:<jobId>`); absent = the whole experiment. */
  jobId?: string;
  /** Last sequence number the client already has (0 = from the start). */
  afterSeq: number;
}

export interface EventMessage {
  experimentId: string;
  seq: number;
  jobId: string | null;
  event: TwinlabEvent;
}

export interface StatusMessage {
  experimentId: string;
  status: string;
  jobs: { id: string; status: string }[];
}

export interface ApiErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

export function experimentRoom(experimentId: string): string {
  return `experiment:${experimentId}`;
}

export function runRoom(jobId: string): string {
  return `run:${jobId}`;
}
