import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Store } from '../../experiments/store.js';
import { progressLine } from '../../cli/commands/start.js';

/** `npm start` prints progress lines during the demo (issue #13 item 6): what they say, from the store. */
describe('twinlab start progress lines', () => {
  let dir: string;
  let store: Store;
  afterEach(() => {
    store?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const open = () => {
    dir = mkdtempSync(join(tmpdir(), 'twinlab-start-'));
    store = Store.open(join(dir, 'data'));
  };

  it('training: env steps per run from the episode returns, share of all steps, runs done', () => {
    open();
    const job = (k: number) => ({ id: `t/job-${k}`, index: k, kind: 'train' as const, seed: k, config: {} });
    store.createExperiment({ id: 't', kind: 'train', name: 'demo', spec: { steps: 10_000 }, seed: 1, codeVersion: 'x', jobs: [job(0), job(1)] });
    expect(progressLine(store, 't', 'demo training')).toBe('demo training: 0 % of env steps (run 0 0/10,000 · run 1 0/10,000), 0/2 runs done');
    store.markJobRunning('t/job-0');
    store.appendEvents(
      't',
      't/job-0',
      [1, 2, 3].map((e) => ({ type: 'episode.ended', step: e * 1000, data: { episode: e, return: 5, length: 1000, terminated: false } })),
    );
    expect(progressLine(store, 't', 'demo training')).toBe('demo training: 15 % of env steps (run 0 3,000/10,000 · run 1 0/10,000), 0/2 runs done');
    store.markJobFinished('t/job-0', {});
    expect(progressLine(store, 't', 'demo training')).toBe('demo training: 50 % of env steps (run 0 10,000/10,000 · run 1 0/10,000), 1/2 runs done');
  });

  it('trial: patient-arm runs done, per arm', () => {
    open();
    const jobs = ['bb', 'pid'].flatMap((arm, a) =>
      [0, 1, 2].map((p) => ({ id: `r/job-${3 * a + p}`, index: 3 * a + p, kind: 'trial' as const, seed: p, config: { arm: { name: arm } } })),
    );
    store.createExperiment({ id: 'r', kind: 'trial', name: 'demo', spec: {}, seed: 1, codeVersion: 'x', jobs });
    store.markJobRunning('r/job-0');
    store.markJobFinished('r/job-0', {});
    store.markJobRunning('r/job-4');
    store.markJobFailed('r/job-4', 'boom');
    expect(progressLine(store, 'r', 'demo trial')).toBe('demo trial: 2/6 patient-arm runs done (bb 1/3 · pid 1/3)');
  });
});
