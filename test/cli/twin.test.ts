import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { datasetToCsv } from '../../datasets/csv.js';
import { parseTwinFile } from '../../twinning/glucose/twin-file.js';
import { syntheticPerson } from '../../twinning/glucose/synthetic.js';

const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'cli/run.ts', ...args], { encoding: 'utf8', cwd: process.cwd() });

const dir = mkdtempSync(join(tmpdir(), 'twinlab-cli-twin-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const person = syntheticPerson({ seed: 8, index: 1, days: 3 });
const csv = join(dir, 'p.csv');
writeFileSync(csv, datasetToCsv(person.dataset));
const out = join(dir, 'twin');

describe('twinlab twin fit | forecast | replay (few CLI starts: each costs seconds on a loaded machine)', () => {
  it('fits (MAP) on data before --until, then forecasts and replays after it in the documented CSV formats', () => {
    const fit = cli(
      'twin',
      'fit',
      '--data',
      csv,
      '--patient-id',
      'P8',
      '--body-weight',
      String(person.dataset.bodyWeightKg),
      '--method',
      'map',
      '--until',
      '2026-01-07T00:00:00Z',
      '--out',
      out,
      '--store',
      join(dir, 'none'),
    );
    expect(fit.status, fit.stderr).toBe(0);
    expect(fit.stdout).toMatch(/^twin twin-[0-9a-f]{16} → .*twin\.json \(map, /);
    expect(fit.stdout).toContain('window 2026-01-05T00:00:00Z → 2026-01-07T00:00:00Z, 576 readings');
    expect(fit.stderr).toMatch(/calibrate \d\/\d/); // progress goes to stderr
    const twin = parseTwinFile(readFileSync(join(out, 'twin.json'), 'utf8'), 'twin.json');
    expect(twin.patient).toEqual({ id: 'P8', bodyWeightKg: person.dataset.bodyWeightKg });

    const fc = cli('twin', 'forecast', '--twin', out, '--data', csv, '--from', '2026-01-07T00:00:00Z', '--horizons', '30,60', '--every', '60', '--csv');
    expect(fc.status, fc.stderr).toBe(0);
    const lines = fc.stdout.trim().split('\n');
    expect(lines[0]).toBe('origin,horizon_min,mean_mg_dl,lo_mg_dl,hi_mg_dl');
    expect(lines).toHaveLength(1 + 24 * 2);
    expect(lines[1]).toMatch(/^2026-01-07T00:00:00Z,30,\d+\.\d,\d+\.\d,\d+\.\d$/);
    for (const line of lines.slice(1)) {
      const [, , mean, lo, hi] = line.split(',').map(Number);
      expect(lo).toBeLessThanOrEqual(mean as number);
      expect(hi).toBeGreaterThanOrEqual(mean as number);
    }

    const rp = cli('twin', 'replay', '--twin', out, '--data', csv, '--from', '2026-01-07T00:00:00Z', '--therapy', 'bolus=1.2', '--csv');
    expect(rp.status, rp.stderr).toBe(0);
    const rows = rp.stdout.trim().split('\n');
    expect(rows[0]).toBe('time,mean_mg_dl,lo_mg_dl,hi_mg_dl');
    expect(rows[1]).toMatch(/^2026-01-07T00:05:00Z,\d+\.\d,\d+\.\d,\d+\.\d$/);
    expect(rows).toHaveLength(1 + 287);
    expect(rp.stderr).toMatch(/# time_in_range_70_180: \d+\.\d % \[\d+\.\d, \d+\.\d\]/);
  }, 300_000);

  it('bad input: one line naming the argument, exit 2', () => {
    const noZone = cli('twin', 'forecast', '--twin', out, '--data', csv, '--from', '2026-01-07T00:00:00');
    expect(noZone.status).toBe(2);
    expect(noZone.stderr.trim().split('\n')).toHaveLength(1);
    expect(noZone.stderr).toMatch(/--from has no time zone/);
    const badKey = cli('twin', 'replay', '--twin', out, '--data', csv, '--from', '2026-01-07T00:00:00Z', '--therapy', 'insulin=2');
    expect(badKey.status).toBe(2);
    expect(badKey.stderr).toMatch(/--therapy: unknown key "insulin"/);
    const badSd = cli('twin', 'fit', '--data', csv, '--body-weight', '70', '--carb-count-sd', '1.5', '--out', join(dir, 'x'));
    expect(badSd.status).toBe(2);
    expect(badSd.stderr).toMatch(/--carb-count-sd must be a number from 0 to 1, got "1\.5"/);
  }, 120_000);
});
