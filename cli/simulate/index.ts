import type { Command } from 'commander';
import { registerGlucoseSimulate } from './glucose.js';
import { registerChemoSimulate } from './chemo.js';
import { registerHivSimulate } from './hiv.js';
import { registerVancomycinSimulate } from './vancomycin.js';
import { registerSepsisSimulate } from './sepsis.js';
import { registerOpcSimulate } from './opc.js';

/** One subcommand per twin; each twin's module adds itself here with `registerXSimulate(simulate)`. */
export function registerSimulateSubcommands(simulate: Command): void {
  void simulate;
  registerGlucoseSimulate(simulate);
  registerChemoSimulate(simulate);
  registerHivSimulate(simulate);
  registerVancomycinSimulate(simulate);
  registerSepsisSimulate(simulate);
  registerOpcSimulate(simulate);
}
