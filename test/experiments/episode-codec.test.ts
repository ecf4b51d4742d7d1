import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { Info } from '../../engine/env.js';
import { EPISODE_LOG_VERSION, type EpisodeLog } from '../../engine/episode-log.js';
import { TrajectoryHasher } from '../../engine/hash.js';
import { make } from '../../engine/registry.js';
import { jsonSafe, RecordEpisode } from '../../engine/wrappers.js';
import '../../environments/index.js';
import { evaluatePolicy } from '../../policies/evaluate.js';
import '../../policies/index.js';
import { makePolicy } from '../../policies/registry.js';
import { decodeEpisode, encodeEpisode } from '../../experiments/episode-codec.js';
import { encodeExactJson } from '../../experiments/exact-json.js';
import { batchTasks, InlineExecutor, PiscinaExecutor } from '../../experiments/executor.js';
import type { JobTask } from '../../experiments/job-types.js';
import { expandJobs } from '../../experiments/jobs.js';
import { runExperiment } from '../../experiments/runner.js';
import { validateSpec } from '../../experiments/spec.js';
import { Store } from '../../experiments/store.js';

const dirs: string[] = [];
const stores: Store[] = [];
afterAll(() => {
  for (const s of stores) s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function freshStore(name: string): Store {
  const dir = mkdtempSync(join(tmpdir(), `twinlab-codec-${name}-`));
  dirs.push(dir);
  const store = Store.open(dir);
  stores.push(store);
  return store;
}

/** One simulated day of a generated adult under basal-bolus, recorded as trials record it (keyframes every 48 steps). */
function glucoseDay(seed: number): EpisodeLog {
  const env = make('glucose/t1d-v1', { maxEpisodeSteps: 288 });
  const result = evaluatePolicy(env, makePolicy('glucose/basal-bolus', env), { seed, episodes: 1, record: { keyframeInterval: 48 } });
  return result.episodes[0]?.log as EpisodeLog;
}

/** Byte-exact comparison: key order, −0, NaN, ±∞ and typed arrays all show in the tagged JSON. */
const exact = (log: EpisodeLog): string => encodeExactJson(log);

describe('episode encoding (columnar, gzip)', () => {
  it('round-trips a real glucose day exactly and is ≥ 8× smaller than its JSON, ≥ 1.3× smaller than gzip-compressed JSON', () => {
    const log = glucoseDay(11);
    expect(log.steps).toHaveLength(288);
    expect(log.keyframes.length).toBeGreaterThanOrEqual(6);
    const encoded = encodeEpisode(log);
    expect(encoded.length).toBe(288);
    const back = decodeEpisode(encoded.bytes);
    expect(back).toEqual(log);
    expect(exact(back)).toBe(exact(log));
    // Every info field the endpoints, the report and the viewer read is there, per step.
    for (const key of ['bg', 'cgm', 'minute', 'insulin', 'insulinU', 'cho', 'iob', 'cob', 'termination', 'patientId']) {
      expect(back.steps.map((s) => s.info[key])).toEqual(log.steps.map((s) => s.info[key]));
    }
    const json = JSON.stringify(log).length;
    const gzipJson = gzipSync(Buffer.from(exact(log))).length;
    expect(encoded.bytes.length * 8).toBeLessThan(json);
    expect(encoded.bytes.length * 1.3).toBeLessThan(gzipJson);
  });

  it('keeps NaN, ±∞, −0, typed arrays, vector actions, changing info keys and odd step numbers', () => {
    const n = 40;
    const log: EpisodeLog = {
      version: EPISODE_LOG_VERSION,
      envId: 'test/odd-v0',
      seed: null,
      initialObservation: [0.1, -0, Number.NaN],
      resetInfo: { meals: [{ minute: 5, carbs: 40 }], x: Number.NEGATIVE_INFINITY },
      steps: Array.from({ length: n }, (_, i) => {
        const info: Info = { a: i === 3 ? -0 : i === 4 ? Number.NaN : i / 3, label: i < 20 ? 'low' : 'high' };
        if (i % 7 === 0) info.event = { kind: 'meal', grams: [i, -0] };
        if (i === 9) info.state = Float64Array.of(1, Number.POSITIVE_INFINITY, -0);
        if (i >= 30) info.late = true;
        return {
          step: i === 0 ? -0 : 2 * i,
          action: [i, i === 5 ? Number.NaN : -i],
          reward: i === 6 ? Number.NEGATIVE_INFINITY : i === 7 ? -0 : 1 / (i + 1),
          observation: [i / 10, i === 8 ? Number.POSITIVE_INFINITY : -0, Math.PI * i],
          terminated: i === n - 1,
          truncated: false,
          info,
        };
      }),
      keyframes: [
        { step: 0, state: { ring: Array.from({ length: 20 }, (_, k) => (k === 3 ? -0 : k === 4 ? Number.NaN : k / 7)), ode: Float32Array.of(1.5, -0) } },
        { step: 20, state: { ring: Array.from({ length: 20 }, (_, k) => k), nested: [{ short: [1, 2] }] } },
      ],
      totalReward: Number.NEGATIVE_INFINITY,
      length: n,
      terminated: true,
      truncated: false,
      hash: 'x',
    };
    const back = decodeEpisode(encodeEpisode(log).bytes);
    expect(exact(back)).toBe(exact(log));
    expect(Object.is(back.steps[0]?.step, -0)).toBe(true);
    expect(Object.is(back.steps[3]?.info.a, -0)).toBe(true);
    expect(back.steps[4]?.info.a).toBeNaN();
    expect(back.steps[9]?.info.state).toBeInstanceOf(Float64Array);
    expect(back.keyframes[0]?.state).toEqual(log.keyframes[0]?.state);
    const ring = (back.keyframes[0]?.state as { ring: number[] } | undefined)?.ring ?? [];
    expect(Object.is(ring[3], -0)).toBe(true);
    expect(ring[4]).toBeNaN();
    expect('late' in (back.steps[29]?.info ?? {})).toBe(false);
    expect(back.steps[30]?.info.late).toBe(true);
    // Object-valued info fields are fresh per step (no shared references between steps).
    expect(back.steps[7]?.info.event).not.toBe(back.steps[14]?.info.event);
  });

  it('falls back to JSON steps for shapes that are not columnar (ragged observations) and still round-trips', () => {
    const log = glucoseDay(3);
    (log.steps[5] as { observation: number[] }).observation = [1, 2];
    const back = decodeEpisode(encodeEpisode(log).bytes);
    expect(exact(back)).toBe(exact(log));
  });

  it('reads the gzip-compressed exact JSON of stores written before the columnar encoding', () => {
    const log = glucoseDay(5);
    const legacy = gzipSync(Buffer.from(exact(log), 'utf8'));
    expect(exact(decodeEpisode(legacy))).toBe(exact(log));
  });

  it('the store writes encoded bytes as is and returns the identical log; it refuses bytes that are not gzip', () => {
    const store = freshStore('store');
    store.createExperiment({
      id: 'e',
      kind: 'trial',
      name: 'e',
      spec: {},
      seed: 1,
      codeVersion: 'v',
      jobs: [{ id: 'e/j0', index: 0, kind: 'trial', config: {}, seed: 1 }],
    });
    const log = glucoseDay(8);
    const encoded = encodeEpisode(log);
    store.saveEpisode('e/j0', 'episode-0', encoded, { tir: 1 });
    const db = new Database(store.path, { readonly: true });
    const blob = (db.prepare('SELECT log FROM episodes').get() as { log: Buffer }).log;
    db.close();
    expect(Buffer.compare(blob, Buffer.from(encoded.bytes))).toBe(0);
    expect(gunzipSync(blob).subarray(0, 4).toString('latin1')).toBe('TWEP');
    expect(exact(store.getEpisode('e/j0', 'episode-0') as EpisodeLog)).toBe(exact(log));
    expect(store.listEpisodes('e/j0')).toEqual([{ key: 'episode-0', summary: { tir: 1 }, length: 288 }]);
    expect(store.getEpisodeRange('e/j0', 'episode-0', 100, 101).steps).toEqual(log.steps.slice(100, 102));
    expect(() => store.saveEpisode('e/j0', 'bad', { bytes: new Uint8Array(40), length: 1 }, {})).toThrow(/not gzip data/);
  });
});

describe('recording', () => {
  it('jsonSafe equals a JSON round trip (typed arrays as arrays) on tricky infos', () => {
    const infos: Info[] = [
      { a: 1, b: -0, c: Number.NaN, d: Number.POSITIVE_INFINITY, e: 'x', f: true, g: null, h: undefined, i: () => 1, j: [1, Number.NaN, undefined] },
      { typed: Float32Array.of(0.5, -0), nested: { deep: Float64Array.of(1, 2), when: new Date(0), gone: undefined }, list: [{ a: Number.NaN }] },
      { 2: 'two', 1: 'one', z: 0 },
    ];
    const roundTrip = (v: Info): Info =>
      JSON.parse(JSON.stringify(v, (_k, x) => (ArrayBuffer.isView(x) && !(x instanceof DataView) ? Array.from(x as unknown as ArrayLike<number>) : x)));
    for (const info of infos) {
      const safe = jsonSafe(info);
      expect(JSON.stringify(safe)).toBe(JSON.stringify(roundTrip(info)));
      expect(safe).toStrictEqual(roundTrip(info));
      expect(Object.is(safe.b, -0)).toBe(false);
    }
  });

  it("RecordEpisode's log hash equals TrajectoryHasher's over the same trajectory", () => {
    const env = new RecordEpisode(make('glucose/t1d-v1', { maxEpisodeSteps: 100 }), { keyframeInterval: 0 });
    const hasher = new TrajectoryHasher();
    const { observation } = env.reset({ seed: 4 });
    hasher.observation(observation);
    for (let t = 0; t < 100; t++) {
      const r = env.step(t % 7);
      hasher.step(t % 7, r.reward, r.observation);
    }
    expect(env.lastEpisode?.hash).toBe(hasher.digest());
    const cart = make('classic/cartpole-v1');
    const result = evaluatePolicy(cart, makePolicy('random', cart), { seed: 2, episodes: 3, record: true });
    for (const e of result.episodes) expect(e.log?.hash).toBe(e.hash);
  });
});

describe('batched trial execution', () => {
  const spec = {
    kind: 'trial',
    name: 'codec batch',
    seed: 5,
    cohort: { twin: 'glucose', population: 'adult', size: 3, generated: true },
    arms: [
      { name: 'basal', policy: 'glucose/basal' },
      { name: 'pid', policy: 'glucose/pid' },
      { name: 'basal-bolus', policy: 'glucose/basal-bolus' },
    ],
    duration: { steps: 96 },
    endpoints: { primary: ['tir'], secondary: ['mean_bg'] },
    reference: 'basal',
  };

  it('groups the arms of each patient into one pool task', () => {
    const jobs = expandJobs('x', validateSpec(spec)).map((j) => ({ ...j, experimentId: 'x', dataDir: '/tmp' }) as JobTask);
    expect(batchTasks(jobs).map((b) => b.map((t) => t.index))).toEqual([
      [0, 1, 2],
      [3, 4, 5],
      [6, 7, 8],
    ]);
  });

  it('gives the same results and logs in batches (one env per patient, reused across arms) as one job at a time inline', async () => {
    const inlineStore = freshStore('inline');
    const inline = await runExperiment({ spec, store: inlineStore, executor: new InlineExecutor() });
    const pooledStore = freshStore('pooled');
    const executor = new PiscinaExecutor({ workers: 1 });
    let pooled: Awaited<ReturnType<typeof runExperiment>>;
    try {
      pooled = await runExperiment({ spec, store: pooledStore, executor });
    } finally {
      await executor.close();
    }
    expect(pooled.status).toBe('finished');
    expect(pooled.jobs.map((j) => j.result)).toEqual(inline.jobs.map((j) => j.result));
    for (const [k, job] of pooled.jobs.entries()) {
      const a = pooledStore.getEpisode(job.id, 'episode-0') as EpisodeLog;
      const b = inlineStore.getEpisode(inline.jobs[k]?.id as string, 'episode-0') as EpisodeLog;
      expect(exact(a)).toBe(exact(b));
    }
  });
});
