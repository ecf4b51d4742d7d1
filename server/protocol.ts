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
  /** client → server: `{ twinId }`, join room `twin:<id>`; the ack carries the twin's current live state. */
  subscribeTwin: 'subscribe-twin',
  unsubscribeTwin: 'unsubscribe-twin',
  /** server → client: a live twin assimilated new rows (TwinStateMessage). */
  twinUpdate: 'twin-update',
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
  /** Every job's status; for a streaming trial (`changed: true`) only the jobs whose status changed since the previous message. */
  jobs: { id: string; status: string }[];
  /** Streaming trials only: `jobs` holds the changes, and `progress` the jobs and patients per status (`Store.jobProgress`). */
  changed?: true;
  progress?: { total: number; patients: number; byStatus: Record<string, { jobs: number; patients: number }> };
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

export function twinRoom(twinId: string): string {
  return `twin:${twinId}`;
}

export interface HypoRisk {
  /** P(model glucose < 70 mg/dL at some slot within 30 / 60 min), over the particles' weights. */
  within30: number;
  within60: number;
  threshold: number;
  /** within60 > threshold */
  flag: boolean;
}

/** A live personal twin (server/twins.ts): where its living profile is and what it forecasts. */
export interface TwinLiveState {
  twinId: string;
  /** `live` once the filter runs; `empty` for a twin without data yet (no dataset, no rows). */
  status: 'live' | 'empty';
  /** The last slot the filter has assimilated (the forecast origin), ISO 8601 UTC. */
  lastSlotTime: string | null;
  slots: number;
  /** Rows appended since the fit (stored in twin_observations). */
  appended: number;
  /** CGM readings the filter has assimilated. */
  readings: number;
  forecast: { horizonMin: number; mean: number; lo: number; hi: number }[];
  hypo: HypoRisk | null;
}

export interface TwinStateMessage {
  twinId: string;
  state: TwinLiveState;
  /** The rows just assimilated. */
  rows: { time: string; cgm: number | null; basal: number; bolus: number; carbs: number }[];
}
