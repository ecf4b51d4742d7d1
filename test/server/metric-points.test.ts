import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TwinlabEvent } from '../../engine/events.js';
import { testServer } from './helpers.js';
import { independentCurve } from './independent-curve.js';

/**
 * GET /api/runs/:id/metrics/:name/points — what the run comparison smooths (issue #13 item 5): every
 * stored point, never downsampled, with the seq it runs through; a live run is read afresh each time,
 * a finished run may be served from memory but stays identical.
 */
let server: Awaited<ReturnType<typeof testServer>>;
const ID = 'points-test';
const JOB = `${ID}/job-0`;
const events = (from: number, to: number): TwinlabEvent[] =>
  Array.from({ length: to - from }, (_, k) => ({
    type: 'episode.ended',
    step: (from + k) * 10,
    data: { episode: from + k, return: Math.sin(from + k), length: 10, terminated: false },
  }));

async function points(name = 'episode.return') {
  const res = await fetch(`${server.url}/api/runs/${encodeURIComponent(JOB)}/metrics/${name}/points`);
  const n = Number(res.headers.get('x-points'));
  const all = new Float64Array(await res.arrayBuffer());
  return {
    status: res.status,
    n,
    throughSeq: Number(res.headers.get('x-through-seq')),
    steps: Array.from(all.subarray(0, n)),
    values: Array.from(all.subarray(n)),
  };
}

beforeAll(async () => {
  server = await testServer();
  server.store.createExperiment({
    id: ID,
    kind: 'train',
    name: 'p',
    spec: {},
    seed: 1,
    codeVersion: 't',
    jobs: [{ id: JOB, index: 0, kind: 'train', seed: 1, config: {} }],
  });
  server.store.markJobRunning(JOB);
});
afterAll(async () => server?.cleanup());

describe('metric points endpoint', () => {
  it('returns every point (more than the downsampled endpoint would) in step order, through the last seq', async () => {
    server.store.appendEvents(ID, JOB, events(0, 3000));
    const p = await points();
    expect(p.status).toBe(200);
    expect(p.n).toBe(3000);
    expect(p.steps).toEqual(Array.from({ length: 3000 }, (_, i) => i * 10));
    expect(p.values).toEqual(Array.from({ length: 3000 }, (_, i) => Math.sin(i)));
    expect(p.throughSeq).toBe(server.store.lastSeq(ID));
    // a metric the run does not have yet: an empty series, not a 404 (a live page asks early)
    expect(await points('eval.meanReturn')).toMatchObject({ status: 200, n: 0 });
  });

  it('a running run is read afresh; a finished one is served identically', async () => {
    server.store.appendEvents(ID, JOB, events(3000, 3100));
    expect((await points()).n).toBe(3100);
    server.store.markJobFinished(JOB, {});
    const first = await points();
    const second = await points();
    expect(second).toEqual(first);
    expect(first.n).toBe(3100);
    const res = await fetch(`${server.url}/api/runs/${encodeURIComponent(JOB)}/metrics/episode.return/points?maxPoints=10`);
    expect(res.status).toBe(400);
  });
});

/**
 * The drawn curve of the run comparison (GET …/curve and the batched GET /api/curves): the EMA over
 * every stored point, then thinned. Checked against an independent computation from the full series
 * read through …/points: TensorBoard's debiased EMA with Math.pow, and equal index buckets taking the
 * smoothed value at each bucket's last point and the raw min/max of the bucket (./independent-curve.ts).
 */
describe('drawn curve endpoints', () => {
  it('…/curve and /api/curves give the EMA of the full series, thinned: equal to an independent computation', async () => {
    // the job above is finished with 3,100 points
    const full = await points();
    expect(full.n).toBe(3100);
    const expected = independentCurve(full.steps, full.values, 0.9, 600);
    expect(expected).toHaveLength(601);

    const res = await fetch(`${server.url}/api/runs/${encodeURIComponent(JOB)}/metrics/episode.return/curve?ema=0.9&maxPoints=600`);
    expect(res.status).toBe(200);
    const m = Number(res.headers.get('x-drawn'));
    expect(m).toBe(601);
    expect(Number(res.headers.get('x-points'))).toBe(3100);
    expect(Number(res.headers.get('x-last'))).toBe(full.values[3099]);
    expect(Number(res.headers.get('x-through-seq'))).toBe(full.throughSeq);
    const all = new Float64Array(await res.arrayBuffer());
    const got = Array.from({ length: m }, (_, i) => ({ step: all[i] as number, value: all[m + i] as number, min: all[2 * m + i] as number, max: all[3 * m + i] as number }));
    expect(got.map((p) => p.step)).toEqual(expected.map((p) => p.step));
    expect(got.map((p) => [p.min, p.max])).toEqual(expected.map((p) => [p.min, p.max]));
    // a running product vs Math.pow for the debias: equal to rounding
    got.forEach((p, i) => expect(Math.abs(p.value - (expected[i]?.value as number))).toBeLessThan(1e-12));

    // the batch: the same numbers bit for bit, runs in the order asked
    const batch = await fetch(`${server.url}/api/curves?metric=episode.return&ema=0.9&maxPoints=600&runs=${encodeURIComponent(JOB)},${encodeURIComponent(JOB)}`);
    expect(batch.status).toBe(200);
    const bytes = await batch.arrayBuffer();
    const metaLength = new DataView(bytes).getUint32(0, true);
    const meta = JSON.parse(new TextDecoder().decode(new Uint8Array(bytes, 4, metaLength)));
    expect(meta).toEqual([
      { run: JOB, points: 3100, drawn: 601, last: full.values[3099], throughSeq: full.throughSeq },
      { run: JOB, points: 3100, drawn: 601, last: full.values[3099], throughSeq: full.throughSeq },
    ]);
    const at = 8 * Math.ceil((4 + metaLength) / 8);
    expect(Array.from(new Float64Array(bytes, at, 4 * m))).toEqual(Array.from(all));
    expect(Array.from(new Float64Array(bytes, at + 32 * m, 4 * m))).toEqual(Array.from(all));
  });

  it('validates the queries and names the field; an unknown run is a 404', async () => {
    const bad = await fetch(`${server.url}/api/curves?metric=episode.return&ema=1&runs=${encodeURIComponent(JOB)}`);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain('ema');
    const unknown = await fetch(`${server.url}/api/curves?metric=episode.return&ema=0.5&runs=nope/job-0`);
    expect(unknown.status).toBe(404);
    const runs = await (await fetch(`${server.url}/api/runs?ids=${encodeURIComponent(JOB)},nope/job-0`)).json();
    expect(runs.missing).toEqual(['nope/job-0']);
    expect(runs.runs).toMatchObject([{ experiment: { id: ID, name: 'p' }, job: { id: JOB, index: 0, seed: 1, status: 'finished' } }]);
  });
});
