import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../agents/backend.js';
import { QNetwork } from '../../agents/q-network.js';
import { savePolicy } from '../../agents/save.js';
import { registerExplainCommand } from '../../cli/commands/explain.js';
import { newProgram, reportError } from '../../cli/program.js';
import { Rng } from '../../engine/random.js';
import { InlineExecutor } from '../../experiments/executor.js';
import { runExperiment } from '../../experiments/runner.js';
import { Store } from '../../experiments/store.js';

/** The command in this process (a spawned CLI costs ≈ 20 s of module loading on the loaded CI machine): exit status and output. */
async function cli(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const program = newProgram();
  registerExplainCommand(program);
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  let status = 0;
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (error) {
    status = reportError(error);
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return { status, stdout, stderr };
}
const spawnCli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'cli/run.ts', ...args], { encoding: 'utf8', cwd: process.cwd() });

let data: string;
let policyDir: string;
let experimentId: string;
beforeAll(async () => {
  data = mkdtempSync(join(tmpdir(), 'twinlab-explain-'));
  policyDir = join(data, 'sepsis-q');
  await initBackend('wasm');
  const net = QNetwork.create({ inputSize: 19, numActions: 8, hidden: [16], dueling: false }, Rng.fromSeed(4), {
    learningRate: 1e-3,
    adamEpsilon: 1e-8,
    maxGradNorm: 10,
    loss: 'huber',
  });
  await savePolicy(policyDir, net, {
    envId: 'sepsis/oberst-v1',
    normalization: { kind: 'none' },
    provenance: { seed: 4, config: {}, codeVersion: 'test', trainedSteps: 0 },
  });
  const store = Store.open(data);
  const outcome = await runExperiment({
    store,
    executor: new InlineExecutor(),
    spec: {
      kind: 'trial',
      name: 'explain',
      seed: 5,
      cohort: { twin: 'sepsis', population: 'icu', size: 2 },
      arms: [{ name: 'q', policy: policyDir, shield: true }],
      endpoints: { primary: ['mortality'] },
    },
  });
  expect(outcome.status).toBe('finished');
  experimentId = outcome.id;
  store.close();
}, 60_000);

describe('twinlab explain', () => {
  it('explains a logged decision: Q-values from the log, attributions, a counterfactual per action', async () => {
    const r = await cli('explain', '--data', data, '--experiment', experimentId, '--job', '0', '--episode', '0', '--step', '0', '--ig-steps', '256', '--json');
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      q: { values: number[]; gap: number; source: string };
      attributions: { q: number; qBaseline: number; completenessError: number; features: { feature: string; attribution: number }[] };
      counterfactuals: { branches: { action: number; logged: boolean; endpoints: Record<string, number> }[] };
      action: { taken: number };
    };
    expect(out.q.source).toBe('log');
    expect(out.q.values).toHaveLength(8);
    expect(out.q.gap).toBeGreaterThanOrEqual(0);
    expect(out.attributions.features).toHaveLength(19);
    const sum = out.attributions.features.reduce((a, f) => a + f.attribution, 0);
    expect(Math.abs(sum - (out.attributions.q - out.attributions.qBaseline))).toBeLessThan(
      0.01 * Math.abs(out.attributions.q - out.attributions.qBaseline) + 1e-3,
    );
    expect(out.counterfactuals.branches).toHaveLength(8);
    expect(out.counterfactuals.branches.filter((b) => b.logged).map((b) => b.action)).toEqual([out.action.taken]);
    expect(out.counterfactuals.branches.every((b) => 'mortality' in b.endpoints && 'shieldInterventions' in b.endpoints)).toBe(true);
  }, 60_000);

  it('distils the saved network into a tree with its fidelity and performance', async () => {
    const r = await cli(
      'explain',
      '--distil',
      policyDir,
      '--states',
      '1000',
      '--iterations',
      '2',
      '--train-size',
      '500',
      '--max-depth',
      '3',
      '--episodes',
      '3',
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^decision tree distilled from .* on sepsis\/oberst-v1: depth \d/);
    expect(r.stdout).toMatch(/fidelity \(same action as the network\): \d+\.\d %/);
    expect(r.stdout).toMatch(/\n {2}network +-?\d/);
    expect(r.stdout).toMatch(/\n {2}tree +-?\d/);
  }, 60_000);

  it('bad arguments exit 2 naming the argument', async () => {
    const noJob = spawnCli('explain', '--data', data, '--experiment', experimentId, '--step', '1'); // once through the real binary
    expect(noJob.status).toBe(2);
    expect(noJob.stderr).toMatch(/^twinlab: error: --job is required/);
    const negative = await cli('explain', '--data', data, '--experiment', experimentId, '--job', '0', '--step', '-1');
    expect(negative.status).toBe(2);
    expect(negative.stderr).toContain('--step must be an integer');
    const badStep = await cli('explain', '--data', data, '--experiment', experimentId, '--job', '0', '--step', '99999');
    expect(badStep.status).toBe(2);
    expect(badStep.stderr).toContain('--step must be <');
    const notSaved = await cli('explain', '--distil', 'glucose/pid');
    expect(notSaved.status).toBe(2);
    expect(notSaved.stderr).toContain('--distil');
  }, 90_000);
});
