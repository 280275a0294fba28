import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * Copies the WAL back into the database file from a worker thread with its own connection, so that a commit does
 * not also pay the checkpoint. SQLite's own checkpoint runs inside the commit that passes `wal_autocheckpoint`
 * pages: a 500-key /set on 1M keys writes ~1,500 random index pages, so every such call copied and fsynced them on
 * the event loop (12 % of a /set run's samples in `perf`). A PASSIVE checkpoint waits for nobody, runs beside
 * readers and the writer, and needs no lock the writer takes; the writer restarts the WAL once it is copied.
 */
export interface Checkpointer {
  /** Stops the worker after one last checkpoint. */
  stop(): Promise<void>;
}

/** What the connection's own autocheckpoint falls back to (pages): only reached if the worker stalls or died. */
export const FALLBACK_AUTOCHECKPOINT = 10_000;

/** The worker's body (CommonJS, given as text: it runs the same from dist/ and from the TypeScript sources). */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('synchronous = ' + workerData.synchronous);
// A checkpoint copies frames through its own buffer, not the page cache: keep this connection's cache small.
db.pragma('cache_size = -1024');
let failing = false;
const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
    failing = false;
  } catch (err) {
    // The next round (or the writer's own fallback) copies it. Busy is another checkpointer at work: not a failure.
    if (err && err.code === 'SQLITE_BUSY') return;
    if (!failing) parentPort.postMessage({ failed: String(err && err.message || err) });
    failing = true;
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

/**
 * Starts checkpointing `file` every `intervalMs` (a PASSIVE checkpoint with nothing to copy costs a few µs).
 * `onFailure` hears the first checkpoint that failed after one that worked (each round tries again).
 */
export function startCheckpointer(file: string, synchronous: 'FULL' | 'NORMAL', onFailure: (message: string) => void, intervalMs = 100): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER, { eval: true, workerData: { file: resolve(file), driver, synchronous, intervalMs } });
  // Never what keeps a process alive: a store left open must not hang its process's exit.
  worker.unref();
  worker.on('message', (m: { failed?: string }) => { if (m.failed) onFailure(m.failed); });
  worker.on('error', (err) => onFailure(err.message));
  const exited = new Promise<void>((done) => worker.once('exit', () => done()));
  return {
    async stop() {
      // Waited for: unreferenced, the worker would let a process whose last task is this wait exit half-way.
      worker.ref();
      worker.postMessage('stop');
      await exited;
    },
  };
}
