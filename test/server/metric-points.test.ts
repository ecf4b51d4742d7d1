import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TwinlabEvent } from '../../engine/events.js';
import { testServer } from './helpers.js';

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
