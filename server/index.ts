import { createServer, type Server as HttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server as SocketServer } from 'socket.io';
import { type Executor, PiscinaExecutor } from '../experiments/executor.js';
import { Store } from '../experiments/store.js';
import { createApp } from './app.js';
import { AccessPolicy, guardHttpServer, MAX_HEADER_SIZE } from './access.js';
import { bearerTokenOf, loadOrCreateToken } from './auth.js';
import { ServerLab } from './lab.js';
import { EventRelay } from './relay.js';
import { TwinService } from './twins.js';

/**
 * `startServer`: the express REST API, socket.io with the event relay, and the built viewer, on one
 * port. Pipeline: 1. open the store, 2. load or create the token, 3. start the shared worker pool,
 * 4. build app + socket.io + relay behind the access policy (server/access.ts: Host, Origin, read rule,
 * URL size), 5. listen. Bound to 127.0.0.1 by default.
 */
export interface ServerOptions {
  dataDir: string;
  host?: string;
  port?: number;
  token?: string;
  publicReads?: boolean;
  /** Extra Host names to answer to besides 127.0.0.1, localhost, [::1] and `host`. */
  allowedHosts?: readonly string[];
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
  /** `<data>/server-token`, or undefined when the token was given explicitly. */
  tokenFile: string | undefined;
  /** Start-up warnings for the operator (e.g. a token file whose mode was tightened). */
  warnings: string[];
  access: AccessPolicy;
  lab: ServerLab;
  store: Store;
  http: HttpServer;
  io: SocketServer;
  relay: EventRelay;
  twins: TwinService;
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
  let loaded: ReturnType<typeof loadOrCreateToken>;
  try {
    loaded = loadOrCreateToken(store.dataDir, options.token);
  } catch (error) {
    store.close();
    throw error;
  }
  const { token, created } = loaded;
  // 3.
  const executor = options.executor ?? new PiscinaExecutor({ workers: options.workers });
  // 4.
  const host = options.host ?? '127.0.0.1';
  const access = new AccessPolicy({ host, allowedHosts: options.allowedHosts, token, publicReads: options.publicReads ?? false });
  const http = createServer({ maxHeaderSize: MAX_HEADER_SIZE });
  // Registered before socket.io attaches, so engine.io passes it only what is not its own.
  let app: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  http.on('request', (req: IncomingMessage, res: ServerResponse) => app?.(req, res));
  const io = new SocketServer(http, { serveClient: false, maxHttpBufferSize: 64 * 1024, cors: { origin: false } });
  io.use((socket, next) => {
    const auth = socket.handshake.auth as Record<string, unknown> | undefined;
    const given = typeof auth?.token === 'string' ? auth.token : bearerTokenOf(socket.handshake.headers.authorization);
    if (access.canRead(socket.handshake.address, given)) {
      next();
      return;
    }
    const refused = Object.assign(new Error('UNAUTHORIZED: reads from non-loopback clients need the token (socket.io: auth: { token }) or a server started with --public-reads'), {
      data: { error: { code: 'UNAUTHORIZED', message: 'reads from non-loopback clients need the token' } },
    });
    next(refused);
  });
  const relay = new EventRelay(io, store, options.pollMs);
  const lab = new ServerLab(store, executor, (id) => relay.track(id));
  const twins = new TwinService(store);
  twins.attach(io);
  app = createApp({ twins, lab, token, publicReads: options.publicReads, viewerDir: options.viewerDir ?? defaultViewerDir(), version: options.version ?? '0.1.0' });
  guardHttpServer(http, access);
  relay.start();
  // 5.
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 8080, host, () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  access.bind(port);
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    token,
    tokenCreated: created,
    tokenFile: loaded.file,
    warnings: loaded.warnings,
    access,
    lab,
    store,
    http,
    io,
    relay,
    twins,
    async close() {
      relay.stop();
      await lab.shutdown();
      await new Promise<void>((resolve) => io.close(() => resolve()));
      if (!options.executor) await executor.close();
      store.close();
    },
  };
}
