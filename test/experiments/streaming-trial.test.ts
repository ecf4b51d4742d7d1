import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../engine/hash.js';
import { getTwin } from '../../engine/twin.js';
import { Rng } from '../../engine/random.js';
import { InlineExecutor } from '../../experiments/executor.js';
import { exportEpisodes } from '../../experiments/export.js';
import { exportRun, verifyReplay } from '../../experiments/replay.js';
import { expandJobs, type TrialBlockConfig, type TrialJobConfig } from '../../experiments/jobs.js';
import { finishedBlocks, runExperiment, streamingAggregator } from '../../experiments/runner.js';
import { type TrialSpec, validateSpec } from '../../experiments/spec.js';
import { Store } from '../../experiments/store.js';
import { queueBatches } from '../../experiments/redis-executor.js';
import { ExactSum, LogSketch } from '../../experiments/streaming-stats.js';
import { BatchPayloadSchema, WIRE_VERSION } from '../../experiments/redis-executor.js';
import { blockPatientConfigs, runTrialBlockJob, type TrialBlockResult } from '../../experiments/trial-blocks.js';
import type { TrialAnalysis } from '../../experiments/trial-analysis.js';
import { blockOfEpisode } from '../../cli/commands/replay.js';
import { cli } from './cli-helpers.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function openStore(): Store {
  const dir = mkdtempSync(join(tmpdir(), 'twinlab-streaming-'));
  dirs.push(dir);
  return Store.open(dir);
}

/** 240 cartpole "patients" × 2 random arms, unpaired (so the arms differ), 1 episode each. */
const TRIAL = {
  kind: 'trial',
  name: 'streaming',
  seed: 31,
  cohort: { env: 'classic/cartpole-v1', size: 240 },
  arms: [
    { name: 'a', policy: 'random' },
    { name: 'b', policy: 'random' },
  ],
  endpoints: { primary: ['return'], secondary: ['length', 'terminated'], hypotheses: { length: { hypothesis: 'equivalence', margin: 3 } } },
  paired: false,
};

function shuffled<T>(values: T[], seed: number): T[] {
  const rng = Rng.fromSeed(seed);
  const out = [...values];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.integer(0, i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe('streaming trials (spec `streaming`)', () => {
  let exact: { store: Store; id: string; trial: TrialAnalysis } | undefined;
  let streaming: { store: Store; id: string; trial: TrialAnalysis } | undefined;

  it('a block worker regenerates exactly the job configs the coordinator expands (generated glucose patients)', () => {
    const spec = {
      kind: 'trial',
      name: 'glucose blocks',
      seed: 5,
      cohort: { twin: 'glucose', population: 'adult', size: 5, generated: true },
      arms: [
        { name: 'bb', policy: 'glucose/basal-bolus' },
        { name: 'pid', policy: 'glucose/pid' },
      ],
      duration: { steps: 12 },
      replicates: 2,
      keepEpisodes: { every: 2 },
      endpoints: { primary: ['tir'] },
    };
    const expected = expandJobs('x', validateSpec(spec)).map((j) => j.config as TrialJobConfig);
    const blocks = expandJobs('x', validateSpec({ ...spec, streaming: { blockSize: 2 } }));
    expect(blocks.map((b) => [(b.config as TrialBlockConfig).from, (b.config as TrialBlockConfig).to])).toEqual([
      [0, 2],
      [2, 4],
      [4, 5],
    ]);
    // The block carries no patient: only the cohort request and the trial's shape.
    expect(JSON.stringify(blocks[0]?.config)).not.toContain('adult~');
    const twin = getTwin('glucose');
    const regenerated = blocks.flatMap((b) => {
      const c = b.config as TrialBlockConfig;
      return Array.from({ length: c.to - c.from }, (_, i) => blockPatientConfigs(c, c.from + i, twin)).flat();
    });
    expect(regenerated).toEqual(expected); // patient names, covariates (the generated parameters), seeds, env options, keepEpisodes
    expect(expected.filter((c) => c.keepEpisodes === false).map((c) => c.enrolled)).toEqual([1, 1, 1, 1, 3, 3, 3, 3]);
  });

  it('same per-patient values and trajectory hashes as the trial run job by job; episode logs only for every k-th patient', async () => {
    const exactStore = openStore();
    const a = await runExperiment({ spec: TRIAL, id: 'exact', store: exactStore, executor: new InlineExecutor() });
    expect(a.status).toBe('finished');
    exact = { store: exactStore, id: 'exact', trial: a.trial as TrialAnalysis };
    const store = openStore();
    const b = await runExperiment({ spec: { ...TRIAL, streaming: { blockSize: 64 }, keepEpisodes: { every: 50 } }, id: 'streaming', store, executor: new InlineExecutor() });
    expect(b.status).toBe('finished');
    streaming = { store, id: 'streaming', trial: b.trial as TrialAnalysis };
    expect(b.jobs.map((j) => j.status)).toEqual(['finished', 'finished', 'finished', 'finished']);

    const jobs = exactStore.listJobs('exact');
    const blocks = [...finishedBlocks(store, 'streaming')];
    expect(blocks.map((x) => [x.from, x.to])).toEqual([
      [0, 64],
      [64, 128],
      [128, 192],
      [192, 240],
    ]);
    for (const block of blocks) {
      const inBlock = jobs.filter((j) => (j.config as TrialJobConfig).enrolled >= block.from && (j.config as TrialJobConfig).enrolled < block.to);
      expect(block.blockHash).toBe(sha256Hex(inBlock.map((j) => (j.result as { trajectoryHash: string }).trajectoryHash).join('\n')));
      for (const j of inBlock) {
        const c = j.config as TrialJobConfig;
        const r = j.result as { endpoints: Record<string, number> };
        for (const e of ['return', 'length', 'terminated']) expect(block.values[e]?.[c.arm.name]?.[c.enrolled - block.from]).toBe(r.endpoints[e]);
      }
    }
    // Episode logs: patients 0, 50, 100, 150, 200 (both arms), under their block job.
    const keys = store.listJobs('streaming').flatMap((j) => store.listEpisodes(j.id).map((e) => e.key));
    expect(keys).toEqual(['p0.r0.a0.episode-0', 'p0.r0.a1.episode-0', 'p50.r0.a0.episode-0', 'p50.r0.a1.episode-0', 'p100.r0.a0.episode-0', 'p100.r0.a1.episode-0', 'p150.r0.a0.episode-0', 'p150.r0.a1.episode-0', 'p200.r0.a0.episode-0', 'p200.r0.a1.episode-0']);
    const p50 = jobs.find((j) => (j.config as TrialJobConfig).enrolled === 50 && (j.config as TrialJobConfig).arm.name === 'b') as { id: string };
    expect(store.getEpisode('streaming/job-0', 'p50.r0.a1.episode-0')).toEqual(exactStore.getEpisode(p50.id, 'episode-0'));
    // Events: one run.started/run.finished per block and episode.ended of the sampled patients only.
    const events = store.eventsAfter('streaming', 0, 10_000).map((e) => e.event.type);
    expect(events.filter((t) => t === 'episode.ended')).toHaveLength(10);
    expect(events.filter((t) => t === 'run.finished')).toHaveLength(4);
  });

  it('the report: same means, SDs, quantiles and Wilcoxon as the exact analysis; the Poisson-bootstrap CI close to the multinomial one', () => {
    const x = exact?.trial as TrialAnalysis;
    const s = streaming?.trial as TrialAnalysis & { aggregation?: { mode: string; resamples: number } };
    expect(s.aggregation).toMatchObject({ mode: 'streaming', resamples: 1000 });
    expect(s.endpoints.map((e) => e.id)).toEqual(x.endpoints.map((e) => e.id));
    const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(1, Math.abs(b));
    for (const [k, e] of s.endpoints.entries()) {
      const xe = x.endpoints[k] as TrialAnalysis['endpoints'][number];
      for (const [i, arm] of e.arms.entries()) {
        const xa = xe.arms[i] as (typeof xe.arms)[number];
        expect(rel(arm.mean, xa.mean)).toBeLessThan(1e-12);
        expect(rel(arm.sd as number, xa.sd as number)).toBeLessThan(1e-12);
        // whole-step endpoints: every sketch bucket holds one value, so the quantiles are exact
        expect([arm.median, arm.q1, arm.q3, arm.min, arm.max, arm.n]).toEqual([xa.median, xa.q1, xa.q3, xa.min, xa.max, xa.n]);
      }
      const c = e.comparisons[0] as (typeof e.comparisons)[number];
      const xc = xe.comparisons[0] as (typeof xe.comparisons)[number];
      expect(rel(c.meanDifference as number, xc.meanDifference as number)).toBeLessThan(1e-12);
      expect(c.test).toEqual(xc.test); // Wilcoxon (return, length) and McNemar (terminated) on the same counts
      // CI: different resampling schemes (Poisson B = 1,000 vs multinomial 10,000), so close, not equal:
      // within 0.15 standard errors of the mean difference.
      // (`terminated`: every random cartpole episode terminates, so both CIs are [0, 0].)
      const se = ((xc.ci?.upper as number) - (xc.ci?.lower as number)) / (2 * 1.96);
      expect(Math.abs((c.ci?.lower as number) - (xc.ci?.lower as number))).toBeLessThanOrEqual(0.15 * se);
      expect(Math.abs((c.ci?.upper as number) - (xc.ci?.upper as number))).toBeLessThanOrEqual(0.15 * se);
      expect(c.favours).toBe(xc.favours);
      expect(c.hypothesis?.verdict).toBe(xc.hypothesis?.verdict);
    }
    const length = s.endpoints.find((e) => e.id === 'length')?.comparisons[0]?.hypothesis;
    const xLength = x.endpoints.find((e) => e.id === 'length')?.comparisons[0]?.hypothesis;
    expect(length?.type).toBe('equivalence');
    expect(rel(length?.bound?.lower as number, xLength?.bound?.lower as number)).toBeLessThan(1e-9); // paired t from the exact moments
    expect(rel(length?.pValue as number, xLength?.pValue as number)).toBeLessThan(1e-9);
  });

  it('the analysis does not depend on the order blocks arrive in (nor on a resume feeding stored blocks first)', () => {
    const store = streaming?.store as Store;
    const spec = store.getExperiment('streaming')?.spec as TrialSpec;
    const blocks = [...finishedBlocks(store, 'streaming')];
    const inOrder = streamingAggregator(spec);
    for (const b of blocks) inOrder.push(b);
    const expected = JSON.stringify(inOrder.result());
    expect(JSON.parse(expected)).toEqual(JSON.parse(JSON.stringify(store.getTrialResult('streaming'))));
    for (const seed of [1, 2, 3]) {
      const agg = streamingAggregator(spec);
      for (const b of shuffled(blocks, seed)) agg.push(b);
      expect(JSON.stringify(agg.result())).toBe(expected);
    }
    // Finer blocks (a different blockSize) give the same moments and tests; the CI differs only by rounding inside blocks.
    const split: TrialBlockResult[] = blocks.flatMap((b) => {
      const mid = b.from + Math.floor((b.to - b.from) / 2);
      const part = (from: number, to: number): TrialBlockResult => ({
        ...b,
        from,
        to,
        values: Object.fromEntries(Object.entries(b.values).map(([e, arms]) => [e, Object.fromEntries(Object.entries(arms).map(([arm, v]) => [arm, v.slice(from - b.from, to - b.from)]))])),
      });
      return [part(b.from, mid), part(mid, b.to)];
    });
    const fine = streamingAggregator(spec);
    for (const b of shuffled(split, 9)) fine.push(b);
    const f = fine.result();
    const e = inOrder.result();
    expect(f.endpoints.map((x) => x.comparisons[0]?.meanDifference)).toEqual(e.endpoints.map((x) => x.comparisons[0]?.meanDifference));
    for (const [k, x] of f.endpoints.entries()) expect(x.comparisons[0]?.ci?.lower).toBeCloseTo(e.endpoints[k]?.comparisons[0]?.ci?.lower as number, 10);
  });

  it("a block's sampled episodes replay bit for bit and export like the job-by-job trial's", async () => {
    const { store } = streaming as { store: Store };
    const { store: exactStore } = exact as { store: Store };
    const exactJob = (enrolled: number, arm: string): string =>
      (exactStore.listJobs('exact').find((j) => (j.config as TrialJobConfig).enrolled === enrolled && (j.config as TrialJobConfig).arm.name === arm) as { id: string }).id;
    // Patient 100 is in block 1 (patients 64–127); the key names position, replicate, arm index.
    expect(blockOfEpisode(store, 'streaming', 'p100.r0.a1.episode-0')).toBe('streaming/job-1');
    expect(blockOfEpisode(store, 'streaming/job-1', 'p100.r0.a1.episode-0')).toBeUndefined(); // a job id is taken as it is
    for (const [job, key, enrolled, arm] of [
      ['streaming/job-0', 'p0.r0.a0.episode-0', 0, 'a'],
      ['streaming/job-1', 'p100.r0.a1.episode-0', 100, 'b'],
      ['streaming/job-3', 'p200.r0.a0.episode-0', 200, 'a'],
    ] as const) {
      const verdict = await verifyReplay(store, job, key);
      expect(verdict).toMatchObject({ identical: true });
      // the same hash as the job-by-job trial's episode of that patient and arm
      expect(verdict.identical && verdict.hash).toBe(exactStore.getEpisode(exactJob(enrolled, arm), 'episode-0')?.hash);
    }
    // A tampered action is found (the policy's random stream is that patient's, not the block's).
    const log = store.getEpisode('streaming/job-2', 'p150.r0.a1.episode-0');
    const original = log?.steps[3]?.action as number;
    store.replaceEpisodeStep('streaming/job-2', 'p150.r0.a1.episode-0', 3, { action: 1 - original });
    expect(await verifyReplay(store, 'streaming/job-2', 'p150.r0.a1.episode-0')).toMatchObject({ identical: false, step: 3, field: 'action', expected: 1 - original, actual: original });
    store.replaceEpisodeStep('streaming/job-2', 'p150.r0.a1.episode-0', 3, { action: original });
    // A key outside the block names the block's patients.
    await expect(verifyReplay(store, 'streaming/job-0', 'p100.r0.a1.episode-0')).rejects.toThrow(/no episode p100\.r0\.a1\.episode-0 for job streaming\/job-0/);
    // Export: the block's rows are the exact trial's rows of those patients, but for the job and episode columns.
    const rows = (s: Store, jobs: string[]): Array<Record<string, unknown>> => {
      let text = '';
      exportEpisodes(s, jobs, 'jsonl', (chunk) => {
        text += chunk;
      });
      return text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    };
    const blockRows = rows(store, ['streaming/job-1']);
    const exactRows = rows(exactStore, [exactJob(100, 'a'), exactJob(100, 'b')]);
    expect(blockRows.length).toBeGreaterThan(10);
    expect(blockRows.map(({ job: _j, episode, ...rest }) => ({ ...rest, key: String(episode).split('.').slice(0, 3).join('.') }))).toEqual(
      exactRows.map(({ job: _j, episode: _e, ...rest }) => ({ ...rest, key: `p100.r0.a${rest.arm === 'a' ? 0 : 1}` })),
    );
    expect(blockRows[0]).toMatchObject({ job: 'streaming/job-1', arm: 'a', patient: 'patient-100', replicate: 0, episode: 'p100.r0.a0.episode-0' });
    // The single-job export (exportRun) names the observation columns too.
    expect(exportRun(store, 'streaming/job-1', 'csv').split('\n')[0]).toBe(exportRun(exactStore, exactJob(100, 'a'), 'csv').split('\n')[0]);
  });

  it('twinlab ls and show list a streamed trial from its block summaries (no per-patient values)', async () => {
    const { store } = streaming as { store: Store };
    const ls = await cli(['ls', '--data', store.dataDir, '--json']);
    expect(JSON.parse(ls.stdout)).toEqual([expect.objectContaining({ id: 'streaming', jobs: 4, finished: 4, failed: 0 })]);
    const show = await cli(['show', 'streaming', '--data', store.dataDir]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/streaming\/job-1 +finished +patients 64–127: 128 jobs, \d+ steps, block hash [0-9a-f]{12}/);
    const json = JSON.parse((await cli(['show', 'streaming', '--data', store.dataDir, '--json'])).stdout) as { jobs: Array<{ result: Record<string, unknown> }> };
    expect(Object.keys(json.jobs[0]?.result ?? {}).sort()).toEqual(['blockHash', 'from', 'jobs', 'kind', 'steps', 'to']);
  }, 60_000);

  it('generated glucose patients: a block episode replays from the regenerated patient and exports with its id', async () => {
    const spec = {
      kind: 'trial',
      name: 'glucose replay',
      seed: 8,
      cohort: { twin: 'glucose', population: 'adult', size: 4, generated: true },
      arms: [
        { name: 'bb', policy: 'glucose/basal-bolus' },
        { name: 'pid', policy: 'glucose/pid' },
      ],
      duration: { steps: 24 },
      keepEpisodes: { every: 2 },
      endpoints: { primary: ['tir'] },
    };
    const exactStore = openStore();
    expect((await runExperiment({ spec, id: 'g-exact', store: exactStore, executor: new InlineExecutor() })).status).toBe('finished');
    const store = openStore();
    expect((await runExperiment({ spec: { ...spec, streaming: { blockSize: 2 } }, id: 'g', store, executor: new InlineExecutor() })).status).toBe('finished');
    const keys = store.listEpisodes('g/job-1').map((e) => e.key);
    expect(keys).toEqual(['p2.r0.a0.episode-0', 'p2.r0.a1.episode-0']);
    const twin = exactStore.listJobs('g-exact').find((j) => (j.config as TrialJobConfig).enrolled === 2 && (j.config as TrialJobConfig).armIndex === 1) as { id: string; config: TrialJobConfig };
    const verdict = await verifyReplay(store, 'g/job-1', 'p2.r0.a1.episode-0');
    expect(verdict).toMatchObject({ identical: true, steps: 24 });
    expect(verdict.identical && verdict.hash).toBe(exactStore.getEpisode(twin.id, 'episode-0')?.hash);
    let csv = '';
    exportEpisodes(store, ['g/job-1'], 'csv', (chunk) => {
      csv += chunk;
    });
    const lines = csv.trim().split('\n');
    expect(lines).toHaveLength(1 + 2 * 24);
    let exactCsv = '';
    exportEpisodes(exactStore, [twin.id], 'csv', (chunk) => {
      exactCsv += chunk;
    });
    expect(lines[0]).toBe(exactCsv.split('\n')[0]); // obs_cgm_t-55min_mg_dl, …, info_bg_mg_dl, … from the patient's env
    expect(lines[0]).toContain(',obs_cgm_mg_dl,');
    expect(lines.slice(25).map((l) => l.split(',').slice(5).join(','))).toEqual(exactCsv.trim().split('\n').slice(1).map((l) => l.split(',').slice(5).join(',')));
    expect(lines[25]?.startsWith(`g/job-1,pid,${twin.config.patientId},0,p2.r0.a1.episode-0,0,`)).toBe(true);
  });

  it('Poisson weights drawn in the workers: the same analysis, byte for byte, as the coordinator drawing them', async () => {
    const store = streaming?.store as Store;
    const spec = store.getExperiment('streaming')?.spec as TrialSpec;
    const blocks = expandJobs('streaming', spec);
    const config = blocks[0]?.config as TrialBlockConfig;
    expect(config.bootstrap).toEqual({ seed: 31, resamples: 1000, reference: 'a' });
    // a Redis worker keeps the request (its payload schema would drop an unknown field silently)
    const wire = BatchPayloadSchema.parse({ v: WIRE_VERSION, codeVersion: 'v', experimentId: 'streaming', stream: 's', tasks: [{ ...(blocks[0] as (typeof blocks)[number]), experimentId: 'streaming', dataDir: '/tmp' }] });
    expect(((wire.tasks[0] as (typeof wire.tasks)[number]).config as TrialBlockConfig).bootstrap).toEqual(config.bootstrap);
    // Run the blocks as a worker does: each result carries its bootstrap sums.
    const results: TrialBlockResult[] = [];
    for (const job of blocks) {
      const task = { ...job, experimentId: 'streaming', dataDir: '/tmp' };
      results.push((await runTrialBlockJob(task, job.config as TrialBlockConfig, () => {})).result as unknown as TrialBlockResult);
    }
    expect(Object.keys(results[0]?.bootstrap?.sums ?? {})).toEqual(['return', 'length', 'terminated']);
    expect(results[0]?.bootstrap?.sums.return?.b?.wd).toHaveLength(1000);
    const withSums = streamingAggregator(spec);
    for (const r of results) withSums.push(r);
    const drawnHere = streamingAggregator(spec);
    for (const { bootstrap: _b, ...r } of results) drawnHere.push(r);
    const expected = JSON.stringify(drawnHere.result());
    expect(JSON.stringify(withSums.result())).toBe(expected);
    // … in any arrival order, mixing blocks with and without sums (a resume feeds stored blocks, which have none)
    const mixed = streamingAggregator(spec);
    for (const [k, r] of shuffled(results, 5).entries()) mixed.push(k % 2 === 0 ? r : { ...r, bootstrap: undefined });
    expect(JSON.stringify(mixed.result())).toBe(expected);
    // … and the analysis the runner stored (blocks arrived with their sums, which the store does not keep)
    expect(JSON.stringify(store.getTrialResult('streaming'))).toBe(expected);
    expect([...finishedBlocks(store, 'streaming')].every((b) => b.bootstrap === undefined)).toBe(true);
    // The block's sums are what the coordinator uses when they fit (doubled Σ w·d: the CIs move) …
    const doubled = streamingAggregator(spec);
    for (const r of results) {
      const bs = r.bootstrap as NonNullable<TrialBlockResult['bootstrap']>;
      const sums = Object.fromEntries(Object.entries(bs.sums).map(([e, arms]) => [e, Object.fromEntries(Object.entries(arms).map(([arm, x]) => [arm, { w: x.w, wd: x.wd.map((v) => 2 * v) }]))]));
      doubled.push({ ...r, bootstrap: { ...bs, sums } });
    }
    const ci = (a: TrialAnalysis) => a.endpoints.find((e) => e.id === 'return')?.comparisons[0]?.ci;
    expect(ci(doubled.result())?.lower).toBeCloseTo(2 * (ci(JSON.parse(expected))?.lower as number), 9);
    // … and sums made for another analysis (seed, B or reference) are not: the coordinator draws the weights.
    const foreign = streamingAggregator(spec);
    for (const r of results) foreign.push({ ...r, bootstrap: { ...(r.bootstrap as NonNullable<TrialBlockResult['bootstrap']>), seed: 32, sums: {} } });
    expect(JSON.stringify(foreign.result())).toBe(expected);
  });

  it('exact sums and sketches: order-free, exact where the values allow', () => {
    const rng = Rng.fromSeed(4);
    const xs = Array.from({ length: 5000 }, () => rng.normal(0, 1) * 10 ** rng.integer(-8, 9));
    const sums = [xs, shuffled(xs, 1), shuffled(xs, 2)].map((v) => {
      const s = new ExactSum();
      for (const x of v) s.add(x);
      return s.value();
    });
    expect(new Set(sums).size).toBe(1);
    // 1e100 + 1 − 1e100 is 1 exactly (a naive sum gives 0)
    const t = new ExactSum();
    for (const x of [1e100, 1, -1e100]) t.add(x);
    expect(t.value()).toBe(1);
    const sketch = new LogSketch();
    const ys = Array.from({ length: 2001 }, () => rng.uniform(50, 250));
    for (const y of ys) sketch.push(y);
    const sorted = [...ys].sort((a, b) => a - b);
    const [median] = sketch.quantiles([0.5]);
    expect(Math.abs((median as number) - (sorted[1000] as number)) / (sorted[1000] as number)).toBeLessThan(5e-4);
  });

  it('spec: keepEpisodes and streaming validated, errors naming the field', () => {
    const errorOf = (spec: unknown): string => {
      try {
        validateSpec(spec);
        return '';
      } catch (error) {
        return (error as Error).message;
      }
    };
    expect(errorOf({ ...TRIAL, keepEpisodes: { every: 0 } })).toContain('keepEpisodes.every');
    expect(errorOf({ ...TRIAL, streaming: { blockSize: 20_000 } })).toContain('streaming.blockSize: must be at most 10,000');
    expect(errorOf({ ...TRIAL, streaming: { resamples: 10 } })).toContain('streaming.resamples');
    expect(errorOf({ ...TRIAL, streaming: { bogus: 1 } })).toContain('streaming.bogus: unknown field');
    const glucose = { ...TRIAL, cohort: { twin: 'glucose', population: 'adult', size: 100, inclusion: { age: { min: 30 } } }, endpoints: { primary: ['tir'] }, arms: [{ name: 'a', policy: 'glucose/pid' }] };
    expect(errorOf({ ...glucose, streaming: {} })).toContain('cohort.inclusion: not available with streaming');
    // A million patients: over the job-by-job limit, with a hint; fine streamed (4,000 blocks of 250).
    const million = { ...TRIAL, cohort: { env: 'classic/cartpole-v1', size: 1_000_000 } };
    expect(errorOf(million)).toContain('needs `streaming: {}`');
    expect(errorOf({ ...million, streaming: {} })).toBe('');
    expect(expandJobs('m', validateSpec({ ...million, streaming: {} }))).toHaveLength(4000);
  });

  it('Redis queue jobs: up to batchSize trial jobs each (default 64), blocks and training jobs alone', () => {
    const trial = expandJobs('q', validateSpec({ ...TRIAL, cohort: { env: 'classic/cartpole-v1', size: 65 } })).map((j) => ({ ...j, experimentId: 'q', dataDir: '/tmp' }));
    expect(queueBatches(trial).map((b) => b.length)).toEqual([64, 64, 2]);
    expect(queueBatches(trial, 2).map((b) => b.length)).toEqual(Array(65).fill(2));
    const blocks = expandJobs('q', validateSpec({ ...TRIAL, streaming: { blockSize: 100 } })).map((j) => ({ ...j, experimentId: 'q', dataDir: '/tmp' }));
    expect(queueBatches(blocks).map((b) => b.length)).toEqual([1, 1, 1]);
  });
});
