import type { Command } from 'commander';
import { TwinlabError } from '../../engine/errors.js';
import { addDataOption, openExistingStore } from './run.js';

/** `twinlab show ID`: an experiment (spec, status, jobs) or one job (config, result, episodes). */
export function registerShowCommand(program: Command): void {
  addDataOption(program.command('show').description('show an experiment or a job (id like <experiment>/job-<k>)').argument('<id>', 'experiment or job id').option('--json', 'print JSON')).action(
    (id: string, options: { data: string; json?: boolean }) => {
      const store = openExistingStore(options.data);
      try {
        const experiment = store.getExperiment(id);
        const job = experiment ? undefined : store.getJob(id);
        if (!experiment && !job) throw new TwinlabError('NOT_FOUND', `no experiment or job ${id} in ${store.path}`);
        if (experiment) {
          // a streaming trial's blocks without their per-patient arrays (Store.listJobSummaries); other jobs whole
          const jobs = store.listJobSummaries(id);
          if (options.json) {
            process.stdout.write(`${JSON.stringify({ experiment, jobs: jobs.map(({ config: _c, ...j }) => j), trial: store.getTrialResult(id) ?? null }, null, 2)}\n`);
            return;
          }
          process.stdout.write(`experiment ${experiment.id}\n  kind ${experiment.kind}  name ${experiment.name}  seed ${experiment.seed}\n  status ${experiment.status}${experiment.error ? ` (${experiment.error})` : ''}\n  code ${experiment.codeVersion}  created ${experiment.createdAt}\n  jobs:\n`);
          for (const j of jobs) process.stdout.write(`    ${j.id.padEnd(48)} ${j.status.padEnd(10)}${summarize(j.result)}${j.error ? ` error: ${j.error}` : ''}\n`);
          return;
        }
        const j = job as NonNullable<typeof job>;
        const episodes = store.listEpisodes(j.id);
        if (options.json) {
          process.stdout.write(`${JSON.stringify({ job: j, episodes }, null, 2)}\n`);
          return;
        }
        process.stdout.write(`job ${j.id}\n  kind ${j.kind}  seed ${j.seed}  status ${j.status}  attempts ${j.attempts}\n  config ${JSON.stringify(j.config)}\n`);
        if (j.result !== undefined) process.stdout.write(`  result ${JSON.stringify(j.result)}\n`);
        if (j.error) process.stdout.write(`  error ${j.error}\n${j.stack ? `${j.stack}\n` : ''}`);
        if (episodes.length > 0) process.stdout.write(`  episodes: ${episodes.map((e) => `${e.key} (${e.length} steps)`).join(', ')}\n`);
      } finally {
        store.close();
      }
    },
  );
}

function summarize(result: unknown): string {
  if (result === null || typeof result !== 'object') return '';
  const r = result as Record<string, unknown>;
  if (r.endpoints && typeof r.endpoints === 'object') {
    return ` ${String(r.patientId)} ${String(r.arm)}: ${Object.entries(r.endpoints as Record<string, number>)
      .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(3)}`)
      .join(' ')}`;
  }
  if (r.kind === 'trial-block') return ` patients ${String(r.from)}–${Number(r.to) - 1}: ${String(r.jobs)} jobs, ${String(r.steps)} steps, block hash ${String(r.blockHash).slice(0, 12)}`;
  const final = r.finalEvaluation as { meanReturn?: number } | undefined;
  return final?.meanReturn !== undefined ? ` final eval ${final.meanReturn.toFixed(2)}  weights ${String(r.weightsHash).slice(0, 12)}` : '';
}
