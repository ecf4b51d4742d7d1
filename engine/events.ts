/**
 * The typed event stream of docs/DESIGN.md ("one stream, three readers": the store persists it, the server
 * relays it over socket.io, the CLI draws progress from it). Training and trials emit these; every
 * event names the run it belongs to. `seq` is assigned by whoever persists the stream.
 */
export const EVENT_TYPES = {
  runStarted: 'run.started',
  episodeEnded: 'episode.ended',
  trainMetrics: 'train.metrics',
  evalCompleted: 'eval.completed',
  checkpointSaved: 'checkpoint.saved',
  trajectoryFrame: 'trajectory.frame',
  progress: 'run.progress',
  runFinished: 'run.finished',
  runFailed: 'run.failed',
} as const;

export type EventType = (typeof EVENT_TYPES)[keyof typeof EVENT_TYPES];

interface EventBase<T extends EventType, D> {
  type: T;
  /** Env steps done by the run when the event was emitted (the x axis of learning curves). */
  step: number;
  data: D;
}

export type RunStartedEvent = EventBase<'run.started', { envId: string; agent: string; seed: number; config: Record<string, unknown>; backend?: string; tfjsVersion?: string; codeVersion?: string }>;
export type EpisodeEndedEvent = EventBase<'episode.ended', { episode: number; return: number; length: number; terminated: boolean; metrics?: Record<string, number> }>;
export type TrainMetricsEvent = EventBase<
  'train.metrics',
  {
    loss: number;
    meanQ: number;
    epsilon: number;
    stepsPerSecond: number;
    gradientSteps: number;
    beta?: number;
    /** DQN shield: replaced choices since the last metrics and their share of the decisions. */
    shieldInterventions?: number;
    shieldInterventionRate?: number;
    /** DQN constraint: λ now, mean episode cost since the last metrics and its excess over the budget. */
    lambda?: number;
    episodeCost?: number;
    constraintViolation?: number;
  }
>;
export type EvalCompletedEvent = EventBase<'eval.completed', { meanReturn: number; stdReturn: number; episodes: number; returns: number[]; hash: string; metrics?: Record<string, number> }>;
export type CheckpointSavedEvent = EventBase<'checkpoint.saved', { path: string }>;
/** One step of a running episode (trial spec `frames: true`): t = steps taken; t = 0 is the reset (action null, reward 0). */
export type TrajectoryFrameEvent = EventBase<'trajectory.frame', { episode: number; t: number; observation: number[]; action: number | number[] | null; reward: number; info?: Record<string, unknown> }>;
export type ProgressEvent = EventBase<'run.progress', { done: number; total: number; unit: string }>;
export type RunFinishedEvent = EventBase<'run.finished', { result: Record<string, unknown> }>;
export type RunFailedEvent = EventBase<'run.failed', { error: string; stack?: string }>;

export type TwinlabEvent =
  | RunStartedEvent
  | EpisodeEndedEvent
  | TrainMetricsEvent
  | EvalCompletedEvent
  | CheckpointSavedEvent
  | TrajectoryFrameEvent
  | ProgressEvent
  | RunFinishedEvent
  | RunFailedEvent;

export type EventSink = (event: TwinlabEvent) => void;
