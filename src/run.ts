import { bootstrapAdmin, type BootstrapResult } from './bootstrap.js';
import { reachabilityWarnings, type Config } from './config.js';
import { describeStore } from './db/open.js';
import { tuneHeapGrowth } from './heap.js';
import { createLogger, errorFields } from './log.js';
import { startServer, type RunningServer } from './server.js';

export interface RunOutput {
  out(line: string): void;
  err(line: string): void;
}

/**
 * What `npm start` and `jmap-keys serve` do: serve, create the first admin on an empty database and print its
 * secrets once, stop cleanly on SIGINT/SIGTERM. `tryIt` is the usage hint printed after the first-start secrets.
 */
export async function runServer(config: Config, io: RunOutput, tryIt: (apiKey: string) => string[]): Promise<RunningServer> {
  tuneHeapGrowth();
  const log = createLogger(config.logLevel, config.logFormat);
  // Nothing a request or a timer does may end the process: log it and keep serving.
  process.on('uncaughtException', (err) => log.fatal(errorFields(err), 'uncaught exception (kept running)'));
  process.on('unhandledRejection', (err) => log.fatal(errorFields(err), 'unhandled rejection (kept running)'));
  let first: BootstrapResult | undefined;
  // The admin account and key exist before the port opens (a health check passing means the server is ready).
  const running = await startServer(config, log, async (services) => {
    first = await bootstrapAdmin(services, config.adminPassword);
  });
  if (first) {
    // Shown once, on the first start only: neither secret is stored in a recoverable form.
    io.out([
      '',
      'jmap-keys: first start — created the admin account. Save these now; they are not shown again.',
      `  login:    ${first.login}`,
      `  password: ${first.generatedPassword ? first.password : '(from JMAP_KEYS_ADMIN_PASSWORD)'}`,
      `  API key:  ${first.apiKey}`,
      '',
      ...tryIt(first.apiKey).map((line, i) => `  ${i === 0 ? 'Try it:   ' : '          '}${line}`),
      '',
    ].join('\n'));
  }
  for (const warning of reachabilityWarnings(running.services.config)) log.warn(warning);
  const stop = (signal: string) => {
    log.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
    running.close().then(() => {
      log.info({ signal }, 'stopped: last-used times flushed, store closed');
      process.exit(0);
    }, (err: unknown) => {
      log.error(errorFields(err), 'shutdown failed');
      process.exit(1);
    });
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // Last: whoever waits for this line may signal at once.
  const database = describeStore(config);
  log.info({ url: running.url, database, engine: running.services.store.engine, synchronous: config.sqliteSynchronous,
    logLevel: config.logLevel, auditRetentionDays: config.auditRetentionDays, pid: process.pid },
  `listening on ${running.url} (database ${database})`);
  // Lines are gathered in a buffer (src/log.ts): the start-up ones go out now, not with the next 4 KB.
  log.flush();
  return running;
}
