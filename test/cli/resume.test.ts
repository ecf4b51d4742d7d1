import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Store } from '../../experiments/store.js';

const ROOT = join(import.meta.dirname, '../..');

/** A running `twinlab …` with its output so far and a way to wait for a stdout line. */
function start(args: string[]) {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/run.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  const waiters: { test: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  let pending = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out.stdout += chunk;
    pending += chunk;
    let nl = pending.indexOf('\n');
    while (nl >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      for (const w of [...waiters]) {
        if (w.test(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
      nl = pending.indexOf('\n');
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    out.stderr += chunk;
  });
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return {
    child,
    out,
    closed,
    line: (test: (line: string) => boolean) => new Promise<string>((resolve) => waiters.push({ test, resolve })),
  };
}

const trainSpec = {
  kind: 'train',
  name: 'cli resume',
  seed: 3,
  env: 'classic/cartpole-v1',
  seeds: 2,
  evalEpisodes: 0,
  // Long enough that job 0 is still training when Ctrl-C comes.
  config: {
    totalSteps: 2_000_000,
    bufferSize: 10_000,
    learningStarts: 100,
    trainFrequency: 4,
    batchSize: 16,
    hidden: [16],
    evalEvery: 0,
    metricsEvery: 1000,
    checkpointEvery: 5000,
    backend: 'cpu',
  },
};

describe('twinlab run / resume: ownership, Ctrl-C and checkpoints', () => {
  it('refuses to resume a live run (naming its pid and host), reports what Ctrl-C cancelled, and resumes training from the checkpoint', { timeout: 180_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'twinlab-cli-resume-'));
    const specPath = join(dir, 'spec.json');
    writeFileSync(specPath, JSON.stringify(trainSpec));
    const data = join(dir, 'data');

    const run = start(['run', specPath, '--data', data, '--inline', '--json']);
    const created = JSON.parse(await run.line((l) => l.includes('"experiment.created"'))) as { experimentId: string };
    const id = created.experimentId;
    const checkpoint = JSON.parse(await run.line((l) => l.includes('"checkpoint.saved"'))) as { step: number };
    expect(checkpoint.step).toBe(5000);

    // 1. The run is alive: resume refuses, naming the owner.
    const second = start(['resume', id, '--data', data, '--inline']);
    const refused = await second.closed;
    expect(refused.code).toBe(1);
    expect(second.out.stderr).toMatch(new RegExp(`being run by pid ${run.child.pid} on host \\S+`));

    // 2. Ctrl-C: the run stops and says what it cancelled.
    run.child.kill('SIGINT');
    const stopped = await run.closed;
    expect(stopped.code).toBe(1);
    const ended = run.out.stdout
      .split('\n')
      .filter((l) => l.includes('"experiment.ended"'))
      .map((l) => JSON.parse(l) as { status: string; error: string })[0];
    expect(ended?.status).toBe('cancelled');
    expect(ended?.error).toBe('cancelled: 0 of 2 jobs finished, 2 interrupted');
    const store = Store.open(data);
    const job0 = store.getJob(`${id}/job-0`);
    store.close();
    expect(job0?.checkpointPath).toMatch(/^runs\/.+\/job-0\/checkpoint\/step-\d+$/);
    const savedAt = Number(job0?.checkpointPath?.split('step-')[1]);
    expect(savedAt).toBeGreaterThanOrEqual(5000);

    // 3. Resume: job 0 continues from its checkpoint (its first event is past it), not from step 0.
    const resumed = start(['resume', id, '--data', data, '--inline', '--json']);
    const first = JSON.parse(await resumed.line((l) => l.includes(`"${id}/job-0"`))) as { type: string; step: number };
    resumed.child.kill('SIGKILL');
    await resumed.closed;
    expect(first.step).toBeGreaterThan(savedAt);
  });

  it('prints a cancelled run as "cancelled: F/N jobs finished, K interrupted (resume with: …)"', async () => {
    const { printOutcome } = await import('../../cli/commands/run.js');
    const write = process.stdout.write.bind(process.stdout);
    let out = '';
    process.stdout.write = ((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    }) as typeof process.stdout.write;
    try {
      const job = (index: number, status: string) => ({ id: `x/job-${index}`, experimentId: 'x', index, kind: 'train', config: {}, seed: 1, status, attempts: 1 });
      printOutcome({ id: 'x', status: 'cancelled', jobs: [job(0, 'finished'), job(1, 'cancelled'), job(2, 'cancelled')] as never }, false);
    } finally {
      process.stdout.write = write;
    }
    expect(out).toBe('experiment x: cancelled: 1/3 jobs finished, 2 interrupted (resume with: twinlab resume x)\n');
  });
});
