import type { Command } from 'commander';
import { knownOptions, listSpecs, make } from '../../engine/registry.js';

export function registerEnvsCommand(program: Command): void {
  program
    .command('envs')
    .description('list registered environments with their observation and action spaces')
    .option('--json', 'print JSON')
    .action((options: { json?: boolean }) => {
      const rows = listSpecs().map((spec) => {
        const env = make(spec.id);
        const row = {
          id: spec.id,
          description: spec.description,
          observationSpace: env.observationSpace.toJSON(),
          actionSpace: env.actionSpace.toJSON(),
          observation: env.observationSpace.toString(),
          action: env.actionSpace.toString(),
          maxEpisodeSteps: spec.maxEpisodeSteps ?? null,
          decisionInterval: spec.decisionInterval ?? null,
          reference: spec.reference ?? null,
          options: spec.optionDocs ?? {},
          /** Every option name a spec's envOptions / scenario may use (null: not declared, unchecked). */
          optionNames: knownOptions(spec.id) ?? null,
        };
        env.close?.();
        return row;
      });
      if (options.json) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      for (const row of rows) {
        process.stdout.write(`${row.id}\n  ${row.description}\n  observation: ${row.observation}\n  action:      ${row.action}\n`);
        if (row.maxEpisodeSteps) process.stdout.write(`  episode:     ${row.maxEpisodeSteps} steps${row.decisionInterval ? ` × ${row.decisionInterval}` : ''}\n`);
        if (row.optionNames) process.stdout.write(`  options:     ${row.optionNames.join(', ')}\n`);
      }
    });
}
