import type { Command } from 'commander';
import { registerEnvsCommand } from './envs.js';
import { registerRolloutCommand } from './rollout.js';
import { registerSimulateCommand } from './simulate.js';

/** Every CLI command, in the order `twinlab --help` lists them. */
export function registerCommands(program: Command): void {
  registerEnvsCommand(program);
  registerRolloutCommand(program);
  registerSimulateCommand(program);
}
