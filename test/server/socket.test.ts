import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TwinlabEvent } from '../../engine/events.js';
import type { EventMessage } from '../../server/protocol.js';
import { request, socketClient, testServer, waitFor } from './helpers.js';

/**
 * The relay streams whatever lands in the store. A writer appends events to a "running" experiment
 * in batches while clients join at different moments; every client must end with seq 1…N exactly
 * once, in order (REST history + live stream, no gaps, no duplicates).
 */
let server: Awaited<ReturnType<typeof testServer>>;
const EXPERIMENT = 'socket-test';
const JOB = `${EXPERIMENT}/job-0`;
const TOTAL = 3000;

beforeAll(async () => {
  server = await testServer({ pollMs: 10 });
  server.store.createExperiment({ id: EXPERIMENT, kind: 'train', name: 'socket test', spec: {}, seed: 0, codeVersion: 'test', jobs: [{ id: JOB, index: 0, kind: 'train', config: {}, seed: 0 }] });
  server.store.setExperimentStatus(EXPERIMENT, 'running');
});

afterAll(async () => {
  await server.cleanup();
});

function episodeEvent(i: number): TwinlabEvent {
  return { type: 'episode.ended', step: i * 10, data: { episode: i, return: Math.sin(i), length: 10, terminated: false } };
}

async function writer(batches: number, perBatch: number, pauseMs: number, written: { n: number }): Promise<void> {
  for (let b = 0; b < batches; b++) {
    server.store.appendEvents(EXPERIMENT, JOB, Array.from({ length: perBatch }, (_, k) => episodeEvent(written.n + k)));
    written.n += perBatch;
    await new Promise((r) => setTimeout(r, pauseMs));
  }
}

interface Collector {
  seqs: number[];
  close(): void;
}

async function follow(afterSeq: number, jobId?: string): Promise<Collector> {
  const socket = await socketClient(server.url);
  const seqs: number[] = [];
  socket.on('event', (m: EventMessage) => seqs.push(m.seq));
  await new Promise<void>((resolve, reject) => socket.emit('subscribe', { experimentId: EXPERIMENT, afterSeq, ...(jobId ? { jobId } : {}) }, (ack: { ok: boolean; error?: string }) => (ack.ok ? resolve() : reject(new Error(ack.error)))));
  return { seqs, close: () => socket.disconnect() };
}

describe('socket.io event stream', () => {
  it('late joiners (REST history, then the stream) and 100 concurrent clients all get every event exactly once, in order', async () => {
    const written = { n: 0 };
    const early = await follow(0);
    const running = writer(60, TOTAL / 60, 15, written);
    await waitFor(() => written.n >= TOTAL / 3, 20_000, 'a third of the events');

    // a late client: history over REST first, then subscribe after the last seq it has
    const history: number[] = [];
    for (;;) {
      const page = await request(server.url, 'GET', `/api/experiments/${EXPERIMENT}/events?after=${history.at(-1) ?? 0}&limit=700`);
      if (page.json.events.length === 0) break;
      history.push(...page.json.events.map((e: { seq: number }) => e.seq));
    }
    const late = await follow(history.at(-1) ?? 0);
    const crowd = await Promise.all(Array.from({ length: 100 }, (_, i) => follow(0, i % 2 === 0 ? JOB : undefined)));
    await running;
    const expected = Array.from({ length: TOTAL }, (_, i) => i + 1);
    const all = [early, ...crowd];
    await waitFor(() => all.every((c) => c.seqs.length >= TOTAL) && history.length + late.seqs.length >= TOTAL, 30_000, 'every client to catch up');
    await new Promise((r) => setTimeout(r, 100)); // any duplicate would arrive now
    expect(early.seqs).toEqual(expected);
    expect([...history, ...late.seqs]).toEqual(expected);
    for (const c of crowd) expect(c.seqs).toEqual(expected);
    for (const c of [early, late, ...crowd]) c.close();
  });

  it('reports status changes to subscribers', async () => {
    const socket = await socketClient(server.url);
    const statuses: string[] = [];
    socket.on('status', (m: { status: string }) => statuses.push(m.status));
    await new Promise<void>((resolve) => socket.emit('subscribe', { experimentId: EXPERIMENT, afterSeq: 1_000_000 }, () => resolve()));
    server.store.setExperimentStatus(EXPERIMENT, 'finished');
    await waitFor(() => statuses.includes('finished'), 5_000, 'status');
    socket.disconnect();
  });

  it('rejects subscriptions to unknown experiments in the ack', async () => {
    const socket = await socketClient(server.url);
    const ack = await new Promise<{ ok: boolean; error?: string }>((resolve) => socket.emit('subscribe', { experimentId: 'nope', afterSeq: 0 }, resolve));
    expect(ack).toEqual({ ok: false, error: 'unknown experiment "nope"' });
    socket.disconnect();
  });
});
