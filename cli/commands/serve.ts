import type { Command } from 'commander';
import { DEFAULT_DATA_DIR } from '../../experiments/store.js';
import { type RunningServer, startServer } from '../../server/index.js';
import { ensureViewerBuilt } from './viewer-build.js';
import { parseInteger } from '../program.js';

export interface ServeFlags {
  port: number;
  host: string;
  data: string;
  token?: string;
  publicReads?: boolean;
  workers?: number;
}

export function addServeOptions(command: Command): Command {
  return command
    .option('--port <n>', 'port (0 = any free port)', parseInteger('--port', { min: 0, max: 65535 }), 8080)
    .option('--host <address>', 'address to bind', '127.0.0.1')
    .option('--data <dir>', 'data directory (SQLite store, saved policies)', DEFAULT_DATA_DIR)
    .option('--token <token>', 'bearer token for mutating endpoints (default: generated into <data>/server-token)')
    .option('--public-reads', 'allow reads from non-loopback clients without the token')
    .option('--workers <n>', 'worker threads of the shared pool (default: one per core)', parseInteger('--workers', { min: 1 }));
}

export async function startFromFlags(flags: ServeFlags): Promise<RunningServer> {
  await announceViewerBuild();
  const server = await startServer({ dataDir: flags.data, host: flags.host, port: flags.port, token: flags.token, publicReads: flags.publicReads, workers: flags.workers });
  process.stdout.write(`twinlab server on ${server.url}  (data: ${server.store.dataDir})\n`);
  if (server.tokenCreated) process.stdout.write(`API token (saved to ${server.store.dataDir}/server-token, shown once): ${server.token}\n`);
  process.stdout.write(`viewer: ${server.url}/#token=${encodeURIComponent(server.token)}\n`);
  return server;
}

/** Resolve when the process is asked to stop (Ctrl-C / SIGTERM), after closing the server cleanly. */
export function closeOnSignal(server: RunningServer): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.stdout.write('\nstopping…\n');
      void server.close().then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** `twinlab serve`: REST API + socket.io + viewer. */
export function registerServeCommand(program: Command): void {
  addServeOptions(program.command('serve').description('serve the REST API, live socket.io streams and the browser viewer')).action(async (flags: ServeFlags) => {
    const server = await startFromFlags(flags);
    await closeOnSignal(server);
  });
}

/** Bundle the viewer when it is missing or stale (as `npm start` does), saying so on stderr. */
async function announceViewerBuild(): Promise<void> {
  const viewer = await ensureViewerBuilt();
  if (viewer.status === 'built') process.stderr.write('twinlab: bundled the viewer into viewer/dist (it was missing or older than its sources)\n');
  if (viewer.status === 'failed') {
    process.stderr.write(`twinlab: warning: the viewer could not be bundled (${viewer.message}); the API works, but / answers 404 until \`npm run build:viewer\` succeeds\n`);
  }
}
