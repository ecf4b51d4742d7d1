import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../engine/hash.js';
import { type Executor, InlineExecutor } from '../../experiments/executor.js';
import { encodeExactJson } from '../../experiments/exact-json.js';
import { runExperiment } from '../../experiments/runner.js';
import { Store } from '../../experiments/store.js';

/**
 * One suite over every executor (as hono runs one suite over its adapters): the same trial on each
 * configuration must give bit-identical job results, episode logs and trial analysis to the inline
 * reference run. `configs` name the configurations; `setup` starts whatever they need (worker
 * processes, a Redis) and `make` returns the executor for one of them.
 */
export interface ExecutorSuiteOptions {
  name: string;
  configs: string[];
  make(config: string): Promise<Executor> | Executor;
  /** Called after a configuration's run (e.g. to stop its worker processes). */
  release?(config: string, executor: Executor): Promise<void>;
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
  skip?: string;
  timeoutMs?: number;
}

/** A small paired trial: 6 cartpole patients × 2 arms × 2 episodes (12 jobs, several batches). */
export const SUITE_TRIAL = {
  kind: 'trial',
  name: 'executor suite',
  seed: 31,
  cohort: { env: 'classic/cartpole-v1', size: 6 },
  arms: [
    { name: 'a', policy: 'random' },
    { name: 'b', policy: 'random', options: {} },
  ],
  duration: { episodes: 2 },
  endpoints: { primary: ['return'], secondary: ['length', 'terminated'] },
};

/** The same trial streamed (spec `streaming`): blocks of 4 patients regenerated in the workers, logs of every 2nd patient. */
export const SUITE_STREAMING_TRIAL = { ...SUITE_TRIAL, name: 'executor suite streaming', streaming: { blockSize: 4 }, keepEpisodes: { every: 2 } };

export interface RunFingerprint {
  status: string;
  /** Per job (index order): its stored result, then its episode logs, as exact JSON hashed. */
  jobs: string[];
  trial: string;
  /** run.finished events per job. */
  finishedEvents: number[];
  /** Per job (index order): its result as stored. */
  results: unknown[];
}

export function fingerprint(store: Store, id: string): RunFingerprint {
  const jobs = store.listJobs(id).sort((a, b) => a.index - b.index);
  const finished = new Map<string, number>();
  for (let after = 0; ; ) {
    const batch = store.eventsAfter(id, after, 1000);
    if (batch.length === 0) break;
    for (const e of batch) if (e.event.type === 'run.finished' && e.jobId) finished.set(e.jobId, (finished.get(e.jobId) ?? 0) + 1);
    after = batch[batch.length - 1]?.seq ?? after;
  }
  return {
    status: store.getExperiment(id)?.status ?? 'missing',
    jobs: jobs.map((j) => {
      const episodes = store.listEpisodes(j.id).map((e) => encodeExactJson(store.getEpisode(j.id, e.key)));
      return sha256Hex(encodeExactJson({ status: j.status, result: j.result, episodes }));
    }),
    trial: sha256Hex(encodeExactJson(store.getTrialResult(id) ?? null)),
    finishedEvents: jobs.map((j) => finished.get(j.id) ?? 0),
    results: jobs.map((j) => j.result),
  };
}

export async function runTrial(executor: Executor, spec: unknown = SUITE_TRIAL, id = 'suite-trial'): Promise<{ store: Store; dir: string; fp: RunFingerprint }> {
  const dir = mkdtempSync(join(tmpdir(), 'twinlab-executor-suite-'));
  const store = Store.open(dir);
  const outcome = await runExperiment({ spec, id, store, executor });
  expect(outcome.error).toBeUndefined();
  return { store, dir, fp: fingerprint(store, id) };
}

const references = new Map<unknown, RunFingerprint>();
/** The inline run every configuration is compared with (computed once per spec and test file). */
export async function referenceRun(spec: unknown = SUITE_TRIAL): Promise<RunFingerprint> {
  const known = references.get(spec);
  if (known) return known;
  const { store, dir, fp } = await runTrial(new InlineExecutor(), spec);
  store.close();
  rmSync(dir, { recursive: true, force: true });
  references.set(spec, fp);
  return fp;
}

/**
 * A streamed trial's blocks hold, per patient, exactly the endpoint values and (hashed per block) the
 * trajectory hashes of the job-by-job run: its workers regenerated the same patients.
 */
function expectBlocksMatchJobs(blocks: unknown[], jobs: unknown[]): void {
  const perJob = jobs as Array<{ patientIndex: number; arm: string; endpoints: Record<string, number>; trajectoryHash: string }>;
  for (const raw of blocks) {
    const block = raw as { from: number; to: number; values: Record<string, Record<string, number[]>>; blockHash: string };
    const inBlock = perJob.filter((j) => j.patientIndex >= block.from && j.patientIndex < block.to);
    expect(block.blockHash).toBe(sha256Hex(inBlock.map((j) => j.trajectoryHash).join('\n')));
    for (const j of inBlock) for (const [e, v] of Object.entries(j.endpoints)) expect(block.values[e]?.[j.arm]?.[j.patientIndex - block.from]).toBe(v);
  }
}

export function executorSuite(options: ExecutorSuiteOptions): void {
  const timeout = options.timeoutMs ?? 60_000;
  describe.skipIf(options.skip !== undefined)(`executor suite: ${options.name}${options.skip ? ` (skipped: ${options.skip})` : ''}`, () => {
    beforeAll(async () => {
      await options.setup?.();
    }, timeout);
    afterAll(async () => {
      await options.teardown?.();
    }, timeout);

    for (const config of options.configs) {
      it(
        `${config}: results, episode logs and trial analysis bit-identical to the inline run`,
        async () => {
          const expected = await referenceRun();
          const executor = await options.make(config);
          try {
            const { store, dir, fp } = await runTrial(executor);
            store.close();
            rmSync(dir, { recursive: true, force: true });
            expect(fp.status).toBe('finished');
            expect(fp.jobs).toEqual(expected.jobs);
            expect(fp.trial).toBe(expected.trial);
            expect(fp.finishedEvents).toEqual(fp.jobs.map(() => 1));
          } finally {
            await options.release?.(config, executor);
            await executor.close();
          }
        },
        timeout,
      );
      it(
        `${config}: a streamed trial (patients regenerated in the workers) gives the job-by-job run's values and hashes, and the inline streamed run's analysis`,
        async () => {
          const jobByJob = await referenceRun();
          const expected = await referenceRun(SUITE_STREAMING_TRIAL);
          expectBlocksMatchJobs(expected.results, jobByJob.results);
          const executor = await options.make(config);
          try {
            const { store, dir, fp } = await runTrial(executor, SUITE_STREAMING_TRIAL, 'suite-streaming');
            store.close();
            rmSync(dir, { recursive: true, force: true });
            expect(fp.status).toBe('finished');
            expect(fp.jobs).toEqual(expected.jobs); // block results and the sampled episode logs
            expect(fp.trial).toBe(expected.trial);
            expectBlocksMatchJobs(fp.results, jobByJob.results);
          } finally {
            await options.release?.(config, executor);
            await executor.close();
          }
        },
        timeout,
      );
    }
  });
}
