import { describe, expect, it } from 'vitest';
import { lsTable } from '../../cli/commands/ls.js';

/** `twinlab ls` keeps its columns aligned whatever the id length (issue #13 item 9). */
describe('twinlab ls table', () => {
  it('pads every column to its longest cell, jobs right-aligned', () => {
    const rows = [
      { id: 'short', kind: 'trial', status: 'finished', createdAt: '2026-01-01T00:00:00Z', jobs: 60, finished: 60, failed: 0 },
      {
        id: 'a-very-long-experiment-id-that-is-longer-than-forty-four-characters-2026',
        kind: 'train',
        status: 'running',
        createdAt: '2026-01-02T00:00:00Z',
        jobs: 2,
        finished: 0,
        failed: 1,
      },
    ];
    const lines = lsTable(rows).trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    const starts = (l: string) => [
      l.indexOf('trial') >= 0 ? l.indexOf('trial') : l.indexOf('train') >= 0 ? l.indexOf('train') : l.indexOf('kind'),
      l.indexOf('2026-01'),
    ];
    expect(new Set(lines.map((l) => starts(l)[0])).size).toBe(1);
    expect(new Set(lines.slice(1).map((l) => l.indexOf('2026-01-0')))).toEqual(new Set([lines[1]?.indexOf('2026-01-0')]));
    expect(lines[1]).toContain('60/60');
    expect(lines[2]).toContain('  0/2  1 failed');
    expect(lines[0]?.startsWith('id ')).toBe(true);
  });
});
