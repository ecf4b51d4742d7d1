import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetToCsv } from '../../datasets/csv.js';
import { datasetToNightscout } from '../../datasets/nightscout.js';
import { syntheticDataset, tempDir } from '../datasets/helpers.js';

const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'cli/run.ts', ...args], { encoding: 'utf8', cwd: process.cwd() });

let tmp: ReturnType<typeof tempDir>;
let data: string;
const d = syntheticDataset(5, 2);
let id = '';

beforeAll(() => {
  tmp = tempDir('twinlab-cli-data-');
  data = join(tmp.dir, 'store');
  writeFileSync(join(tmp.dir, 'p5.csv'), datasetToCsv(d));
  writeFileSync(join(tmp.dir, 'bad.csv'), `${datasetToCsv(d).trimEnd()}\n2024-03-03T05:00:00Z,120,1,-3,\n`);
  const ns = datasetToNightscout(d);
  mkdirSync(join(tmp.dir, 'ns'));
  writeFileSync(join(tmp.dir, 'ns', 'entries.json'), JSON.stringify(ns.entries));
  writeFileSync(join(tmp.dir, 'ns', 'treatments.json'), JSON.stringify(ns.treatments));
});
afterAll(() => tmp.cleanup());

describe('twinlab data import (each CLI start costs seconds on a loaded machine: few runs, several checks each)', () => {
  it('imports a CSV and prints the dataset id, patient, span, rows, missing CGM and warnings; a Nightscout directory with --json', () => {
    const r = cli('data', 'import', join(tmp.dir, 'p5.csv'), '--patient-id', 'P5', '--body-weight', '70', '--data', data);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^imported ds-[0-9a-f]{16}\n/);
    expect(r.stdout).toContain('patient      P5');
    expect(r.stdout).toContain('span         2024-03-01T05:00:00Z → 2024-03-03T05:00:00Z (2 days, 576 slots of 5 min)');
    expect(r.stdout).toContain('rows         576 (csv, p5.csv)');
    expect(r.stdout).toMatch(/missing CGM {2}\d+(\.\d+)? %/);
    expect(r.stdout).toMatch(/warnings {5}1\n {4}- cgm: no reading for \d+ min, from 2024-03-02 0/);
    id = (/^imported (ds-[0-9a-f]{16})/.exec(r.stdout) as RegExpExecArray)[1] as string;
    const ns = cli('data', 'import', join(tmp.dir, 'ns'), '--patient-id', 'P5-ns', '--basal', '0.8', '--data', data, '--json');
    expect(ns.status, ns.stderr).toBe(0);
    expect(JSON.parse(ns.stdout)).toMatchObject({ patientId: 'P5-ns', created: true, rows: 568, provenance: { format: 'nightscout' } });
  });

  it('bad input or arguments: exit 2 with one line naming the row and field (or the argument), nothing stored', () => {
    const bad = cli('data', 'import', join(tmp.dir, 'bad.csv'), '--patient-id', 'P5', '--data', data);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('twinlab: error: bad.csv: line 578, bolus_u: -3 U is negative\n');
    const missing = cli('data', 'import', join(tmp.dir, 'nope.csv'), '--data', data);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^twinlab: error: nope\.csv: file: no file .*nope\.csv\n$/);
    const badArg = cli('data', 'import', join(tmp.dir, 'p5.csv'), '--body-weight', '0', '--data', data);
    expect(badArg.status).toBe(2);
    expect(badArg.stderr.split('\n')[0]).toContain('--body-weight');
  });

  it('ls lists both datasets; show --csv prints the stored data exactly', () => {
    const ls = cli('data', 'ls', '--data', data, '--json');
    expect(
      JSON.parse(ls.stdout)
        .map((x: { patientId: string }) => x.patientId)
        .sort(),
    ).toEqual(['P5', 'P5-ns']);
    const show = cli('data', 'show', id, '--csv', '--data', data);
    expect(show.status, show.stderr).toBe(0);
    expect(show.stdout).toBe(datasetToCsv(d));
  });
});
