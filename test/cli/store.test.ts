import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { corruptStore } from '../experiments/fixtures/damaged-store.js';

const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'cli/run.ts', ...args], { encoding: 'utf8', cwd: process.cwd(), timeout: 90_000 });
const dir = mkdtempSync(join(tmpdir(), 'twinlab-cli-store-'));

describe('CLI and the store file', () => {
  it('ls on an existing empty directory lists no experiments (exit 0, no store created); a missing one is still exit 2', () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const text = cli('ls', '--data', empty);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toBe('no experiments\n');
    const json = cli('ls', '--data', empty, '--json');
    expect(JSON.parse(json.stdout)).toEqual([]);
    expect(existsSync(join(empty, 'twinlab.db'))).toBe(false);
    expect(cli('ls', '--data', join(dir, 'missing')).status).toBe(2);
  });

  it('run refuses a store damaged mid-file, naming it, and writes no experiment', () => {
    const data = join(dir, 'damaged');
    const file = corruptStore(data);
    const spec = join(dir, 'spec.json');
    writeFileSync(
      spec,
      JSON.stringify({ kind: 'trial', name: 'after damage', cohort: { env: 'classic/cartpole-v1', size: 1 }, arms: [{ name: 'a', policy: 'random' }], endpoints: { primary: ['return'] } }),
    );
    const before = createHash('sha256').update(readFileSync(file)).digest('hex');
    const r = cli('run', spec, '--data', data, '--inline');
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`store ${file} is damaged`);
    // nothing written: the store file is byte for byte what it was (listing it may itself fail, as the
    // damage can hit the experiments table's pages)
    expect(createHash('sha256').update(readFileSync(file)).digest('hex')).toBe(before);
  });
});
