import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, socketClient, TOKEN, TRIAL_SPEC, testServer, waitFor } from './helpers.js';

let server: Awaited<ReturnType<typeof testServer>>;
let base: string;
let trialId: string;

beforeAll(async () => {
  server = await testServer();
  base = server.url;
  const created = await request(base, 'POST', '/api/experiments', { spec: TRIAL_SPEC }, TOKEN);
  expect(created.status).toBe(201);
  trialId = created.json.id;
  await waitFor(async () => (await request(base, 'GET', `/api/experiments/${encodeURIComponent(trialId)}`)).json.status === 'finished', 60_000, 'trial to finish');
});

afterAll(async () => {
  await server.cleanup();
});

describe('REST API', () => {
  it('GET /api/health', async () => {
    const r = await request(base, 'GET', '/api/health');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ ok: true, experiments: 1 });
  });

  it('GET /api/envs lists the catalogue with spaces, endpoints and policies', async () => {
    const r = await request(base, 'GET', '/api/envs');
    expect(r.status).toBe(200);
    const glucose = r.json.find((e: { id: string }) => e.id === 'glucose/t1d-v1');
    expect(glucose.twin.endpoints.map((e: { id: string }) => e.id)).toContain('tir');
    expect(glucose.policies.map((p: { name: string }) => p.name)).toContain('glucose/basal-bolus');
    expect(r.json.find((e: { id: string }) => e.id === 'classic/cartpole-v1').actionSpace).toMatchObject({ kind: 'discrete', n: 2 });
  });

  it('GET /api/policies lists protocols and saved policies', async () => {
    const r = await request(base, 'GET', '/api/policies');
    expect(r.status).toBe(200);
    expect(r.json.protocols.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['random', 'glucose/pid']));
    expect(Array.isArray(r.json.saved)).toBe(true);
  });

  it('experiments: list, detail, events, trial result, report', async () => {
    const list = await request(base, 'GET', '/api/experiments');
    expect(list.json.map((e: { id: string }) => e.id)).toContain(trialId);
    const detail = await request(base, 'GET', `/api/experiments/${encodeURIComponent(trialId)}`);
    expect(detail.json.jobs).toHaveLength(4);
    const events = await request(base, 'GET', `/api/experiments/${encodeURIComponent(trialId)}/events?after=0`);
    const seqs = events.json.events.map((e: { seq: number }) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a: number, b: number) => a - b));
    expect(events.json.events.filter((e: { event: { type: string } }) => e.event.type === 'run.finished')).toHaveLength(4);
    const trial = await request(base, 'GET', `/api/experiments/${encodeURIComponent(trialId)}/trial`);
    expect(trial.json.arms).toEqual(['basal', 'bb']);
    const report = await fetch(`${base}/api/experiments/${encodeURIComponent(trialId)}/report?format=html`);
    expect(report.status).toBe(200);
    expect(await report.text()).toContain('<svg');
  });

  it('runs: detail, metrics, episodes by range', async () => {
    const detail = await request(base, 'GET', `/api/experiments/${encodeURIComponent(trialId)}`);
    const job = detail.json.jobs[0];
    const run = await request(base, 'GET', `/api/runs/${encodeURIComponent(job.id)}`);
    expect(run.status).toBe(200);
    const key = run.json.episodes[0].key;
    const range = await request(base, 'GET', `/api/runs/${encodeURIComponent(job.id)}/episodes/${encodeURIComponent(key)}?from=10&to=20`);
    expect(range.status).toBe(200);
    expect(range.json.steps.map((s: { step: number }) => s.step)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    expect(typeof range.json.steps[0].info.bg).toBe('number');
    const metrics = await request(base, 'GET', `/api/runs/${encodeURIComponent(job.id)}/metrics`);
    expect(Array.isArray(metrics.json)).toBe(true);
  });

  it('verify replay says identical', async () => {
    const detail = await request(base, 'GET', `/api/experiments/${encodeURIComponent(trialId)}`);
    const job = detail.json.jobs[1];
    const run = await request(base, 'GET', `/api/runs/${encodeURIComponent(job.id)}`);
    const r = await request(base, 'POST', `/api/runs/${encodeURIComponent(job.id)}/episodes/${encodeURIComponent(run.json.episodes[0].key)}/verify`, {}, TOKEN);
    expect(r.status).toBe(200);
    expect(r.json.identical).toBe(true);
  });

  it('mutations need the token: 401 without, 401 with a wrong one', async () => {
    expect((await request(base, 'POST', '/api/experiments', { spec: TRIAL_SPEC })).status).toBe(401);
    expect((await request(base, 'POST', '/api/experiments', { spec: TRIAL_SPEC }, 'wrong-token-wrong-token')).status).toBe(401);
    expect((await request(base, 'POST', `/api/experiments/${encodeURIComponent(trialId)}/cancel`)).status).toBe(401);
    const r = await request(base, 'POST', '/api/experiments', { spec: TRIAL_SPEC });
    expect(r.json.error.code).toBe('UNAUTHORIZED');
  });

  it('bad bodies → 400 naming the field, in the one error shape', async () => {
    const missing = await request(base, 'POST', '/api/experiments', {}, TOKEN);
    expect(missing.status).toBe(400);
    expect(missing.json.error.message).toContain('body.spec');
    const wrongType = await request(base, 'POST', '/api/experiments', { spec: 42 }, TOKEN);
    expect(wrongType.status).toBe(400);
    expect(wrongType.json.error.message).toContain('body.spec');
    const extra = await request(base, 'POST', '/api/experiments', { spec: TRIAL_SPEC, surprise: 1 }, TOKEN);
    expect(extra.status).toBe(400);
    expect(extra.json.error.message).toContain('surprise');
    const badSpec = await request(base, 'POST', '/api/experiments', { spec: { ...TRIAL_SPEC, arms: [{ name: 'x', policy: 'glucose/pidd' }] } }, TOKEN);
    expect(badSpec.status).toBe(400);
    expect(badSpec.json.error.code).toBe('INVALID_SPEC');
    expect(badSpec.json.error.message).toContain('arms[0].policy');
    const malformed = await request(base, 'POST', '/api/experiments', '{"spec": ', TOKEN);
    expect(malformed.status).toBe(400);
    expect(malformed.json.error.message).toMatch(/malformed JSON/);
    const badQuery = await request(base, 'GET', `/api/experiments/${encodeURIComponent(trialId)}/events?after=-1`);
    expect(badQuery.status).toBe(400);
    expect(badQuery.json.error.message).toContain('query.after');
    const huge = await request(base, 'POST', '/api/experiments', { spec: 'x'.repeat(2_000_000) }, TOKEN);
    expect(huge.status).toBe(413);
    // a rejected spec writes nothing
    expect((await request(base, 'GET', '/api/experiments')).json).toHaveLength(1);
  });

  it('unknown ids → 404', async () => {
    expect((await request(base, 'GET', '/api/experiments/nope')).status).toBe(404);
    expect((await request(base, 'GET', '/api/runs/nope%2Fjob-0')).status).toBe(404);
    expect((await request(base, 'GET', '/api/experiments/nope/trial')).status).toBe(404);
    expect((await request(base, 'POST', '/api/experiments/nope/cancel', {}, TOKEN)).status).toBe(404);
    expect((await request(base, 'GET', '/api/no-such-endpoint')).json.error.code).toBe('NOT_FOUND');
    const detail = await request(base, 'GET', `/api/experiments/${encodeURIComponent(trialId)}`);
    const job = detail.json.jobs[0].id;
    expect((await request(base, 'GET', `/api/runs/${encodeURIComponent(job)}/episodes/missing`)).status).toBe(404);
    expect((await request(base, 'GET', `/api/runs/${encodeURIComponent(job)}/metrics/nope`)).status).toBe(404);
  });

  it('refuses path traversal on artifact routes', async () => {
    const detail = await request(base, 'GET', `/api/experiments/${encodeURIComponent(trialId)}`);
    const job = detail.json.jobs[0].id as string;
    // register a policy artifact for the job, then try to escape it
    mkdirSync(join(server.dir, 'runs', 'p'), { recursive: true });
    writeFileSync(join(server.dir, 'runs', 'p', 'model.json'), '{}');
    writeFileSync(join(server.dir, 'secret.txt'), 'TOP-SECRET-CONTENT-42');
    server.store.addArtifact(job, 'policy', 'runs/p');
    const ok = await fetch(`${base}/api/runs/${encodeURIComponent(job)}/artifacts/policy/model.json`);
    expect(ok.status).toBe(200);
    for (const evil of ['..%2F..%2Fsecret.txt', '%2E%2E/%2E%2E/secret.txt', '..%5C..%5Csecret.txt', 'a/..%2F..%2F..%2Fsecret.txt']) {
      const r = await fetch(`${base}/api/runs/${encodeURIComponent(job)}/artifacts/policy/${evil}`);
      expect([400, 404]).toContain(r.status);
      expect(await r.text()).not.toContain('TOP-SECRET-CONTENT-42');
    }
  });
});

describe('robustness', () => {
  it('survives a failing job, a malformed socket message and a disconnect storm, and keeps serving', async () => {
    // a saved "policy" whose model is corrupt passes spec validation but fails inside the job
    const dir = join(server.dir, 'corrupt-policy');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'policy.json'), JSON.stringify({ format: 'twinlab-policy', version: 1, envId: 'glucose/t1d-v1', envOptions: {}, observation: { size: 17, normalization: { kind: 'none' } }, actions: { n: 7 }, provenance: {} }));
    writeFileSync(join(dir, 'model.json'), '{ not json');
    const spec = { ...TRIAL_SPEC, name: 'failing', arms: [{ name: 'broken', policy: dir }] };
    const created = await request(base, 'POST', '/api/experiments', { spec }, TOKEN);
    expect(created.status).toBe(201);
    const failed = await waitFor(async () => {
      const d = await request(base, 'GET', `/api/experiments/${encodeURIComponent(created.json.id)}`);
      return ['failed', 'finished'].includes(d.json.status) && d.json;
    }, 60_000);
    expect(failed.status).toBe('failed');
    expect(failed.jobs.every((j: { status: string; error?: string }) => j.status === 'failed' && j.error)).toBe(true);

    const bad = await socketClient(base);
    const protocolError = new Promise<{ message: string }>((resolve) => bad.once('protocol-error', resolve));
    bad.emit('subscribe', { experimentId: 42, afterSeq: 'x' });
    expect((await protocolError).message).toContain('subscribe.experimentId');
    bad.emit('subscribe', null);
    bad.emit('nonsense-event', { a: 1 });
    bad.disconnect();

    const storm = await Promise.all(Array.from({ length: 50 }, () => socketClient(base)));
    for (const s of storm) s.emit('subscribe', { experimentId: trialId, afterSeq: 0 });
    for (const s of storm) s.disconnect();

    expect((await request(base, 'GET', '/api/health')).json.ok).toBe(true);
  });
});
