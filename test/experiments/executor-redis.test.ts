import { RedisExecutor } from '../../experiments/redis-executor.js';
import { executorSuite } from './executor-suite.js';
import { redisMissing, startWorkers, TestRedis, type WorkerProcess } from './executor-redis-helpers.js';

// Other work may edit the sources while the test runs: pin one code version for the coordinator and its worker processes (inherited).
process.env.TWINLAB_CODE_VERSION = 'test-pinned';
let redis: TestRedis | undefined;
const workers = new Map<string, WorkerProcess[]>();

executorSuite({
  name: 'redis (BullMQ, `twinlab worker` processes)',
  configs: ['1 worker process', '3 worker processes'],
  skip: redisMissing(),
  timeoutMs: 300_000,
  setup: async () => {
    redis = await TestRedis.start();
  },
  teardown: async () => {
    for (const list of workers.values()) await Promise.all(list.map((w) => w.kill()));
    await redis?.stop();
  },
  make: async (config) => {
    const url = (redis as TestRedis).url;
    const queue = `suite-${config[0]}`;
    workers.set(config, await startWorkers(url, Number(config[0]), ['--queue', queue]));
    return new RedisExecutor({ url, queue });
  },
  release: async (config) => {
    await Promise.all((workers.get(config) ?? []).map((w) => w.kill('SIGTERM')));
    workers.delete(config);
  },
});
