import { describe, expect, it } from 'vitest';
import type { TrajectoryFrameEvent, TwinlabEvent } from '../../engine/events.js';
import { decodeEpisode } from '../../experiments/episode-codec.js';
import type { JobTask } from '../../experiments/job-types.js';
import { expandJobs, type TrialJobConfig } from '../../experiments/jobs.js';
import { validateSpec } from '../../experiments/spec.js';
import { runTrialJob } from '../../experiments/trial-job.js';

/** A small ward trial (the twin the viewer follows live); `frames` on or off. */
const spec = (frames: boolean) =>
  validateSpec({
    kind: 'trial',
    name: 'frames',
    seed: 3,
    cohort: { twin: 'hospital', population: 'ward-week', size: 1 },
    arms: [{ name: 'fcfs', policy: 'hospital/fcfs' }],
    scenario: { beds: 6, warmupDays: 2, nursesDay: 2, nursesNight: 1 },
    duration: { steps: 12, episodes: 2 },
    endpoints: { primary: ['mortality'] },
    ...(frames ? { frames: true } : {}),
  });

async function run(frames: boolean) {
  const job = expandJobs('f', spec(frames))[0] as NonNullable<ReturnType<typeof expandJobs>[number]>;
  const events: TwinlabEvent[] = [];
  const outcome = await runTrialJob({ ...job, experimentId: 'f', dataDir: '.' } as JobTask, job.config as TrialJobConfig, (e) => events.push(e));
  return { config: job.config as TrialJobConfig, events, outcome };
}

describe('trial spec `frames: true`: every step of a running episode as a trajectory.frame event', () => {
  it('frames equal the stored episode step for step (reset at t = 0), and change nothing else', async () => {
    const on = await run(true);
    const off = await run(false);
    expect(on.config.frames).toBe(true);
    expect(off.config.frames).toBeUndefined();
    expect(off.events.some((e) => e.type === 'trajectory.frame')).toBe(false);
    // same results, same stored episodes
    expect(on.outcome.result).toEqual(off.outcome.result);
    const frames = on.events.filter((e): e is TrajectoryFrameEvent => e.type === 'trajectory.frame');
    expect(frames).toHaveLength(2 * 13);
    for (const [k, stored] of on.outcome.episodes.entries()) {
      const log = decodeEpisode((stored.encoded as { bytes: Uint8Array }).bytes);
      const mine = frames.filter((f) => f.data.episode === k);
      expect(mine.map((f) => f.data.t)).toEqual(Array.from({ length: 13 }, (_, t) => t));
      expect(mine[0]?.data.action).toBeNull();
      expect(mine[0]?.data.info).toEqual(log.resetInfo);
      expect(mine[0]?.data.observation).toEqual(log.initialObservation);
      for (const step of log.steps) {
        const f = mine[step.step + 1]?.data;
        expect(f?.info).toEqual(step.info);
        expect(f?.observation).toEqual(step.observation);
        expect(f?.action).toEqual(step.action);
        expect(f?.reward).toBe(step.reward);
      }
      // a frame is a copy: the env reuses its info object, yet each frame keeps its own step's ward
      expect(new Set(mine.map((f) => (f.data.info?.ward as { minute: number } | undefined)?.minute)).size).toBe(13);
    }
  }, 60_000);
});
