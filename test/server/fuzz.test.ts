import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TwinlabEvent } from '../../engine/events.js';
import { Rng } from '../../engine/random.js';
import { request, socketClient, TOKEN, testServer, waitFor } from './helpers.js';

/**
 * Seeded, bounded fuzzing of what clients can send: random socket.io messages (any event name, any
 * payload shape, binary, absurd afterSeq) and random bodies to every POST route with a valid token.
 * The server must keep serving (/api/health 200 after every batch) and never answer 500 to bad input.
 */
const SEED = 20261204;
const BATCHES = 8;
const EXPERIMENT = 'fuzz';
const JOB = `${EXPERIMENT}/job-0`;
/** The socket fuzz streams this one, which the API fuzz (resuming and cancelling EXPERIMENT) never touches. */
const STREAMED = 'fuzz-stream';
const STREAMED_JOB = `${STREAMED}/job-0`;

let server: Awaited<ReturnType<typeof testServer>>;

beforeAll(async () => {
  server = await testServer();
  server.store.createExperiment({ id: EXPERIMENT, kind: 'train', name: 'fuzz', spec: {}, seed: 0, codeVersion: 'test', jobs: [{ id: JOB, index: 0, kind: 'train', config: {}, seed: 0 }] });
  server.store.setExperimentStatus(EXPERIMENT, 'running');
  const event = (i: number): TwinlabEvent => ({ type: 'episode.ended', step: i, data: { episode: i, return: 0, length: 1, terminated: false } });
  server.store.appendEvents(EXPERIMENT, JOB, Array.from({ length: 100 }, (_, i) => event(i)));
  server.store.createExperiment({ id: STREAMED, kind: 'train', name: 'fuzz stream', spec: {}, seed: 0, codeVersion: 'test', jobs: [{ id: STREAMED_JOB, index: 0, kind: 'train', config: {}, seed: 0 }] });
  server.store.setExperimentStatus(STREAMED, 'running');
  server.store.appendEvents(STREAMED, STREAMED_JOB, Array.from({ length: 3000 }, (_, i) => event(i)));
});

afterAll(async () => {
  await server.cleanup();
});

const KEYS = ['spec', 'experimentId', 'jobId', 'afterSeq', 'kind', 'name', 'seed', 'arms', 'cohort', 'env', 'steps', '__proto__', 'constructor', 'toString', '', 'ü', 'a'.repeat(300)];
const STRINGS = ['', 'train', 'trial', EXPERIMENT, JOB, 'kind: trial', 'kind: [', '{', '%E0%A4%A', '../../etc/passwd', '\u0000', '\uD800', 'null', '1e309', 'x'.repeat(5000)];
const NUMBERS = [0, -1, 1, 0.5, -0, 2 ** 31, 2 ** 53, 2 ** 53 + 2, -(2 ** 63), 1e308, -1e308, Number.MAX_VALUE, Number.MIN_VALUE, 3000, 2999];

const RESERVED = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']);

function randomString(rng: Rng): string {
  if (rng.bernoulli(0.6)) return rng.choice(STRINGS);
  const length = rng.integer(0, 40);
  let s = '';
  for (let i = 0; i < length; i++) s += String.fromCodePoint(rng.bernoulli(0.8) ? rng.integer(32, 127) : rng.integer(0, 0x10ffff + 1 - 0x800));
  return s;
}

function randomValue(rng: Rng, depth: number): unknown {
  const kind = rng.integer(0, depth > 3 ? 5 : 8);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return rng.bernoulli(0.5);
    case 2:
      return rng.bernoulli(0.5) ? rng.choice(NUMBERS) : rng.uniform(-1e6, 1e6);
    case 3:
    case 4:
      return randomString(rng);
    case 5:
      return Array.from({ length: rng.integer(0, 5) }, () => randomValue(rng, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = rng.integer(0, 6); i > 0; i--) o[rng.choice(KEYS)] = randomValue(rng, depth + 1);
      return o;
    }
  }
}

/** Deeply nested JSON (a recursion bomb for naive validators) */
function nested(levels: number): string {
  return `${'{"spec":'.repeat(1)}${'['.repeat(levels)}${']'.repeat(levels)}}`;
}

function randomBody(rng: Rng): { body: string; contentType: string | undefined } {
  const contentType = rng.choice([undefined, 'application/json', 'application/json', 'application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'application/json; charset=utf-16']);
  const shape = rng.integer(0, 10);
  if (shape === 0) return { body: nested(rng.integer(100, 5000)), contentType };
  if (shape === 1) {
    const bytes = Array.from({ length: rng.integer(0, 64) }, () => rng.integer(0, 256));
    return { body: Buffer.from(bytes).toString('latin1'), contentType };
  }
  if (shape === 2) {
    const json = JSON.stringify({ spec: randomValue(rng, 0) });
    return { body: json.slice(0, rng.integer(0, json.length + 1)), contentType };
  }
  const value = shape < 6 ? { spec: randomValue(rng, 0) } : randomValue(rng, 0);
  return { body: JSON.stringify(value) ?? 'null', contentType };
}

async function post(path: string, body: string, contentType: string | undefined): Promise<number> {
  const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
  if (contentType) headers['content-type'] = contentType;
  const res = await fetch(`${server.url}${path}`, { method: 'POST', headers, body });
  const text = await res.text();
  if (res.status >= 500) throw new Error(`POST ${path} ${contentType ?? '(no content-type)'} ${JSON.stringify(body.slice(0, 200))} → ${res.status} ${text.slice(0, 300)}`);
  const parsed = JSON.parse(text) as { error?: { code: unknown; message: unknown } };
  if (res.status >= 400) expect(typeof parsed.error?.code === 'string' && typeof parsed.error.message === 'string', text).toBe(true);
  return res.status;
}

function randomPath(rng: Rng): string {
  const id = () => {
    const raw = rng.bernoulli(0.3) ? rng.choice([EXPERIMENT, JOB]) : randomString(rng);
    // lone surrogates cannot be percent-encoded; send them as raw %-escapes instead (undecodable)
    try {
      return encodeURIComponent(raw) || 'x';
    } catch {
      return '%ED%A0%80';
    }
  };
  switch (rng.integer(0, 5)) {
    case 0:
      return '/api/experiments';
    case 1:
      return `/api/experiments/${id()}/cancel`;
    case 2:
      return `/api/experiments/${id()}/resume`;
    case 3:
      return '/api/datasets';
    default:
      return `/api/runs/${id()}/episodes/${id()}/verify`;
  }
}

async function healthy(): Promise<void> {
  const r = await request(server.url, 'GET', '/api/health');
  expect(r.status).toBe(200);
  expect(r.json.ok).toBe(true);
}

describe('fuzzing', () => {
  it('random bodies to every POST route (valid token): no 500, the server keeps serving', async () => {
    const rng = Rng.fromSeed(SEED).fork('api');
    const statuses = new Map<number, number>();
    for (let batch = 0; batch < BATCHES; batch++) {
      for (let i = 0; i < 40; i++) {
        const { body, contentType } = randomBody(rng);
        const status = await post(randomPath(rng), body, contentType);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
      await healthy();
    }
    // the fuzz reached validation (400), lookups (404) and at least one handler that accepted the call
    expect(statuses.get(400)).toBeGreaterThan(0);
    expect(statuses.get(404)).toBeGreaterThan(0);
    // nothing random was accepted as an experiment
    expect(server.store.listExperiments().map((e) => e.id).sort()).toEqual([EXPERIMENT, STREAMED]);
  });

  it('random socket messages (shapes, event names, binary, absurd afterSeq): acks stay well-formed, the server keeps serving', async () => {
    const rng = Rng.fromSeed(SEED).fork('socket');
    const sockets: Socket[] = await Promise.all(Array.from({ length: 4 }, () => socketClient(server.url)));
    const acks: unknown[] = [];
    const subscribeLike = () => {
      const m: Record<string, unknown> = {};
      if (rng.bernoulli(0.9)) m.experimentId = rng.bernoulli(0.5) ? STREAMED : randomValue(rng, 2);
      if (rng.bernoulli(0.3)) m.jobId = rng.bernoulli(0.5) ? STREAMED_JOB : randomValue(rng, 2);
      if (rng.bernoulli(0.9)) m.afterSeq = rng.bernoulli(0.7) ? rng.choice([...NUMBERS, Number.NaN, Number.POSITIVE_INFINITY, 1.5, '0', null]) : randomValue(rng, 2);
      if (rng.bernoulli(0.1)) m[rng.choice(KEYS)] = randomValue(rng, 2);
      return m;
    };
    for (let batch = 0; batch < BATCHES; batch++) {
      for (let i = 0; i < 60; i++) {
        let socket = rng.choice(sockets);
        if (!socket.connected) {
          // an oversized message closes that connection; open another
          const index = sockets.indexOf(socket);
          socket = await socketClient(server.url);
          sockets[index] = socket;
        }
        const random = randomString(rng);
        // socket.io-client itself refuses its reserved names
        const name = rng.choice(['subscribe', 'subscribe', 'subscribe', 'unsubscribe', 'unsubscribe', 'event', 'protocol-error', 'status', RESERVED.has(random) || random === '' ? 'x' : random]);
        const payloadKind = rng.integer(0, 8);
        const payload =
          payloadKind < 4
            ? subscribeLike()
            : payloadKind === 4
              ? Buffer.from(Array.from({ length: rng.integer(0, 256) }, () => rng.integer(0, 256)))
              : payloadKind === 5
                ? { experimentId: STREAMED, afterSeq: 0, blob: 'x'.repeat(rng.bernoulli(0.2) ? 70_000 : 100) }
                : randomValue(rng, 0);
        const args: unknown[] = [payload];
        if (rng.bernoulli(0.3)) args.push(randomValue(rng, 1));
        if (rng.bernoulli(0.6)) args.push((ack: unknown) => acks.push(ack));
        socket.emit(name, ...args);
      }
      // one well-formed subscribe per batch on a fresh connection: its ack must be ok whatever the
      // random messages did to the other sockets (an oversized message closes its connection, and
      // acks of messages sent on a closing socket are lost — how many depends on the machine's load)
      const probe = await socketClient(server.url);
      acks.push(await new Promise((resolve) => probe.emit('subscribe', { experimentId: STREAMED, afterSeq: 0 }, resolve)));
      probe.disconnect();
      await new Promise((r) => setTimeout(r, 50));
      await healthy();
    }
    await waitFor(() => server.relay.activeReplays === 0, 30_000, 'replays to finish');
    await new Promise((r) => setTimeout(r, 200));
    for (const ack of acks) {
      expect(ack).toEqual(expect.objectContaining({ ok: expect.any(Boolean) }));
      const a = ack as { ok: boolean; error?: unknown };
      if (!a.ok) expect(typeof a.error).toBe('string');
    }
    expect(acks.some((a) => (a as { ok: boolean }).ok)).toBe(true);
    expect(acks.some((a) => !(a as { ok: boolean }).ok)).toBe(true);
    // a well-behaved client still gets the whole history afterwards
    const client = await socketClient(server.url);
    const seqs: number[] = [];
    client.on('event', (m: { seq: number }) => seqs.push(m.seq));
    const ack = await new Promise<{ ok: boolean }>((resolve) => client.emit('subscribe', { experimentId: STREAMED, afterSeq: 0 }, resolve));
    expect(ack.ok).toBe(true);
    expect(seqs).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
    for (const s of [...sockets, client]) s.disconnect();
    await healthy();
  });
});
