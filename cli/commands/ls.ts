import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { STORE_FILE } from '../../experiments/store.js';
import { addDataOption, openExistingStore } from './run.js';

/** `twinlab ls`: the experiments in the data dir, newest first. */
export function registerLsCommand(program: Command): void {
  addDataOption(program.command('ls').description('list experiments (newest first)').option('--json', 'print JSON')).action((options: { data: string; json?: boolean }) => {
    // an existing directory without a store holds no experiments (a missing one is still an error)
    if (isDirectory(options.data) && !existsSync(join(options.data, STORE_FILE))) {
      process.stdout.write(options.json ? '[]\n' : 'no experiments\n');
      return;
    }
    const store = openExistingStore(options.data);
    try {
      const rows = store.listExperiments().map((e) => {
        const jobs = store.listJobs(e.id);
        return { id: e.id, kind: e.kind, name: e.name, status: e.status, createdAt: e.createdAt, jobs: jobs.length, finished: jobs.filter((j) => j.status === 'finished').length, failed: jobs.filter((j) => j.status === 'failed').length };
      });
      if (options.json) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      if (rows.length === 0) process.stdout.write('no experiments\n');
      for (const r of rows) {
        process.stdout.write(`${r.id.padEnd(44)} ${r.kind.padEnd(6)} ${r.status.padEnd(10)} ${String(r.finished).padStart(4)}/${r.jobs} jobs${r.failed ? ` (${r.failed} failed)` : ''}  ${r.createdAt}\n`);
      }
    } finally {
      store.close();
    }
  });
}

function isDirectory(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}
