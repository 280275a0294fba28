import { bootstrapAdmin } from './bootstrap.js';
import type { Config } from './config.js';
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
  const log = createLogger(config.logLevel, config.logFormat);
  // Nothing a request or a timer does may end the process: log it and keep serving.
  process.on('uncaughtException', (err) => log.fatal(errorFields(err), 'uncaught exception (kept running)'));
  process.on('unhandledRejection', (err) => log.fatal(errorFields(err), 'unhandled rejection (kept running)'));
  const running = await startServer(config, log);
  const first = await bootstrapAdmin(running.services, config.adminPassword);
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
  log.info({ url: running.url, database: config.dbFile, synchronous: config.sqliteSynchronous, logLevel: config.logLevel,
    auditRetentionDays: config.auditRetentionDays, pid: process.pid }, `listening on ${running.url} (database ${config.dbFile})`);
  return running;
}
