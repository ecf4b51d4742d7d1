import { writeFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { type ExportFormat, exportRun } from '../../experiments/replay.js';
import { resolveRun } from './replay.js';
import { addDataOption, openExistingStore } from './run.js';

/** `twinlab export RUN --format csv|jsonl`: a job's episodes step by step (or its events). */
export function registerExportCommand(program: Command): void {
  addDataOption(
    program
      .command('export')
      .description("export a job's stored episodes (or its event stream) as CSV or JSON lines")
      .argument('<run>', 'job id (<experiment>/job-<k>), or an experiment id with a single job')
      .addOption(new Option('--format <format>', 'output format').choices(['csv', 'jsonl']).default('csv'))
      .addOption(new Option('--what <what>', 'episodes or events (default: episodes when stored)').choices(['episodes', 'events']))
      .option('--out <file>', 'write to a file instead of stdout'),
  ).action((run: string, options: { data: string; format: ExportFormat; what?: 'episodes' | 'events'; out?: string }) => {
    const store = openExistingStore(options.data);
    try {
      const text = exportRun(store, resolveRun(store, run), options.format, options.what ? { what: options.what } : {});
      if (options.out) writeFileSync(options.out, text);
      else process.stdout.write(text);
    } finally {
      store.close();
    }
  });
}
