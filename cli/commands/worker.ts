import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { Command } from 'commander';
import { hasEnv } from '../../engine/registry.js';
import { getTwin } from '../../engine/twin.js';
import '../../environments/index.js';
import '../../policies/index.js';
import { hasPolicy } from '../../policies/registry.js';
import { DEFAULT_QUEUE, DEFAULT_REDIS_URL, startRedisWorker, type TaskChecks } from '../../experiments/redis-executor.js';
import { parseInteger } from '../program.js';

interface WorkerFlags {
  redis: string;
  queue: string;
  concurrency: number;
  lockDuration: number;
  stalledInterval: number;
}

/** What a worker agrees to run: registered envs, twins and policies, and saved-policy directories on this host. */
export const LOCAL_CHECKS: TaskChecks = {
  hasEnv,
  hasTwin: (id) => {
    try {
      getTwin(id);
      return true;
    } catch {
      return false;
    }
  },
  hasPolicy,
  isSavedPolicy: (path) => isAbsolute(path) && existsSync(join(path, 'policy.json')),
};

/** `twinlab worker`: run experiment jobs from a Redis queue (see experiments/README.md "Many machines"). */
export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run experiment jobs from a Redis queue (BullMQ) until stopped; coordinators use `run --executor redis`')
    .option('--redis <url>', 'redis://[user:password@]host:port[/db] or rediss:// (TLS)', DEFAULT_REDIS_URL)
    .option('--queue <name>', 'queue name (the coordinator’s --queue)', DEFAULT_QUEUE)
    .option('--concurrency <n>', 'jobs at a time (worker threads)', parseInteger('--concurrency', { min: 1, max: 256 }), 1)
    .option('--lock-duration <ms>', 'a batch whose worker is silent this long is retried elsewhere', parseInteger('--lock-duration', { min: 100 }), 30_000)
    .option('--stalled-interval <ms>', 'how often stalled batches are looked for', parseInteger('--stalled-interval', { min: 100 }), 30_000)
    .action(async (flags: WorkerFlags) => {
      const worker = await startRedisWorker(
        {
          url: flags.redis,
          queue: flags.queue,
          concurrency: flags.concurrency,
          lockDurationMs: flags.lockDuration,
          stalledIntervalMs: flags.stalledInterval,
          log: (line) => process.stderr.write(`twinlab worker: ${line}\n`),
        },
        LOCAL_CHECKS,
      );
      process.stdout.write(`worker ${worker.id} ready\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.stderr.write('twinlab worker: stopping (finishing running jobs)…\n');
          void worker.close().then(resolve, resolve);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
