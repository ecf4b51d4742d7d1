import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrialBlockResult } from '../../experiments/trial-blocks.js';
import { request, socketClient, TOKEN, TRIAL_SPEC, testServer, waitFor } from './helpers.js';

/**
 * A streaming trial (spec `streaming`) through the API: the job listing carries block summaries (no
 * per-patient arrays), pages through /jobs, the patients through /patients (values from the blocks,
 * episode keys only where stored), and socket status messages carry the changed jobs and counts.
 */
const STREAMING = {
  kind: 'trial',
  name: 'streaming api',
  seed: 12,
  cohort: { env: 'classic/cartpole-v1', size: 120 },
  arms: [
    { name: 'a', policy: 'random' },
    { name: 'b', policy: 'random' },
  ],
  paired: false,
  streaming: { blockSize: 25 },
  keepEpisodes: { every: 10 },
  endpoints: { primary: ['return'], secondary: ['length'] },
};

let server: Awaited<ReturnType<typeof testServer>>;
let id: string;
let plainId: string;
const path = (p: string) => `/api/experiments/${encodeURIComponent(id)}${p}`;

async function start(spec: unknown): Promise<string> {
  const created = await request(server.url, 'POST', '/api/experiments', { spec }, TOKEN);
  expect(created.status).toBe(201);
  const eid = created.json.id as string;
  await waitFor(async () => (await request(server.url, 'GET', `/api/experiments/${encodeURIComponent(eid)}`)).json.status === 'finished', 60_000, `${eid} to finish`);
  return eid;
}

beforeAll(async () => {
  server = await testServer();
  id = await start(STREAMING);
  plainId = await start(TRIAL_SPEC);
}, 120_000);

afterAll(async () => {
  await server.cleanup();
});

describe('a streaming trial through the API', () => {
  it('detail and /jobs: block summaries without the per-patient arrays, with patients per status', async () => {
    const detail = await request(server.url, 'GET', path(''));
    expect(detail.status).toBe(200);
    expect(detail.json.jobs).toHaveLength(5);
    expect(detail.json.jobsPage).toEqual({ offset: 0, limit: 1000, total: 5 });
    expect(detail.json.progress).toEqual({ total: 5, patients: 120, byStatus: { finished: { jobs: 5, patients: 120 } } });
    const block = detail.json.jobs[4];
    expect(block.config).toEqual({ kind: 'trial-block', replicates: 1, from: 100, to: 120, bootstrap: { seed: 12, resamples: 1000, reference: 'a' } });
    expect(Object.keys(block.result).sort()).toEqual(['blockHash', 'from', 'jobs', 'kind', 'steps', 'to']);
    // The stored result has them (what the listing used to return for every block).
    const stored = server.store.getJob(block.id)?.result as TrialBlockResult;
    expect(stored.values.return?.a).toHaveLength(20);
    expect(block.result.blockHash).toBe(stored.blockHash);
    const page = await request(server.url, 'GET', path('/jobs?offset=3&limit=2'));
    expect(page.json).toMatchObject({ offset: 3, limit: 2, total: 5 });
    expect(page.json.jobs.map((j: { index: number }) => j.index)).toEqual([3, 4]);
    expect((await request(server.url, 'GET', path('/jobs?limit=5000'))).json.error.message).toContain('query.limit');
    // The list of experiments counts jobs without reading results.
    const list = await request(server.url, 'GET', '/api/experiments');
    expect(list.json.find((e: { id: string }) => e.id === id).jobs).toEqual({ total: 5, finished: 5, failed: 0, running: 0 });
  });

  it('/patients: a page of patients from their blocks, episode keys only where an episode is stored', async () => {
    const page = await request(server.url, 'GET', path('/patients?offset=20&limit=10'));
    expect(page.status).toBe(200);
    expect(page.json).toMatchObject({ total: 120, offset: 20, limit: 10, sampled: false, keepEvery: 10, blockSize: 25, arms: ['a', 'b'], endpoints: ['return', 'length'] });
    const rows = page.json.rows as Array<{ position: number; patient: string; run: string; status: string; values: Record<string, Record<string, number>>; episodes: Record<string, string> }>;
    expect(rows.map((r) => r.position)).toEqual([20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
    const b0 = server.store.getJob(`${id}/job-0`)?.result as TrialBlockResult;
    const b1 = server.store.getJob(`${id}/job-1`)?.result as TrialBlockResult;
    for (const r of rows) {
      const [block, i] = r.position < 25 ? [b0, r.position] : [b1, r.position - 25];
      expect(r.run).toBe(`${id}/job-${r.position < 25 ? 0 : 1}`);
      expect(r.patient).toBe(`patient-${r.position}`);
      expect(r.values.return).toEqual({ a: block.values.return?.a?.[i], b: block.values.return?.b?.[i] });
      // every 10th patient's episodes were kept: links for those only
      expect(r.episodes).toEqual(r.position % 10 === 0 ? { a: `p${r.position}.r0.a0.episode-0`, b: `p${r.position}.r0.a1.episode-0` } : {});
    }
    const sampled = await request(server.url, 'GET', path('/patients?sampled=1&limit=100'));
    expect(sampled.json.total).toBe(12);
    expect(sampled.json.rows.map((r: { position: number }) => r.position)).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110]);
    for (const r of sampled.json.rows as Array<{ run: string; episodes: Record<string, string> }>) {
      for (const key of Object.values(r.episodes)) expect((await request(server.url, 'GET', `/api/runs/${encodeURIComponent(r.run)}/episodes/${key}?from=0&to=1`)).status).toBe(200);
    }
    // A plain trial's patients are its jobs.
    const plain = await request(server.url, 'GET', `/api/experiments/${encodeURIComponent(plainId)}/patients`);
    expect(plain.status).toBe(400);
    expect(plain.json.error.message).toContain('is not a streaming trial');
    // A plain trial's detail is as before: whole job records.
    const plainDetail = await request(server.url, 'GET', `/api/experiments/${encodeURIComponent(plainId)}`);
    expect(plainDetail.json.jobsPage).toBeUndefined();
    expect(plainDetail.json.jobs[0].result.endpoints.tir).toBeTypeOf('number');
  });

  it('a sampled episode verifies over the API', async () => {
    const r = await request(server.url, 'POST', `/api/runs/${encodeURIComponent(`${id}/job-2`)}/episodes/p50.r0.a1.episode-0/verify`, {}, TOKEN);
    expect(r.json).toMatchObject({ identical: true });
  });

  // (subscribed with afterSeq past the store's head: the finished experiments stay tracked — they used to be
  // dropped by the poll the subscribe ran before counting its replay, and no status ever came)
  it('socket status: a streaming trial sends the changed jobs and the counts, a plain trial every job', async () => {
    const socket = await socketClient(server.url);
    const messages: Array<{ experimentId: string; jobs: unknown[]; changed?: true; progress?: unknown }> = [];
    socket.on('status', (m: (typeof messages)[number]) => messages.push(m));
    // afterSeq beyond the stored events (a client that read history over REST, or the trial page's "no history")
    for (const experimentId of [id, plainId]) await new Promise<void>((resolve) => socket.emit('subscribe', { experimentId, afterSeq: 1_000_000 }, () => resolve()));
    server.store.prepare(`UPDATE jobs SET status = 'failed' WHERE id = ?`).run(`${id}/job-3`);
    await waitFor(() => messages.some((m) => m.experimentId === id), 5_000, 'streaming status');
    expect(messages.find((m) => m.experimentId === id)).toEqual({
      experimentId: id,
      status: 'finished',
      jobs: [{ id: `${id}/job-3`, status: 'failed' }],
      changed: true,
      progress: { total: 5, patients: 120, byStatus: { finished: { jobs: 4, patients: 95 }, failed: { jobs: 1, patients: 25 } } },
    });
    server.store.prepare(`UPDATE jobs SET status = 'failed' WHERE id = ?`).run(`${plainId}/job-1`);
    await waitFor(() => messages.some((m) => m.experimentId === plainId), 5_000, 'plain status');
    const plain = messages.find((m) => m.experimentId === plainId);
    expect(plain?.jobs).toHaveLength(4);
    expect(plain?.changed).toBeUndefined();
    socket.disconnect();
  });
});
