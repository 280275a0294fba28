import { describeStore } from './db/open.js';
import { bootstrapAdmin, type BootstrapResult } from './bootstrap.js';
import { reachabilityWarnings, type Config } from './config.js';
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
  let first: BootstrapResult | undefined;
  // The admin account and key exist before the port opens (a health check passing means the server is ready).
  const running = await startServer(config, (msg) => io.err(`jmap-keys: ${msg}`), async (services) => {
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
  io.out(`jmap-keys: listening on ${running.url} (database ${describeStore(config)})`);
  for (const warning of reachabilityWarnings(running.services.config)) io.err(`jmap-keys: warning: ${warning}`);
  const stop = () => {
    running.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return running;
}
