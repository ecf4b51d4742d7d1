import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { TwinlabError } from '../../engine/errors.js';
import { SPEC_LIMITS } from '../../experiments/spec.js';
import { parseInteger } from '../program.js';
import { addServeOptions, closeOnSignal, type ServeFlags, startFromFlags } from './serve.js';

/**
 * `twinlab start` (what `npm start` runs): the server plus a demonstration — a small DQN training on
 * the glucose twin, then a short virtual trial of the learned policy against basal-bolus and PID on a
 * seeded adult cohort — all visible live in the viewer.
 */
export const DEMO = {
  train: (steps: number) => ({
    kind: 'train',
    name: 'demo: DQN insulin dosing on glucose/t1d-v1 (adults, random meals)',
    seed: 1,
    env: 'glucose/t1d-v1',
    envOptions: { cohort: 'adult', scenario: 'random' },
    steps,
    seeds: 2,
    evalEpisodes: 2,
    // the configuration of the long check test/long/dqn-glucose.test.ts (agents/README.md)
    preset: 'glucose-adult',
    config: { bufferSize: 100_000, evalEpisodes: 5 },
  }),
  trial: (policyDir: string, patients: number) => ({
    kind: 'trial',
    name: 'demo: learned DQN vs basal-bolus vs PID, adults, one day',
    seed: 7,
    cohort: { twin: 'glucose', population: 'adult', size: patients },
    arms: [
      { name: 'basal-bolus', policy: 'glucose/basal-bolus' },
      { name: 'pid', policy: 'glucose/pid' },
      { name: 'dqn', policy: policyDir },
    ],
    duration: { days: 1 },
    endpoints: { primary: ['tir'], secondary: ['tbr70', 'tar180', 'mean_bg', 'cv', 'lbgi'] },
  }),
};

interface StartFlags extends ServeFlags {
  demo: boolean;
  demoSteps: number;
  demoPatients: number;
  exitAfterDemo?: boolean;
}

export function registerStartCommand(program: Command): void {
  addServeOptions(program.command('start').description('start the lab: server + viewer + a live demonstration experiment'))
    .option('--no-demo', 'only serve; do not launch the demonstration')
    .option('--demo-steps <n>', 'training steps of the demo DQN (per seed)', parseInteger('--demo-steps', { min: 1 }), 150_000)
    .option('--demo-patients <n>', 'virtual patients in the demo trial', parseInteger('--demo-patients', { min: 1, max: SPEC_LIMITS.cohortSize }), 10)
    .option('--exit-after-demo', 'stop the server when the demonstration has finished')
    .action(async (flags: StartFlags) => {
      const server = await startFromFlags(flags);
      const stopped = closeOnSignal(server);
      if (flags.demo) {
        try {
          const trainId = await server.lab.runToCompletion(DEMO.train(flags.demoSteps));
          process.stdout.write(`demo training finished: ${server.url}/?view=experiment&id=${encodeURIComponent(trainId)}\n`);
          const job = server.store.listJobs(trainId).find((j) => j.status === 'finished');
          const artifact = job ? server.store.listArtifacts(job.id).find((a) => a.kind === 'policy') : undefined;
          if (!artifact) throw new TwinlabError('INVALID_STATE', `demo training ${trainId} produced no saved policy`);
          const policyDir = join(server.store.dataDir, artifact.path);
          if (!existsSync(join(policyDir, 'policy.json'))) throw new TwinlabError('INVALID_STATE', `saved policy missing at ${policyDir}`);
          const trialId = await server.lab.runToCompletion(DEMO.trial(policyDir, flags.demoPatients));
          process.stdout.write(`demo trial finished: ${server.url}/?view=trial&id=${encodeURIComponent(trialId)}\n`);
        } catch (error) {
          process.stderr.write(`twinlab: demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
        }
        if (flags.exitAfterDemo) {
          await server.close();
          return;
        }
      }
      await stopped;
    });
}
