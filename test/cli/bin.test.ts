import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('bin/twinlab.js', () => {
  it('runs from a directory outside the repository (tsx is resolved from the package, not the caller)', () => {
    const r = spawnSync(process.execPath, [join(process.cwd(), 'bin', 'twinlab.js'), 'ls', '--help'], { encoding: 'utf8', cwd: tmpdir(), timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Usage: twinlab ls/);
  });
});
