import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'cli/run.ts', ...args], { encoding: 'utf8', cwd: process.cwd() });

describe('twinlab CLI: envs and rollout', () => {
  it('lists envs as JSON with their spaces', () => {
    const r = cli('envs', '--json');
    expect(r.status).toBe(0);
    const envs = JSON.parse(r.stdout) as { id: string; actionSpace: { kind: string; n: number } }[];
    const cartpole = envs.find((e) => e.id === 'classic/cartpole-v1');
    expect(cartpole?.actionSpace).toMatchObject({ kind: 'discrete', n: 2 });
    const glucose = envs.find((e) => e.id === 'glucose/t1d-v1') as unknown as { optionNames: string[] };
    expect(glucose.optionNames).toEqual(expect.arrayContaining(['sensor', 'integrator', 'scenario', 'maxEpisodeSteps']));
  });

  it('rollout --seed 7 twice gives the same hash; --seed 8 a different one', () => {
    const run = (seed: string) => {
      const r = cli('rollout', '--env', 'classic/cartpole-v1', '--policy', 'random', '--seed', seed, '--episodes', '3', '--json');
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { hash: string; episodes: { return: number; length: number }[] };
    };
    const a = run('7');
    const b = run('7');
    const c = run('8');
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(a.hash).toBe(b.hash);
    expect(c.hash).not.toBe(a.hash);
    expect(a.episodes).toHaveLength(3);
    expect(a.episodes.every((e) => e.return === e.length)).toBe(true);
  });

  it('bad arguments give one line naming the argument and exit code 2', () => {
    const bad = cli('rollout', '--env', 'classic/cartpole-v1', '--episodes', '0');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--episodes');
    const unknown = cli('rollout', '--env', 'nope/x-v1');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^twinlab: error: unknown env "nope\/x-v1"/);
    const noEnv = cli('rollout', '--policy', 'random');
    expect(noEnv.status).toBe(2);
    expect(noEnv.stderr).toContain('--env');
  });
});
