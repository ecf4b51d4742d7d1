import type { Command } from 'commander';
import { registerDataCommand } from './data.js';
import { registerEnvsCommand } from './envs.js';
import { registerExplainCommand } from './explain.js';
import { registerExportCommand } from './export.js';
import { registerLsCommand } from './ls.js';
import { registerOpeCommand } from './ope.js';
import { registerReplayCommand } from './replay.js';
import { registerReportCommand } from './report.js';
import { registerResumeCommand } from './resume.js';
import { registerRunCommand } from './run.js';
import { registerServeCommand } from './serve.js';
import { registerStartCommand } from './start.js';
import { registerShowCommand } from './show.js';
import { registerTrainCommand } from './train.js';
import { registerTrialCommand } from './trial-power.js';
import { registerTwinCommand } from './twin.js';
import { registerRolloutCommand } from './rollout.js';
import { registerSimulateCommand } from './simulate.js';
import { registerWorkerCommand } from './worker.js';

/** Every CLI command, in the order `twinlab --help` lists them. */
export function registerCommands(program: Command): void {
  registerEnvsCommand(program);
  registerRolloutCommand(program);
  registerSimulateCommand(program);
  registerTrainCommand(program);
  registerRunCommand(program);
  registerTrialCommand(program);
  registerLsCommand(program);
  registerShowCommand(program);
  registerResumeCommand(program);
  registerReportCommand(program);
  registerReplayCommand(program);
  registerExportCommand(program);
  registerExplainCommand(program);
  registerOpeCommand(program);
  registerDataCommand(program);
  registerTwinCommand(program);
  registerServeCommand(program);
  registerStartCommand(program);
  registerWorkerCommand(program);
}
