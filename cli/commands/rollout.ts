import type { Command } from 'commander';
import { TwinlabError } from '../../engine/errors.js';
import { knownOptions, make, unknownOptions } from '../../engine/registry.js';
import { listTwins } from '../../engine/twin.js';
import { evaluatePolicy } from '../../policies/evaluate.js';
import { loadPolicy } from '../../policies/load.js';
import { parseInteger } from '../program.js';

interface RolloutOptions {
  env?: string;
  policy: string;
  seed: number;
  episodes: number;
  json?: boolean;
  option?: string[];
}

/** `twinlab rollout`: run a policy (random, a named protocol, or a saved policy directory) on an env. */
export function registerRolloutCommand(program: Command): void {
  program
    .command('rollout')
    .description('run episodes of a policy on an env; prints returns, lengths, endpoints and the trajectory hash')
    .option('--env <id>', 'environment id (see `twinlab envs`); defaults to the saved policy\'s env')
    .option('--policy <name|dir>', 'random, a protocol name (e.g. glucose/basal-bolus) or a saved policy directory', 'random')
    .option('--seed <n>', 'seed (a non-negative integer, as in specs)', parseInteger('--seed', { min: 0 }), 0)
    .option('--episodes <k>', 'number of episodes', parseInteger('--episodes', { min: 1 }), 1)
    .option('--option <key=value...>', 'env option (repeatable), e.g. --option patient=adult#003')
    .option('--json', 'print JSON')
    .action(async (options: RolloutOptions) => {
      const envOptions = parseKeyValues(options.option ?? []);
      const { policy, envId } = await loadPolicy(options.policy, options.env, envOptions);
      const unknown = unknownOptions(envId, envOptions);
      if (unknown.length > 0) throw new TwinlabError('INVALID_ARGUMENT', `--option ${unknown.join(', ')}: unknown option of ${envId}; known: ${knownOptions(envId)?.join(', ')}`);
      const env = make(envId, envOptions);
      const twin = listTwins().find((t) => t.envIds.includes(envId));
      const result = evaluatePolicy(env, policy(env), { seed: options.seed, episodes: options.episodes, record: twin !== undefined });
      const episodes = result.episodes.map((e) => {
        const endpoints: Record<string, number> = {};
        if (twin && e.log) for (const endpoint of twin.endpoints) endpoints[endpoint.id] = endpoint.compute(e.log);
        return { episode: e.episode, seed: e.seed, return: e.return, length: e.length, terminated: e.terminated, truncated: e.truncated, hash: e.hash, endpoints };
      });
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ env: envId, policy: options.policy, seed: options.seed, meanReturn: result.meanReturn, stdReturn: result.stdReturn, hash: result.hash, episodes }, null, 2)}\n`);
        return;
      }
      for (const e of episodes) {
        const ends = Object.entries(e.endpoints)
          .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(3)}`)
          .join(' ');
        process.stdout.write(`episode ${e.episode}  return ${e.return.toFixed(3)}  length ${e.length}${e.terminated ? '  terminated' : ''}${ends ? `  ${ends}` : ''}\n`);
      }
      process.stdout.write(`mean return ${result.meanReturn.toFixed(3)} ± ${result.stdReturn.toFixed(3)} over ${episodes.length} episodes\n`);
      process.stdout.write(`hash ${result.hash}\n`);
    });
}

export function parseKeyValues(pairs: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new TwinlabError('INVALID_ARGUMENT', `--option must look like key=value, got "${pair}"`);
    const key = pair.slice(0, eq);
    const raw = pair.slice(eq + 1);
    let value: unknown = raw;
    if (raw === 'true' || raw === 'false') value = raw === 'true';
    else if (raw.trim() !== '' && Number.isFinite(Number(raw))) value = Number(raw);
    out[key] = value;
  }
  return out;
}
