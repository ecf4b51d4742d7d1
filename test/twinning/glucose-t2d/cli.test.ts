import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { datasetToCsv } from '../../../datasets/csv.js';
import { syntheticT2DPerson } from '../../../twinning/glucose-t2d/synthetic.js';
import { parseT2DTwinFile } from '../../../twinning/glucose-t2d/twin-file.js';

const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'cli/run.ts', ...args], { encoding: 'utf8', cwd: process.cwd() });

const dir = mkdtempSync(join(tmpdir(), 'twinlab-cli-t2d-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const person = syntheticT2DPerson({ seed: 8, index: 1, days: 3 });
const csv = join(dir, 'p.csv');
writeFileSync(csv, datasetToCsv(person.dataset));
const out = join(dir, 'twin');

describe('twinlab twin fit --twin glucose-t2d | forecast | replay (few CLI starts: each costs seconds)', () => {
  it('fits (MAP) on data before --until, then forecasts and replays a lower-GI swap after it', () => {
    const fit = cli(
      'twin',
      'fit',
      '--twin',
      'glucose-t2d',
      '--data',
      csv,
      '--body-weight',
      String(person.ctx.bodyWeightKg),
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
    expect(fit.stdout).toMatch(/^twin twin-[0-9a-f]{16} → .*twin\.json \(glucose-t2d, map, /);
    expect(fit.stdout).toContain('logged meals at GI 55; window 2026-01-05T00:00:00Z → 2026-01-07T00:00:00Z, 576 readings');
    expect(fit.stdout).toMatch(/beta \(pmol\/kg\/min per mg\/dL\)/);
    const twin = parseT2DTwinFile(readFileSync(join(out, 'twin.json'), 'utf8'), 'twin.json');
    expect(twin.twin).toBe('glucose-t2d');

    const fc = cli('twin', 'forecast', '--twin', out, '--data', csv, '--from', '2026-01-07T00:00:00Z', '--horizons', '30,60', '--every', '60', '--csv');
    expect(fc.status, fc.stderr).toBe(0);
    const lines = fc.stdout.trim().split('\n');
    expect(lines[0]).toBe('origin,horizon_min,mean_mg_dl,lo_mg_dl,hi_mg_dl');
    expect(lines).toHaveLength(1 + 24 * 2);
    expect(lines[1]).toMatch(/^2026-01-07T00:00:00Z,30,\d+\.\d,\d+\.\d,\d+\.\d$/);

    let meal = 2 * 288;
    while (!((person.dataset.carbsG[meal] as number) > 0)) meal++;
    const mealIso = new Date(person.dataset.startMs + meal * 300_000).toISOString();
    const rp = cli(
      'twin',
      'replay',
      '--twin',
      out,
      '--data',
      csv,
      '--from',
      '2026-01-07T00:00:00Z',
      '--swap',
      `${mealIso}=barley`,
      '--therapy',
      'carbs=0.9',
      '--json',
    );
    expect(rp.status, rp.stderr).toBe(0);
    const result = JSON.parse(rp.stdout) as {
      whatIf: { swaps: Array<{ food: string; gi: number }> };
      endpoints: Record<string, { mean: number }>;
      rows: unknown[];
    };
    expect(result.whatIf.swaps[0]).toMatchObject({ food: 'barley', gi: 28 });
    expect(result.rows).toHaveLength(287);
    expect(result.endpoints.time_in_range_70_180?.mean).toBeGreaterThanOrEqual(0);
  }, 120_000);

  it('bad input exits 2 with one line naming the field', () => {
    const insulin = join(dir, 'insulin.csv');
    writeFileSync(insulin, readFileSync(csv, 'utf8').replace(/\n(2026-01-05T06:00:00Z,\d+),0,0,/, '\n$1,0,3,'));
    const r = cli(
      'twin',
      'fit',
      '--twin',
      'glucose-t2d',
      '--data',
      insulin,
      '--body-weight',
      '90',
      '--method',
      'map',
      '--out',
      join(dir, 'x'),
      '--store',
      join(dir, 'none'),
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/bolus_u: the type 2 twin is for people not treated with insulin, but the data has 3 at 2026-01-05T06:00:00Z/);
    const gi = cli('twin', 'replay', '--twin', out, '--data', csv, '--from', '2026-01-07T00:00:00Z', '--therapy', 'bolus=2');
    expect(gi.status).toBe(2);
    expect(gi.stderr).toMatch(/--therapy bolus: the type 2 twin has no insulin input/);
  }, 60_000);
});
