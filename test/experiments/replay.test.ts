import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InlineExecutor } from '../../experiments/executor.js';
import { exportRun, verifyReplay } from '../../experiments/replay.js';
import { runExperiment } from '../../experiments/runner.js';
import { Store } from '../../experiments/store.js';

const spec = {
  kind: 'trial',
  name: 'replay glucose',
  seed: 3,
  cohort: { twin: 'glucose', population: 'adult', size: 2 },
  arms: [
    { name: 'pid', policy: 'glucose/pid' },
    { name: 'bb', policy: 'glucose/basal-bolus' },
  ],
  duration: { steps: 96 },
  endpoints: { primary: ['tir'] },
};

let store: Store;
let jobIds: string[];
beforeAll(async () => {
  store = Store.open(mkdtempSync(join(tmpdir(), 'twinlab-replay-')));
  const outcome = await runExperiment({ spec, store, executor: new InlineExecutor() });
  expect(outcome.status).toBe('finished');
  jobIds = outcome.jobs.map((j) => j.id);
});
afterAll(() => store.close());

describe('replay by re-execution', () => {
  it('says identical for every stored episode of a run', async () => {
    for (const id of jobIds) {
      const verdict = await verifyReplay(store, id, 'episode-0');
      expect(verdict).toMatchObject({ identical: true, steps: 96 });
      expect(verdict.identical && verdict.hash).toBe(store.getEpisode(id, 'episode-0')?.hash);
    }
  });

  it('reports the first diverging step when a stored action was tampered with', async () => {
    const id = jobIds[1] as string;
    const log = store.getEpisode(id, 'episode-0');
    const original = log?.steps[40]?.action as number;
    const tampered = original === 0 ? 1 : 0;
    store.replaceEpisodeStep(id, 'episode-0', 40, { action: tampered });
    expect(await verifyReplay(store, id, 'episode-0')).toMatchObject({ identical: false, step: 40, field: 'action', expected: tampered, actual: original });
  });

  it('reports a tampered observation component and reward by field', async () => {
    const id = jobIds[2] as string;
    const obs = store.getEpisode(id, 'episode-0')?.steps[7]?.observation as number[];
    store.replaceEpisodeStep(id, 'episode-0', 7, { observation: obs.map((v, j) => (j === 0 ? v + 1 : v)) });
    expect(await verifyReplay(store, id, 'episode-0')).toMatchObject({ identical: false, step: 7, field: 'observation[0]', expected: (obs[0] as number) + 1, actual: obs[0] });
    const id3 = jobIds[3] as string;
    store.replaceEpisodeStep(id3, 'episode-0', 95, { reward: 1e9 });
    expect(await verifyReplay(store, id3, 'episode-0')).toMatchObject({ identical: false, step: 95, field: 'reward', expected: 1e9 });
  });

  it('exports a run as CSV and JSON lines', () => {
    const id = jobIds[0] as string;
    const csv = exportRun(store, id, 'csv').trim().split('\n');
    expect(csv).toHaveLength(1 + 96);
    expect(csv[0]).toMatch(/^episode,step,action,reward,terminated,truncated,obs_/);
    const lines = exportRun(store, id, 'jsonl').trim().split('\n').map((l) => JSON.parse(l) as { step: number; reward: number });
    expect(lines.map((l) => l.step)).toEqual(Array.from({ length: 96 }, (_, i) => i));
    expect(lines[5]?.reward).toBe(store.getEpisode(id, 'episode-0')?.steps[5]?.reward);
    const events = exportRun(store, id, 'jsonl', { what: 'events' }).trim().split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(events.map((e) => e.type)).toEqual(['run.started', 'episode.ended', 'run.finished']);
  });
});
