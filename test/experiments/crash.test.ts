import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InlineExecutor } from '../../experiments/executor.js';
import { runExperiment } from '../../experiments/runner.js';
import { Store } from '../../experiments/store.js';
import { cli } from './cli-helpers.js';

const spec = {
  kind: 'trial',
  name: 'crash glucose',
  seed: 8,
  cohort: { twin: 'glucose', population: 'adult', size: 6 },
  arms: [
    { name: 'pid', policy: 'glucose/pid' },
    { name: 'bb', policy: 'glucose/basal-bolus' },
  ],
  duration: { days: 1 },
  endpoints: { primary: ['tir'], secondary: ['tbr70'] },
};

function finishedIn(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { type: string; jobId?: string })
    .filter((e) => e.type === 'run.finished')
    .map((e) => e.jobId as string);
}

describe('crash safety: SIGKILL during run and resume', () => {
  it('keeps every finished result, opens cleanly and resumes to the results of an uninterrupted run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'twinlab-crash-'));
    const specPath = join(dir, 'spec.json');
    writeFileSync(specPath, JSON.stringify(spec));
    const refStore = Store.open(join(dir, 'reference'));
    const reference = await runExperiment({ spec, store: refStore, executor: new InlineExecutor() });
    refStore.close();
    expect(reference.status).toBe('finished');
    const data = join(dir, 'data');

    // 1. killed right after the experiment row exists (before any job finished)
    const early = await cli(['run', specPath, '--data', data, '--workers', '1', '--json'], { killWhen: (line) => line.includes('experiment.created') });
    expect(early.signal).toBe('SIGKILL');
    // 2. killed mid-run, after 3 jobs finished
    let seen = 0;
    const mid = await cli(['run', specPath, '--data', data, '--workers', '2', '--json'], { killWhen: (line) => line.includes('"run.finished"') && ++seen >= 3 });
    expect(mid.signal).toBe('SIGKILL');

    let store = Store.open(data);
    expect(store.integrityCheck()).toBe('ok');
    const experiments = store.listExperiments();
    expect(experiments).toHaveLength(2);
    const id = experiments.find((e) => store.listJobs(e.id).some((j) => j.status === 'finished'))?.id as string;
    expect(id).toBeDefined();
    for (const jobId of finishedIn(mid.stdout)) {
      const job = store.getJob(jobId);
      expect(job?.status, jobId).toBe('finished');
      expect(job?.result).toEqual(reference.jobs[job?.index as number]?.result);
    }
    store.close();

    // 3. resume, killed again after 2 more jobs, then resumed to the end
    let more = 0;
    const again = await cli(['resume', id, '--data', data, '--workers', '2', '--json'], { killWhen: (line) => line.includes('"run.finished"') && ++more >= 2 });
    expect(again.signal).toBe('SIGKILL');
    const done = await cli(['resume', id, '--data', data, '--workers', '2']);
    expect(done.code, done.stderr).toBe(0);

    store = Store.open(data);
    expect(store.integrityCheck()).toBe('ok');
    const jobs = store.listJobs(id);
    expect(jobs.map((j) => j.status)).toEqual(jobs.map(() => 'finished'));
    expect(jobs.map((j) => j.result)).toEqual(reference.jobs.map((j) => j.result));
    expect(store.getTrialResult(id)).toEqual(reference.trial);
    // No job that had finished ran again (its attempts stay 1).
    for (const jobId of finishedIn(mid.stdout)) expect(store.getJob(jobId)?.attempts).toBe(1);
    // The early-killed experiment resumes too.
    const other = experiments.find((e) => e.id !== id)?.id as string;
    store.close();
    const early2 = await cli(['resume', other, '--data', data, '--workers', '2']);
    expect(early2.code, early2.stderr).toBe(0);
    store = Store.open(data);
    expect(store.listJobs(other).map((j) => j.result)).toEqual(reference.jobs.map((j) => j.result));
    store.close();
  });
});
