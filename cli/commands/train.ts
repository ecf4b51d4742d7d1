import { cpSync, existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { TwinlabError } from '../../engine/errors.js';
import { runExperiment } from '../../experiments/runner.js';
import { parseSpecText, SPEC_LIMITS, validateSpec } from '../../experiments/spec.js';
import { Store } from '../../experiments/store.js';
import { parseInteger } from '../program.js';
import { addRunOptions, type ExperimentCliOptions, runSession } from './run.js';

interface TrainCliOptions extends ExperimentCliOptions {
  env: string;
  agent: 'dqn';
  seed: number;
  steps?: number;
  config?: string;
  preset?: string;
  seeds: number;
  out?: string;
}

/**
 * `twinlab train`: a train experiment built from flags, run through the same runner and executor as
 * `twinlab run` (so it is stored, resumable and replayable). Prints each run's final evaluation, the
 * trajectory hash of its evaluation episodes and where its policy was saved.
 */
export function registerTrainCommand(program: Command): void {
  addRunOptions(
    program
      .command('train')
      .description('train a DQN agent on an env (one or more seeds, in parallel workers)')
      .requiredOption('--env <id>', 'environment id (see `twinlab envs`)')
      .addOption(new Option('--agent <agent>', 'agent').choices(['dqn']).default('dqn'))
      .option('--seed <n>', 'experiment seed', parseInteger('--seed', { min: 0 }), 0)
      .option('--steps <n>', 'env steps per run (config.totalSteps)', parseInteger('--steps', { min: 1 }))
      .option('--config <file>', 'agent config (YAML or JSON), over the preset')
      .option('--preset <name>', 'agent config preset, e.g. zoo-cartpole')
      .option('--seeds <k>', 'independent runs (job seeds derive from --seed)', parseInteger('--seeds', { min: 1, max: SPEC_LIMITS.seeds }), 1)
      .option('--out <dir>', 'also copy the saved policy here (with --seeds > 1: <dir>/seed-<k>)'),
  ).action(async (options: TrainCliOptions) => {
    let config: unknown = {};
    if (options.config) {
      if (!existsSync(options.config)) throw new TwinlabError('NOT_FOUND', `config file ${options.config} does not exist`);
      config = parseSpecText(readFileSync(options.config, 'utf8'), options.config) ?? {};
    }
    const spec = {
      kind: 'train',
      name: `train ${options.env}`,
      env: options.env,
      agent: options.agent,
      seed: options.seed,
      seeds: options.seeds,
      config,
      ...(options.steps !== undefined ? { steps: options.steps } : {}),
      ...(options.preset !== undefined ? { preset: options.preset } : {}),
    };
    validateSpec(spec); // before the store exists: invalid flags write nothing
    const store = Store.open(options.data);
    await runSession(
      store,
      options,
      ({ executor, reporter, signal }) => runExperiment({ spec, store, executor, signal, ...reporter.runnerOptions() }),
      (outcome) => {
        for (const job of outcome.jobs) {
          if (job.status !== 'finished') continue;
          const r = job.result as { finalEvaluation: { meanReturn: number; stdReturn: number; returns?: number[] }; trajectoryHash: string; policyDir: string; weightsHash: string; backend: string };
          const policyPath = store.resolvePath(r.policyDir);
          let copied: string | undefined;
          if (options.out) {
            copied = resolve(outcome.jobs.length > 1 ? join(options.out, `seed-${job.index}`) : options.out);
            cpSync(policyPath, copied, { recursive: true });
          }
          if (options.json) {
            process.stdout.write(`${JSON.stringify({ type: 'train.result', jobId: job.id, seed: job.seed, finalEvaluation: r.finalEvaluation, trajectoryHash: r.trajectoryHash, weightsHash: r.weightsHash, backend: r.backend, policy: policyPath, copiedTo: copied ?? null })}\n`);
          } else {
            process.stdout.write(
              `${job.id} (seed ${job.seed}, ${r.backend}): final evaluation ${r.finalEvaluation.meanReturn.toFixed(2)} ± ${r.finalEvaluation.stdReturn.toFixed(2)}\n  trajectory hash ${r.trajectoryHash}\n  policy ${policyPath}${copied ? `\n  copied to ${copied}` : ''}\n`,
            );
          }
        }
      },
    );
  });
}
