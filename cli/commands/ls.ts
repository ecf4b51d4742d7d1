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
        const jobs = store.jobStatuses(e.id); // ids and statuses only (a streaming trial's blocks hold every patient's values)
        return { id: e.id, kind: e.kind, name: e.name, status: e.status, createdAt: e.createdAt, jobs: jobs.length, finished: jobs.filter((j) => j.status === 'finished').length, failed: jobs.filter((j) => j.status === 'failed').length };
      });
      if (options.json) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      if (rows.length === 0) process.stdout.write('no experiments\n');
      else process.stdout.write(lsTable(rows));
    } finally {
      store.close();
    }
  });
}

/** Columns as wide as their longest cell (ids of any length stay aligned), jobs right-aligned, with a header. */
export function lsTable(
  rows: readonly { id: string; kind: string; status: string; createdAt: string; jobs: number; finished: number; failed: number }[],
): string {
  const cells = rows.map((r) => [r.id, r.kind, r.status, `${r.finished}/${r.jobs}`, r.failed ? `${r.failed} failed` : '', r.createdAt]);
  const header = ['id', 'kind', 'status', 'done', 'failed', 'created'];
  const widths = header.map((h, c) => Math.max(h.length, ...cells.map((row) => (row[c] as string).length)));
  const line = (row: string[]) =>
    row
      .map((cell, c) => (c === 3 ? cell.padStart(widths[c] as number) : c === row.length - 1 ? cell : cell.padEnd(widths[c] as number)))
      .join('  ')
      .concat('\n');
  return [header, ...cells].map(line).join('');
}

function isDirectory(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}
