// Entry file: kept apart from cli/main.ts so that no importable module has top-level await.
import { main } from './main.js';

// `twinlab … | head` closes the pipe early: that is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`twinlab: fatal: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  },
);
