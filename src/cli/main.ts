import { run } from './program.js';

/** Entry point: `npm run cli -- …`, `tsx src/cli/main.ts …`, or bin/jmap-keys.js. */
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  // Output piped into `head` and the like: stop quietly.
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

process.exitCode = await run(process.argv.slice(2));
