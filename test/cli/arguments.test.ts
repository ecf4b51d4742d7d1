import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const cli = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'cli/run.ts', ...args], { encoding: 'utf8', cwd: process.cwd(), timeout: 60_000 });

function expectUsageError(r: ReturnType<typeof cli>, option: string): void {
  expect(r.status, r.stderr).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^twinlab: error: /);
  expect(lines[0]).toContain(option);
}

describe('CLI argument checks', () => {
  it('serve --port out of range exits 2 naming --port (not Node’s raw RangeError, exit 1)', () => {
    const r = cli('serve', '--port', '99999', '--data', mkdtempSync(join(tmpdir(), 'twinlab-port-')));
    expectUsageError(r, '--port');
    expect(r.stderr).not.toMatch(/options\.port/);
  });

  it('rollout refuses a negative seed as specs do, and a non-number in one line', () => {
    expectUsageError(cli('rollout', '--env', 'classic/cartpole-v1', '--seed', '-1'), '--seed');
    expectUsageError(cli('rollout', '--env', 'classic/cartpole-v1', '--seed', 'abc'), '--seed');
  });

  it('start checks its demo sizes like every other integer option', () => {
    expectUsageError(cli('start', '--demo-patients', 'abc', '--port', '0'), '--demo-patients');
  });

  it('rollout refuses an env option the env does not declare, naming it and the known ones', () => {
    const r = cli('rollout', '--env', 'glucose/t1d-v1', '--policy', 'glucose/basal', '--option', 'sensr=Dexcom');
    expectUsageError(r, '--option sensr: unknown option of glucose/t1d-v1; known: patient');
    expect(r.stderr).toContain('sensor');
  });
});
