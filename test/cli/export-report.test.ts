import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../experiments/cli-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'twinlab-export-'));
const data = join(dir, 'data');
let id = '';

beforeAll(async () => {
  const spec = join(dir, 'trial.yaml');
  writeFileSync(
    spec,
    [
      'kind: trial',
      'name: export test',
      'seed: 5',
      'cohort: { twin: glucose, population: adult, size: 2, generated: true }',
      'arms:',
      '  - { name: basal-only, policy: glucose/basal }',
      '  - { name: pid, policy: glucose/pid }',
      'duration: { steps: 12 }',
      'endpoints: { primary: [tir], secondary: [mean_bg] }',
      '',
    ].join('\n'),
  );
  const run = await cli(['run', spec, '--data', data, '--json']);
  expect(run.code, run.stderr).toBe(0);
  id = (JSON.parse(run.stdout.split('\n')[0] as string) as { experimentId: string }).experimentId;
}, 120_000);

describe('twinlab export', () => {
  it('exports a whole trial in one CSV with arm and patient columns and units in the headers', async () => {
    const r = await cli(['export', id, '--data', data]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const head = (lines[0] as string).split(',');
    expect(head.slice(0, 6)).toEqual(['job', 'arm', 'patient', 'replicate', 'episode', 'step']);
    expect(head).toContain('info_bg_mg_dl');
    expect(head).toContain('obs_cgm_mg_dl');
    expect(head).toContain('info_bolus_u');
    expect(lines).toHaveLength(1 + 4 * 12);
    const pairs = new Set(lines.slice(1).map((l) => l.split(',').slice(1, 3).join('/')));
    expect(pairs.size).toBe(4);
    expect([...pairs].some((p) => p.startsWith('pid/'))).toBe(true);
    const bg = lines.slice(1).map((l) => Number(l.split(',')[head.indexOf('info_bg_mg_dl')]));
    expect(bg.every((v) => v > 20 && v < 600)).toBe(true);
  }, 60_000);

  it('one job still exports alone (with the same columns); events of a whole trial is a named argument error', async () => {
    const one = await cli(['export', `${id}/job-1`, '--format', 'jsonl', '--data', data]);
    expect(one.code, one.stderr).toBe(0);
    const rows = one.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows).toHaveLength(12);
    expect(rows[0]).toMatchObject({ job: `${id}/job-1`, arm: 'pid', step: 0 });
    const events = await cli(['export', id, '--what', 'events', '--data', data]);
    expect(events.code).toBe(2);
    expect(events.stderr).toMatch(/--what events exports one job/);
  }, 60_000);
});

describe('twinlab report', () => {
  it('md to stdout has no inline base64 charts and says how to get them; --out writes SVG files', async () => {
    const r = await cli(['report', id, '--data', data]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('data:image');
    expect(r.stdout.length).toBeLessThan(20_000);
    expect(r.stdout).toContain(`twinlab report ${id} --out report.md`);
    expect(r.stdout).toMatch(/n\/a: the endpoint has no better direction/);
    const out = join(dir, 'report.md');
    const file = await cli(['report', id, '--data', data, '--out', out]);
    expect(file.code, file.stderr).toBe(0);
    const md = readFileSync(out, 'utf8');
    const svg = /\]\(([^)]+\.svg)\)/.exec(md)?.[1];
    expect(svg).toBeDefined();
    expect(existsSync(join(dir, svg as string))).toBe(true);
  }, 60_000);

  it('a trial\'s html is the full report (methods with the twin, flow, baseline, AGP per arm); --format pdf prints it with Chromium', async () => {
    const html = await cli(['report', id, '--data', data, '--format', 'html']);
    expect(html.code, html.stderr).toBe(0);
    expect(html.stdout).toContain('Glucose–insulin (type 1 diabetes');
    for (const section of ['id="flow"', 'id="baseline"', 'id="reproducibility"', 'id="chart-glucose-bands"', 'id="chart-cvga"']) expect(html.stdout).toContain(section);
    const noOut = await cli(['report', id, '--data', data, '--format', 'pdf']);
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toMatch(/--format pdf needs --out/);
    const pdf = join(dir, 'report.pdf');
    const printed = await cli(['report', id, '--data', data, '--format', 'pdf', '--out', pdf]);
    expect(printed.code, printed.stderr).toBe(0);
    const bytes = readFileSync(pdf);
    expect(bytes.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(bytes.length).toBeGreaterThan(20_000);
  }, 120_000);
});
