import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../engine/random.js';
import { InlineExecutor } from '../../experiments/executor.js';
import { resumeExperiment, runExperiment } from '../../experiments/runner.js';
import { type StoredEvent, Store } from '../../experiments/store.js';
import { main } from '../../cli/main.js';
import { ROOT } from './cli-helpers.js';

/**
 * Acceptance test of crash safety: `twinlab run` / `twinlab resume` SIGKILLed at 20 moments drawn from
 * the seeded Rng — from a delay after spawning (mostly before the store exists) to a given event line
 * of the run plus a few milliseconds — in two chains of ten kills (one chain runs jobs inline, the
 * other in a worker thread). After every kill the store opens and passes its integrity check; after
 * each chain `ls` works and a resume (or a fresh run when nothing was recorded) gives job results,
 * a trial analysis and, job by job, an event stream equal to an uninterrupted run's (no duplicates).
 */
const spec = {
  kind: 'trial',
  name: 'crash random',
  seed: 21,
  cohort: { env: 'classic/cartpole-v1', size: 6 },
  arms: [
    { name: 'a', policy: 'random' },
    { name: 'b', policy: 'random' },
  ],
  duration: { episodes: 2 },
  endpoints: { primary: ['return'], secondary: ['length', 'terminated'] },
};
const JOBS = 12;
/** JSON lines a full run prints: experiment.created, then run.started, 2 × episode.ended, run.finished per job. */
const LINES = 1 + JOBS * 4;
const KILLS_PER_CHAIN = 10;

interface Moment {
  /** 0: `delayMs` after spawning; k > 0: `delayMs` after the k-th stdout line. */
  line: number;
  delayMs: number;
}

function drawMoment(rng: Rng): Moment {
  // A quarter of the moments are early (the store may not exist yet), the rest during the run.
  if (rng.next() < 0.25) return { line: 0, delayMs: Math.floor(rng.uniform(0, 4_000)) };
  return { line: rng.integer(1, LINES + 1), delayMs: Math.floor(rng.uniform(0, 15)) };
}

function runUntilKilled(args: string[], moment: Moment): Promise<{ killed: boolean; code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/run.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let killed = false;
    let stderr = '';
    const kill = (): void => {
      if (child.exitCode === null && child.signalCode === null) {
        killed = true;
        child.kill('SIGKILL');
      }
    };
    const arm = (): void => {
      setTimeout(kill, moment.delayMs);
    };
    if (moment.line === 0) arm();
    let lines = 0;
    child.stdout?.on('data', (chunk: Buffer) => {
      for (const ch of chunk.toString()) if (ch === '\n' && ++lines === moment.line) arm();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ killed, code, stderr }));
  });
}

const stable = (events: StoredEvent[], jobId: string) =>
  events.filter((e) => e.jobId === jobId).map((e) => ({ type: e.event.type, step: e.event.step, data: e.event.data }));

async function ls(data: string): Promise<{ code: number; out: string }> {
  const write = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    return { code: await main(['ls', '--data', data]), out };
  } finally {
    process.stdout.write = write;
  }
}

describe('crash safety at 20 seeded random moments', () => {
  it('SIGKILLed run/resume always leaves a store that opens, lists and resumes to the uninterrupted results', { timeout: 240_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'twinlab-crash-random-'));
    const specPath = join(dir, 'spec.json');
    writeFileSync(specPath, JSON.stringify(spec));
    const refStore = Store.open(join(dir, 'reference'));
    const reference = await runExperiment({ spec, store: refStore, executor: new InlineExecutor() });
    expect(reference.status).toBe('finished');
    const refEvents = refStore.eventsAfter(reference.id, 0, 100_000);

    const rng = Rng.fromSeed(20261204).fork('crash-moments');
    const chains = [
      { data: join(dir, 'inline'), executor: ['--inline'], moments: [] as Moment[], killed: 0 },
      { data: join(dir, 'worker'), executor: ['--workers', '1'], moments: [] as Moment[], killed: 0 },
    ];
    for (const chain of chains) for (let k = 0; k < KILLS_PER_CHAIN; k++) chain.moments.push(drawMoment(rng));

    await Promise.all(
      chains.map(async (chain) => {
        for (const moment of chain.moments) {
          let id: string | undefined;
          if (existsSync(join(chain.data, 'twinlab.db'))) {
            const store = Store.open(chain.data);
            expect(store.integrityCheck()).toBe('ok');
            // The experiment to resume: the chain's unfinished one; when all finished, the next process runs a new one.
            id = store.listExperiments().find((e) => e.status !== 'finished')?.id;
            store.close();
          }
          const args = id === undefined ? ['run', specPath] : ['resume', id];
          const result = await runUntilKilled([...args, '--data', chain.data, '--json', ...chain.executor], moment);
          // Not killed means it ran to the end: then it must have succeeded (never a CONFLICT with a dead owner).
          if (!result.killed) expect(result.code, result.stderr).toBe(0);
          else chain.killed++;
        }
        // The store opens, passes its integrity check, and `ls` works.
        if (existsSync(join(chain.data, 'twinlab.db'))) {
          const store = Store.open(chain.data);
          expect(store.integrityCheck()).toBe('ok');
          store.close();
          const listed = await ls(chain.data);
          expect(listed.code).toBe(0);
        }
        // Resume the unfinished experiment (or run afresh when nothing was recorded) to the end; then every
        // experiment of the chain — finished by a process or by this resume — equals the uninterrupted run.
        const store = Store.open(chain.data);
        try {
          const unfinished = store.listExperiments().find((e) => e.status !== 'finished')?.id;
          if (unfinished !== undefined) expect((await resumeExperiment({ id: unfinished, store, executor: new InlineExecutor() })).status).toBe('finished');
          else if (store.listExperiments().length === 0) expect((await runExperiment({ spec, store, executor: new InlineExecutor() })).status).toBe('finished');
          for (const experiment of store.listExperiments()) {
            const id = experiment.id;
            expect(store.getExperiment(id)?.status).toBe('finished');
            expect(store.listJobs(id).map((j) => j.result)).toEqual(reference.jobs.map((j) => j.result));
            expect(store.getTrialResult(id)).toEqual(reference.trial);
            const events = store.eventsAfter(id, 0, 100_000);
            for (let i = 0; i < JOBS; i++) expect(stable(events, `${id}/job-${i}`), `${id} job ${i}`).toEqual(stable(refEvents, `${reference.id}/job-${i}`));
            expect(events.length).toBe(refEvents.length);
          }
        } finally {
          store.close();
        }
      }),
    );
    refStore.close();
    // The moments did kill processes (a chain whose every process ran to the end would test nothing).
    // How many moments land before the process exits depends on the machine's speed (14 of 20 on an
    // idle 2-core machine, more under load); at least half must kill, or the test would test little.
    expect(chains.map((c) => c.killed).reduce((a, b) => a + b)).toBeGreaterThanOrEqual(10);
  });
});
