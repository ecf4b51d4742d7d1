import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.js';
import { cli } from '../experiments/cli-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'twinlab-ope-'));
const data = join(dir, 'data');
let id = '';

beforeAll(async () => {
  const spec = join(dir, 'trial.yaml');
  writeFileSync(
    spec,
    [
      'kind: trial',
      'name: ope logs',
      'seed: 5',
      'cohort: { twin: sepsis, population: icu, size: 60 }',
      'arms:',
      '  - { name: clinician, policy: sepsis/physician, options: { epsilon: 0.3 } }',
      '  - { name: none, policy: sepsis/no-treatment }',
      'endpoints: { primary: [mortality] }',
      '',
    ].join('\n'),
  );
  const trial = await cli(['run', spec, '--data', data, '--inline', '--json']);
  expect(trial.code, trial.stderr).toBe(0);
  id = (JSON.parse(trial.stdout.split('\n')[0] as string) as { experimentId: string }).experimentId;
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `twinlab …` in-process (main() is what cli/run.ts calls), capturing stdout and stderr: spawning a CLI per case is slow. */
async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const so = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  const se = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err.push(String(chunk));
    return true;
  });
  try {
    const code = await main(args);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    so.mockRestore();
    se.mockRestore();
  }
}

describe('twinlab ope', () => {
  it('estimates a registered policy from one arm of a stored trial, with baselines, ESS, estimated π_b and re-simulated truth', async () => {
    const r = await run(['ope', '--logs', id, '--arm', 'clinician', '--policy', 'sepsis/optimal-observed', '--data', data, '--bootstrap', '20', '--bootstrap-fqe', '10', '--truth', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as {
      n: number;
      behaviourPolicy: string;
      behaviour: { source: string; model: string; calibration: { ece: number; bins: unknown[] }; observedValue: number };
      target: { estimates: { estimator: string; value: number; ci: { lo: number; hi: number } }[]; ess: number };
      baselines: { name: string }[];
      truth: Record<string, number>;
      warnings: string[];
    };
    expect(report.n).toBe(60);
    expect(report.behaviourPolicy).toBe('sepsis/physician');
    expect(report.target.estimates.map((e) => e.estimator)).toEqual(['IS', 'WIS', 'PDWIS', 'DR', 'WDR', 'FQE']);
    expect(report.target.ess).toBeGreaterThan(0);
    expect(report.baselines.map((b) => b.name)).toEqual(['random', 'zero-treatment (action 0: no treatment)', 'behaviour', 'behaviour-cloning']);
    // episode logs keep observation, action and reward but not π_b: it is estimated, and the output says so
    expect(report.behaviour.source).toBe('estimated');
    expect(report.behaviour.model).toBe('counts');
    expect(report.behaviour.calibration.bins.length).toBeGreaterThan(0);
    expect(report.warnings[0]).toContain('not in the logs');
    // re-simulated truth: the behaviour value is the observed mean; no treatment is far worse than the target
    expect(report.truth.behaviour).toBeCloseTo(report.behaviour.observedValue, 12);
    expect(report.truth['zero-treatment']).toBeLessThan((report.truth.target as number) - 0.5);
  }, 120_000);

  it('prints a table naming the estimated behaviour probabilities', async () => {
    const r = await run(['ope', '--logs', id, '--arm', 'clinician', '--policy', 'sepsis/treat-all', '--data', data, '--bootstrap', '10', '--bootstrap-fqe', '10']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('behaviour probabilities: NOT in the logs — estimated (counts)');
    expect(r.stdout).toMatch(/sepsis\/treat-all \(target\)/);
    expect(r.stdout).toContain('behaviour-cloning');
  }, 60_000);

  it('bad arguments: one line naming the argument, exit 2', async () => {
    const cases: [string[], string][] = [
      [['--logs', id, '--policy', 'sepsis/optimal'], '--arm is required'],
      [['--logs', id, '--arm', 'nope', '--policy', 'sepsis/optimal'], '--arm nope'],
      [['--logs', id, '--arm', 'clinician', '--policy', 'nope/x'], '--policy'],
      [['--logs', 'no-such-experiment', '--policy', 'sepsis/optimal'], '--logs'],
      [['--logs', id, '--arm', 'clinician', '--policy', 'sepsis/optimal', '--gamma', '1.5'], '--gamma'],
      [['--logs', id, '--arm', 'clinician', '--policy', 'sepsis/optimal', '--bootstrap', '3'], '--bootstrap'],
      [['--policy', 'sepsis/optimal'], '--logs'],
    ];
    for (const [args, named] of cases) {
      const r = await run(['ope', ...args, '--data', data]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr, args.join(' ')).toContain(named);
    }
  }, 60_000);
});
