import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { InlineExecutor } from '../../experiments/executor.js';
import { runExperiment } from '../../experiments/runner.js';
import { Store } from '../../experiments/store.js';
import { startServer } from '../../server/index.js';
import { request, TOKEN, waitFor } from '../server/helpers.js';

const spec = {
  kind: 'trial',
  name: 'orphan',
  seed: 4,
  cohort: { env: 'classic/cartpole-v1', size: 3 },
  arms: [
    { name: 'a', policy: 'random' },
    { name: 'b', policy: 'random' },
  ],
  endpoints: { primary: ['return'], secondary: ['length'] },
};

/** A pid that existed and is gone: the owner of a lease left by a killed process. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

describe('server restart after a SIGKILL', () => {
  it('reconciles orphaned running experiments to interrupted and resumes them over POST …/resume (409 while their owner lives)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'twinlab-orphans-'));
    // What a SIGKILLed process leaves: experiments `running`, some jobs `running`, its lease in place.
    const store = Store.open(dir);
    const reference = await runExperiment({ spec, store, executor: new InlineExecutor() });
    const orphan = await runExperiment({ spec, store, executor: new InlineExecutor() });
    const live = await runExperiment({ spec, store, executor: new InlineExecutor() });
    const db = (store as unknown as { db: Database.Database }).db;
    for (const id of [orphan.id, live.id]) {
      db.prepare(`UPDATE jobs SET status = 'running', result = NULL WHERE experiment_id = ? AND idx >= 3`).run(id);
      db.prepare(`UPDATE jobs SET status = 'pending', result = NULL, attempts = 0 WHERE experiment_id = ? AND idx = 5`).run(id);
      store.setExperimentStatus(id, 'running');
      db.prepare('DELETE FROM trial_results WHERE experiment_id = ?').run(id);
    }
    const now = Date.now();
    store.acquireLease(orphan.id, { id: 'dead', pid: deadPid(), host: hostname(), processStart: 'ticks:1' }, { nowMs: now, ttlMs: 10_000, isLive: () => false });
    store.acquireLease(live.id, { id: 'other', pid: 31337, host: 'worker-b', processStart: 'ticks:1' }, { nowMs: now + 600_000, ttlMs: 600_000, isLive: () => false });
    store.close();

    const server = await startServer({ dataDir: dir, port: 0, token: TOKEN, executor: new InlineExecutor(), pollMs: 10 });
    try {
      const base = server.url;
      const detail = await request(base, 'GET', `/api/experiments/${encodeURIComponent(orphan.id)}`);
      expect(detail.json.status).toBe('interrupted');
      expect(detail.json.error).toMatch(/^interrupted: its process \(pid \d+ on host .+\) ended while running it/);
      expect(detail.json.jobs.map((j: { status: string }) => j.status)).toEqual(['finished', 'finished', 'finished', 'interrupted', 'interrupted', 'pending']);
      // The live owner's experiment is left alone and cannot be resumed.
      expect((await request(base, 'GET', `/api/experiments/${encodeURIComponent(live.id)}`)).json.status).toBe('running');
      const conflict = await request(base, 'POST', `/api/experiments/${encodeURIComponent(live.id)}/resume`, undefined, TOKEN);
      expect(conflict.status).toBe(409);
      expect(conflict.json.error).toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/being run by pid 31337 on host worker-b/) });
      // Token-guarded like every mutation; unknown ids are 404.
      expect((await request(base, 'POST', `/api/experiments/${encodeURIComponent(orphan.id)}/resume`)).status).toBe(401);
      expect((await request(base, 'POST', '/api/experiments/nope/resume', undefined, TOKEN)).status).toBe(404);

      const resumed = await request(base, 'POST', `/api/experiments/${encodeURIComponent(orphan.id)}/resume`, undefined, TOKEN);
      expect(resumed.status).toBe(202);
      expect(resumed.json).toMatchObject({ id: orphan.id, resumed: true });
      const done = await waitFor(async () => {
        const r = await request(base, 'GET', `/api/experiments/${encodeURIComponent(orphan.id)}`);
        return r.json.status === 'finished' ? r.json : undefined;
      }, 30_000, 'the resumed experiment to finish');
      expect(done.jobs.map((j: { result: unknown }) => j.result)).toEqual(reference.jobs.map((j) => j.result));
      expect((await request(base, 'GET', `/api/experiments/${encodeURIComponent(orphan.id)}/trial`)).json).toEqual(reference.trial);
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
