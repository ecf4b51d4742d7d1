import { type Command, Option } from 'commander';
import { TwinlabError } from '../../engine/errors.js';
import { makeExecutor } from './run.js';
import { DEFAULT_DATA_DIR } from '../../experiments/store.js';
import { type RunningServer, startServer } from '../../server/index.js';
import { ensureViewerBuilt } from './viewer-build.js';
import { isLoopbackHost } from '../../server/access.js';
import { collect, parseInteger } from '../program.js';

export interface ServeFlags {
  port: number;
  host: string;
  data: string;
  token?: string;
  publicReads?: boolean;
  allowHost?: string[];
  workers?: number;
  executor?: 'piscina' | 'redis';
  redis?: string;
  queue?: string;
}

export function addServeOptions(command: Command): Command {
  return command
    .option('--port <n>', 'port (0 = any free port)', parseInteger('--port', { min: 0, max: 65535 }), 8080)
    .option('--host <address>', 'address to bind', '127.0.0.1')
    .option('--data <dir>', 'data directory (SQLite store, saved policies)', DEFAULT_DATA_DIR)
    .option('--token <token>', 'bearer token for mutating endpoints (default: generated into <data>/server-token)')
    .option('--public-reads', 'allow reads from non-loopback clients without the token')
    .option('--allow-host <name>', 'also answer to this Host name (repeatable; e.g. the machine name when binding 0.0.0.0)', collect(String))
    .option('--workers <n>', 'worker threads of the shared pool (default: one per core)', parseInteger('--workers', { min: 1 }))
    .addOption(new Option('--executor <kind>', 'where experiment jobs run: piscina (threads here) or redis (`twinlab worker` processes)').choices(['piscina', 'redis']))
    .option('--redis <url>', 'Redis for --executor redis (default redis://127.0.0.1:6379; rediss:// for TLS)')
    .option('--queue <name>', 'queue for --executor redis (default twinlab)');
}

export async function startFromFlags(flags: ServeFlags): Promise<RunningServer> {
  await announceViewerBuild();
  // The Piscina pool is the server's own; a Redis executor is made here and closed with the server.
  const executor = flags.executor === 'redis' ? makeExecutor({ data: flags.data, workers: flags.workers, executor: 'redis', redis: flags.redis, queue: flags.queue }) : undefined;
  if (executor === undefined && (flags.redis !== undefined || flags.queue !== undefined)) throw new TwinlabError('INVALID_ARGUMENT', '--redis and --queue need --executor redis');
  const server = await startServer({
    dataDir: flags.data,
    host: flags.host,
    port: flags.port,
    token: flags.token,
    publicReads: flags.publicReads,
    allowedHosts: flags.allowHost,
    workers: flags.workers,
    executor,
  });
  if (executor !== undefined) {
    const close = server.close.bind(server);
    server.close = async () => {
      await close();
      await executor.close();
    };
  }
  const { stdout, stderr } = startupMessages(server, flags);
  for (const line of stderr) process.stderr.write(`${line}\n`);
  for (const line of stdout) process.stdout.write(`${line}\n`);
  return server;
}

/**
 * What `serve`/`start` print. The token is shown only when it was just generated (the README's
 * "printed once"); afterwards the viewer URL comes without it and names the token file instead.
 */
export function startupMessages(
  server: Pick<RunningServer, 'url' | 'token' | 'tokenCreated' | 'tokenFile' | 'warnings'> & { store: { dataDir: string } },
  flags: Pick<ServeFlags, 'host' | 'publicReads'>,
): { stdout: string[]; stderr: string[] } {
  const stderr = server.warnings.map((w) => `twinlab: warning: ${w}`);
  if (!isLoopbackHost(flags.host)) {
    stderr.push(
      flags.publicReads
        ? `twinlab: warning: --host ${flags.host} is not a loopback address and --public-reads is set: every read (experiments, events, runs, reports) is open to anyone who can reach this port`
        : `twinlab: warning: --host ${flags.host} is not a loopback address: the server is reachable from the network; reads from other machines need the token, mutations always do`,
    );
  }
  const stdout = [`twinlab server on ${server.url}  (data: ${server.store.dataDir})`];
  if (server.tokenCreated) {
    stdout.push(`API token (saved to ${server.tokenFile}, shown once): ${server.token}`);
    stdout.push(`viewer: ${server.url}/#token=${encodeURIComponent(server.token)}`);
  } else {
    stdout.push(`viewer: ${server.url}/  (mutations need the token: ${server.tokenFile ? `it is in ${server.tokenFile}` : 'the one given with --token'}; open ${server.url}/#token=<token> once to store it in the browser)`);
  }
  return { stdout, stderr };
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
