import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const cli = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'cli/run.ts', ...args], { encoding: 'utf8', cwd: process.cwd(), timeout: 60_000 });
const dir = mkdtempSync(join(tmpdir(), 'twinlab-limits-'));

describe('CLI size limits', () => {
  it.each([
    ['replicates', 2, 1e9],
    ['cohort.size', 1e12, 1],
  ])('run refuses a huge %s at once with exit 2 naming the field, writing no store', (field, size, replicates) => {
    const spec = join(dir, `${field}.json`);
    writeFileSync(
      spec,
      JSON.stringify({
        kind: 'trial',
        name: 'big',
        cohort: { env: 'classic/cartpole-v1', size },
        replicates,
        arms: [{ name: 'a', policy: 'random' }],
        endpoints: { primary: ['return'] },
      }),
    );
    const data = join(dir, `data-${field}`);
    const r = cli('run', spec, '--data', data);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`${field.replace('.', '\\.')}: must be at most`));
    expect(r.stderr).not.toMatch(/Invalid array length/);
    expect(existsSync(join(data, 'twinlab.db'))).toBe(false);
  });

  it('train --seeds beyond the limit exits 2 naming --seeds', () => {
    const r = cli('train', '--env', 'classic/cartpole-v1', '--seeds', '100000000', '--data', join(dir, 'train'));
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('--seeds');
    expect(existsSync(join(dir, 'train', 'twinlab.db'))).toBe(false);
  });
});
