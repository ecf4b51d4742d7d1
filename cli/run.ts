// Entry file: kept apart from cli/main.ts so that no importable module has top-level await.
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`twinlab: fatal: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  },
);
