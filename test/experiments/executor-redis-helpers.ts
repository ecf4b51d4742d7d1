import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ROOT } from './cli-helpers.js';

/**
 * A real Redis for tests (started on a free loopback port, no persistence, killed after) and
 * `twinlab worker` child processes. Without `redis-server` the Redis tests are skipped with that
 * reason — except in CI, where scripts/ensure-redis.sh installs it and its absence is an error.
 */
export function redisMissing(): string | undefined {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    if (process.env.CI) throw new Error('redis-server is missing in CI (scripts/ensure-redis.sh installs it)');
    return 'redis-server is not installed (apt-get install redis-server)';
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export class TestRedis {
  private child: ChildProcess | undefined;
  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<TestRedis> {
    const redis = new TestRedis(await freePort());
    await redis.restart();
    return redis;
  }

  async restart(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk;
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}): ${out}`));
      });
    });
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }
}

export class WorkerProcess {
  readonly ready: Promise<void>;
  output = '';
  constructor(readonly child: ChildProcess) {
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker did not start: ${this.output}`)), 170_000);
      child.stdout?.on('data', (chunk: Buffer) => {
        this.output += chunk;
        if (this.output.includes(' ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        this.output += chunk;
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`worker exited (${code ?? signal}): ${this.output}`));
      });
    });
    this.ready.catch(() => {});
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      // A worker asked to stop that does not exit within 10 s is killed.
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill(signal);
    });
  }
}

/** `node --import tsx cli/run.ts worker --redis URL …` as a child process. */
export function startWorker(url: string, args: string[] = []): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/run.ts'), 'worker', '--redis', url, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new WorkerProcess(child);
}

export async function startWorkers(url: string, n: number, args: string[] = []): Promise<WorkerProcess[]> {
  const workers = Array.from({ length: n }, () => startWorker(url, args));
  await Promise.all(workers.map((w) => w.ready));
  return workers;
}
