import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { TwinlabError } from '../../engine/errors.js';
import { SPEC_LIMITS } from '../../experiments/spec.js';
import type { Store } from '../../experiments/store.js';
import { parseInteger } from '../program.js';
import { addServeOptions, closeOnSignal, type ServeFlags, startFromFlags } from './serve.js';

/**
 * `twinlab start` (what `npm start` runs): the server plus a demonstration — a small DQN training on
 * the glucose twin, then a short virtual trial of the learned policy against basal-bolus and PID on
 * held-out generated adults — all visible live in the viewer.
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
  // Held-out patients: the DQN trains on the 10 named adults; the trial enrols generated adults
  // (cohort seed 2026, the held-out cohort of test/long/dqn-glucose.test.ts), so it never sees a
  // patient it trained on. Basal-bolus is the reference: the standard of care.
  trial: (policyDir: string, patients: number) => ({
    kind: 'trial',
    name: 'demo: learned DQN vs basal-bolus vs PID, held-out generated adults, one day',
    seed: 7,
    cohort: { twin: 'glucose', population: 'adult', size: patients, generated: true, seed: 2026 },
    arms: [
      { name: 'basal-bolus', policy: 'glucose/basal-bolus' },
      { name: 'pid', policy: 'glucose/pid' },
      { name: 'dqn', policy: policyDir },
    ],
    duration: { days: 1 },
    endpoints: { primary: ['tir'], secondary: ['tbr70', 'tar180', 'mean_bg', 'cv', 'lbgi'] },
  }),
};

/**
 * One progress line of an experiment, from the store: a training's env steps per run (from its
 * episode.return series) and runs finished; a trial's patient-arm jobs done, per arm.
 */
export function progressLine(store: Store, id: string, label: string): string {
  const experiment = store.getExperiment(id);
  const jobs = store.listJobs(id);
  const done = (status: string) => status === 'finished' || status === 'failed' || status === 'cancelled';
  const n = (v: number) => Math.round(v).toLocaleString('en-US');
  if (experiment?.kind === 'trial') {
    const arms = new Map<string, { done: number; total: number }>();
    for (const j of jobs) {
      const arm = (j.config as { arm?: { name?: string } } | undefined)?.arm?.name ?? 'arm';
      const a = arms.get(arm) ?? { done: 0, total: 0 };
      a.total++;
      if (done(j.status)) a.done++;
      arms.set(arm, a);
    }
    const all = jobs.filter((j) => done(j.status)).length;
    return `${label}: ${all}/${jobs.length} patient-arm runs done (${[...arms].map(([arm, a]) => `${arm} ${a.done}/${a.total}`).join(' · ')})`;
  }
  const steps = (experiment?.spec as { steps?: number } | undefined)?.steps;
  const perRun = jobs.map((j) => (j.status === 'finished' && steps ? steps : (store.lastMetricStep(j.id, 'episode.return') ?? 0)));
  const total = steps ? steps * jobs.length : 0;
  const share = total ? ` ${Math.round((100 * perRun.reduce((a, b) => a + b, 0)) / total)} % of env steps (` : ' env steps (';
  const runs = perRun.map((s, k) => `run ${k} ${n(s)}${steps ? `/${n(steps)}` : ''}`).join(' · ');
  return `${label}:${share}${runs}), ${jobs.filter((j) => done(j.status)).length}/${jobs.length} runs done`;
}

/** Prints `progressLine` every `everyMs` while it changes, until the returned stop is called. */
function printProgress(store: Store, label: string, everyMs = 5000): { onCreated: (id: string) => void; stop: () => void } {
  let timer: NodeJS.Timeout | undefined;
  let last = '';
  return {
    onCreated: (id) => {
      process.stdout.write(`${label} started: ${id}\n`);
      timer = setInterval(() => {
        const line = progressLine(store, id, label);
        if (line !== last) process.stdout.write(`${line}\n`);
        last = line;
      }, everyMs);
      timer.unref();
    },
    stop: () => clearInterval(timer),
  };
}

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
    .option('--demo-patients <n>', 'held-out virtual patients in the demo trial', parseInteger('--demo-patients', { min: 1, max: SPEC_LIMITS.cohortSize }), 40)
    .option('--exit-after-demo', 'stop the server when the demonstration has finished')
    .action(async (flags: StartFlags) => {
      const server = await startFromFlags(flags);
      const stopped = closeOnSignal(server);
      if (flags.demo) {
        try {
          const trainProgress = printProgress(server.store, 'demo training');
          const trainId = await server.lab.runToCompletion(DEMO.train(flags.demoSteps), trainProgress.onCreated).finally(trainProgress.stop);
          process.stdout.write(`demo training finished: ${server.url}/?view=experiment&id=${encodeURIComponent(trainId)}\n`);
          const job = server.store.listJobs(trainId).find((j) => j.status === 'finished');
          const artifact = job ? server.store.listArtifacts(job.id).find((a) => a.kind === 'policy') : undefined;
          if (!artifact) throw new TwinlabError('INVALID_STATE', `demo training ${trainId} produced no saved policy`);
          const policyDir = join(server.store.dataDir, artifact.path);
          if (!existsSync(join(policyDir, 'policy.json'))) throw new TwinlabError('INVALID_STATE', `saved policy missing at ${policyDir}`);
          const trialProgress = printProgress(server.store, 'demo trial');
          const trialId = await server.lab.runToCompletion(DEMO.trial(policyDir, flags.demoPatients), trialProgress.onCreated).finally(trialProgress.stop);
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
