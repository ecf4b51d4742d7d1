import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Store } from '../../experiments/store.js';
import { cli, ROOT } from './cli-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'twinlab-cli-'));
const data = join(dir, 'data');

describe('experiment CLI', () => {
  it('refuses an invalid spec with exit 2, naming the fields, and creates no store', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'kind: trial\nname: x\ncohort: { env: classic/cartpole-v1, size: -3 }\narms: []\nendpoints: { primary: [retrun] }\n');
    const r = await cli(['run', bad, '--data', data]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cohort\.size: .*got -3/);
    expect(r.stderr).toMatch(/arms: /);
    expect(existsSync(join(data, 'twinlab.db'))).toBe(false);
  });

  it('runs, lists, shows, replays, exports, reports and resumes an experiment with the right exit codes', async () => {
    const run = await cli(['run', join(ROOT, 'experiments/examples/trial-cartpole-random.yaml'), '--data', data, '--workers', '2', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; experimentId: string; status?: string });
    expect(lines[0]?.type).toBe('experiment.created');
    expect(lines.filter((l) => l.type === 'run.finished')).toHaveLength(40);
    expect(lines.at(-1)).toMatchObject({ type: 'experiment.ended', status: 'finished' });
    const id = lines[0]?.experimentId as string;

    const ls = await cli(['ls', '--data', data, '--json']);
    expect(ls.code).toBe(0);
    expect(JSON.parse(ls.stdout)).toEqual([expect.objectContaining({ id, status: 'finished', jobs: 40, finished: 40 })]);
    expect((await cli(['show', id, '--data', data])).code).toBe(0);
    expect((await cli(['show', 'nope', '--data', data])).code).toBe(2);

    const replay = await cli(['replay', `${id}/job-3`, '--verify', '--data', data]);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toMatch(/^identical/);
    const store = Store.open(data);
    const log = store.getEpisode(`${id}/job-3`, 'episode-1');
    store.replaceEpisodeStep(`${id}/job-3`, 'episode-1', 2, { action: 1 - (log?.steps[2]?.action as number) });
    store.close();
    const diverged = await cli(['replay', `${id}/job-3`, '--episode', 'episode-1', '--verify', '--data', data]);
    expect(diverged.code).toBe(1);
    expect(diverged.stdout).toMatch(/diverges at step 2, field action/);

    const csv = await cli(['export', `${id}/job-0`, '--format', 'csv', '--data', data]);
    expect(csv.code).toBe(0);
    expect(csv.stdout.split('\n')[0]).toMatch(/^job,arm,patient,replicate,episode,step,action,reward/);

    const report = await cli(['report', id, '--format', 'json', '--data', data]);
    expect(report.code).toBe(0);
    expect(JSON.parse(report.stdout).trial.arms).toEqual(['random-a', 'random-b']);

    const resume = await cli(['resume', id, '--data', data]);
    expect(resume.code).toBe(0);
    expect(resume.stdout).toMatch(/finished \(40\/40 jobs ok\)/);
  });

  it('trains a DQN agent through the runner and prints the evaluation, trajectory hash and policy path', async () => {
    const config = join(dir, 'dqn.yaml');
    writeFileSync(config, 'learningStarts: 50\nbatchSize: 16\nhidden: [16]\nevalEvery: 0\nevalEpisodes: 2\nbackend: cpu\n');
    const out = join(dir, 'policy-out');
    const r = await cli(['train', '--env', 'classic/cartpole-v1', '--seed', '3', '--steps', '300', '--config', config, '--workers', '1', '--out', out, '--data', data]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/final evaluation \d+\.\d+ ± \d+\.\d+/);
    expect(r.stdout).toMatch(/trajectory hash [0-9a-f]{64}/);
    expect(r.stdout).toMatch(/policy .*runs\/train-classic-cartpole-v1-.*\/job-0\/policy/);
    expect(existsSync(join(out, 'policy.json'))).toBe(true);
    const bad = await cli(['train', '--env', 'classic/cartpole-v1', '--preset', 'nope', '--data', data]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/preset: unknown preset "nope"/);
  });
});
