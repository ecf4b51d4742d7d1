import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'cli/run.ts', ...args], { encoding: 'utf8', cwd: process.cwd() });

const CSV = `time,event,amount_mg,duration_h,conc_mg_l
2026-01-01T08:00:00+01:00,dose,1500,1.5,
2026-01-01T20:00:00+01:00,dose,1000,1,
2026-01-02T08:00:00+01:00,dose,1000,1,
2026-01-02T19:30:00+01:00,level,,,12.4
2026-01-02T20:00:00+01:00,dose,1000,1,
2026-01-02T22:00:00+01:00,level,,,31.0
2026-01-03T08:00:00+01:00,dose,1000,1,
2026-01-03T20:00:00+01:00,dose,1000,1,
2026-01-04T07:30:00+01:00,level,,,14.1
`;

describe('twinlab twin fit|replay|dose --twin vancomycin', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vanco-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const data = join(dir, 'levels.csv');
  writeFileSync(data, CSV);
  const covariates = ['--age', '64', '--sex', 'F', '--body-weight', '72', '--scr', '0.9'];

  it('fit --json prints AUC24 and CL/V with intervals; the same run gives the same twin.json bytes', () => {
    const out = join(dir, 'twin');
    const r = cli('twin', 'fit', '--twin', 'vancomycin', '--data', data, ...covariates, '--out', out, '--json', '--steps', '1500', '--burn', '500');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.twin).toBe('vancomycin');
    expect(j.auc24.lo).toBeLessThan(j.auc24.mean);
    expect(j.auc24.mean).toBeLessThan(j.auc24.hi);
    expect(j.parameters.CL).toMatchObject({ unit: 'L/h' });
    expect(j.parameters.V1.lo).toBeLessThan(j.parameters.V1.hi);
    expect(j.parameters.V).toEqual(j.parameters.V1);
    expect(j.covariates.crclMlMin).toBeCloseTo(((140 - 64) * 72 * 0.85) / (72 * 0.9), 9);
    const first = readFileSync(join(out, 'twin.json'), 'utf8');
    expect(cli('twin', 'fit', '--twin', 'vancomycin', '--data', data, ...covariates, '--out', out, '--steps', '1500', '--burn', '500').status).toBe(0);
    expect(readFileSync(join(out, 'twin.json'), 'utf8')).toBe(first);

    const replay = cli('twin', 'replay', '--twin', out, '--data', data, '--from', '2026-01-03T00:00:00+01:00', '--csv');
    expect(replay.status).toBe(0);
    const lines = replay.stdout.trim().split('\n');
    expect(lines[0]).toBe('time,mean_mg_l,lo_mg_l,hi_mg_l');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^2026-01-04T06:30:00Z,\d+\.\d\d,\d+\.\d\d,\d+\.\d\d$/);
    expect(replay.stderr).toMatch(/conditioned on 2 level/);

    const dose = cli('twin', 'dose', '--twin', out, '--target-auc', '400-600', '--intervals', '8,12,24', '--mic', '1', '--json');
    expect(dose.status).toBe(0);
    const rec = JSON.parse(dose.stdout);
    expect(rec.regimens.length).toBe(10);
    expect(rec.regimens[0].pTarget).toBeGreaterThanOrEqual(rec.regimens[1].pTarget);
    expect(rec.loadingDose.mg).toBe(1750);
  }, 120_000);

  it.each([
    [['twin', 'fit', '--twin', 'vancomycin', '--data', 'X', '--age', '64', '--sex', 'F', '--body-weight', '72', '--out', 'Y'], /--scr is required/],
    [['twin', 'dose', '--twin', 'Y', '--target-auc', '600-400'], /--target-auc must be LOW-HIGH/],
  ])('bad arguments exit 2 with one line naming the argument (%#)', (args, message) => {
    const a = (args as string[]).map((x) => (x === 'X' ? data : x === 'Y' ? join(dir, 'none') : x));
    const r = cli(...a);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message as RegExp);
  });

  it('a malformed file exits 2 naming the file, row and field', () => {
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'time,event,amount_mg,duration_h,conc_mg_l\n2026-01-01T08:00:00Z,dose,-1000,1,\n');
    const r = cli('twin', 'fit', '--twin', 'vancomycin', '--data', bad, ...covariates, '--out', join(dir, 'bad'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/bad\.csv: line 2, amount_mg: -1000 mg is negative/);
  });
});
