import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server as SocketServer } from 'socket.io';
import { type Executor, PiscinaExecutor } from '../experiments/executor.js';
import { Store } from '../experiments/store.js';
import { createApp } from './app.js';
import { loadOrCreateToken } from './auth.js';
import { ServerLab } from './lab.js';
import { EventRelay } from './relay.js';

/**
 * `startServer`: the express REST API, socket.io with the event relay, and the built viewer, on one
 * port. Pipeline: 1. open the store, 2. load or create the token, 3. start the shared worker pool,
 * 4. build app + socket.io + relay, 5. listen. Bound to 127.0.0.1 by default.
 */
export interface ServerOptions {
  dataDir: string;
  host?: string;
  port?: number;
  token?: string;
  publicReads?: boolean;
  workers?: number;
  executor?: Executor;
  viewerDir?: string;
  version?: string;
  pollMs?: number;
}

export interface RunningServer {
  url: string;
  port: number;
  token: string;
  tokenCreated: boolean;
  lab: ServerLab;
  store: Store;
  http: HttpServer;
  io: SocketServer;
  close(): Promise<void>;
}

export function defaultViewerDir(): string {
  // server/index.(ts|js) lives in <root>/server or <root>/dist/server
  const here = dirname(fileURLToPath(import.meta.url));
  const root = here.endsWith(join('dist', 'server')) ? join(here, '..', '..') : join(here, '..');
  return join(root, 'viewer', 'dist');
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  // 1.
  const store = Store.open(options.dataDir);
  // 2.
  const { token, created } = loadOrCreateToken(store.dataDir, options.token);
  // 3.
  const executor = options.executor ?? new PiscinaExecutor({ workers: options.workers });
  // 4.
  const http = createServer();
  const io = new SocketServer(http, { serveClient: false, maxHttpBufferSize: 64 * 1024, cors: { origin: false } });
  const relay = new EventRelay(io, store, options.pollMs);
  const lab = new ServerLab(store, executor, (id) => relay.track(id));
  const app = createApp({ lab, token, publicReads: options.publicReads, viewerDir: options.viewerDir ?? defaultViewerDir(), version: options.version ?? '0.1.0' });
  http.on('request', app);
  relay.start();
  // 5.
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 8080, host, () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    token,
    tokenCreated: created,
    lab,
    store,
    http,
    io,
    async close() {
      relay.stop();
      await lab.shutdown();
      await new Promise<void>((resolve) => io.close(() => resolve()));
      if (!options.executor) await executor.close();
      store.close();
    },
  };
}
