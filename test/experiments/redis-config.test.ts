import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type BatchPayload, batchJobId, outcomeFromWire, outcomeToWire, parseRedisUrl, redact, type TaskChecks, validateBatch, WIRE_VERSION } from '../../experiments/redis-executor.js';
import { expandJobs } from '../../experiments/jobs.js';
import type { JobTask } from '../../experiments/job-types.js';
import { validateSpec } from '../../experiments/spec.js';
import { cli } from './cli-helpers.js';

/** The Redis executor's parts that need no Redis: URLs, payload validation, the wire format. */
const CHECKS: TaskChecks = {
  hasEnv: (id) => id === 'classic/cartpole-v1',
  hasTwin: () => false,
  hasPolicy: (name) => name === 'random',
  isSavedPolicy: () => false,
};

function payload(): BatchPayload {
  const spec = validateSpec({
    kind: 'trial',
    name: 'wire',
    seed: 1,
    cohort: { env: 'classic/cartpole-v1', size: 1 },
    arms: [{ name: 'a', policy: 'random' }],
    endpoints: { primary: ['return'] },
  });
  const tasks: JobTask[] = expandJobs('exp-1', spec).map((j) => ({ ...j, experimentId: 'exp-1', dataDir: '/tmp' }));
  return { v: WIRE_VERSION, codeVersion: 'v1', experimentId: 'exp-1', stream: 's', tasks };
}

describe('Redis executor configuration and wire format', () => {
  it('parses redis:// and rediss:// URLs with credentials and never shows the password', () => {
    const plain = parseRedisUrl('redis://127.0.0.1:6390/2');
    expect(plain.options).toMatchObject({ host: '127.0.0.1', port: 6390, db: 2 });
    expect(plain.options.tls).toBeUndefined();
    const tls = parseRedisUrl('rediss://alice:s3cr%40t@cache.example.org');
    expect(tls.options).toMatchObject({ host: 'cache.example.org', port: 6379, username: 'alice', password: 's3cr@t', tls: { servername: 'cache.example.org' } });
    expect(tls.display).toBe('rediss://alice:***@cache.example.org');
    expect(parseRedisUrl().options).toMatchObject({ host: '127.0.0.1', port: 6379 }); // loopback by default
    expect(() => parseRedisUrl('http://x')).toThrow(/--redis must start with redis:\/\/ or rediss:\/\//);
    expect(redact('connect to redis://u:hunter2@h:1 failed')).toBe('connect to redis://u:***@h:1 failed');
  });

  it('a bad --redis is a usage error naming the argument, without echoing the password', async () => {
    const data = mkdtempSync(join(tmpdir(), 'twinlab-redis-config-'));
    const result = await cli(['run', 'experiments/examples/trial-cartpole-random.yaml', '--executor', 'redis', '--redis', 'http://u:hunter2@x', '--data', join(data, 'store')]);
    rmSync(data, { recursive: true, force: true });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--redis must start with');
    expect(result.stderr).not.toContain('hunter2');
  }, 60_000);

  it('workers accept only well-formed payloads of their code version naming registered envs and policies', () => {
    expect(validateBatch(payload(), 'v1', CHECKS).tasks).toHaveLength(1);
    expect(() => validateBatch(payload(), 'v2', CHECKS)).toThrow('code version mismatch: this worker runs v2, the job needs v1');
    const foreignPolicy = payload();
    const config = (foreignPolicy.tasks[0] as JobTask).config;
    if (config.kind === 'trial') config.arm.policy = 'require("child_process")';
    expect(() => validateBatch(foreignPolicy, 'v1', CHECKS)).toThrow(/config\.arm\.policy .* is neither a registered policy nor a saved-policy directory/);
    const broken = payload() as unknown as { tasks: Array<{ index: unknown }> };
    (broken.tasks[0] as { index: unknown }).index = 'zero';
    expect(() => validateBatch(broken, 'v1', CHECKS)).toThrow(/invalid job payload: tasks\.0\.index/);
  });

  it('outcomes cross the wire byte for byte; batch ids are stable and colon-free', () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    const wire = JSON.parse(JSON.stringify(outcomeToWire({ result: { a: 1 }, episodes: [{ key: 'episode-0', summary: { r: 1 }, encoded: { bytes, length: 3 } }], artifacts: [] })));
    const back = outcomeFromWire(wire);
    expect([...(back.episodes[0]?.encoded?.bytes ?? [])]).toEqual([...bytes]);
    expect(back.episodes[0]?.encoded?.length).toBe(3);
    const tasks = payload().tasks;
    expect(batchJobId(tasks)).toBe('exp-1_0-0');
    expect(batchJobId(tasks)).not.toContain(':');
  });
});
