import { bootstrapAdmin } from './bootstrap.js';
import { ConfigError, loadConfig } from './config.js';
import { startServer } from './server.js';

/** `npm start`: validate configuration, migrate, bootstrap the first admin, serve. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env, process.argv.slice(2));
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`jmap-keys: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const log = (msg: string) => console.error(`jmap-keys: ${msg}`);
  const running = await startServer(config, log);
  const first = await bootstrapAdmin(running.services, config.adminPassword);
  const base = config.publicUrl;
  if (first) {
    // Shown once, on the first start only: neither secret is stored in a recoverable form.
    console.log([
      '',
      'jmap-keys: first start — created the admin account. Save these now; they are not shown again.',
      `  login:    ${first.login}`,
      `  password: ${first.generatedPassword ? first.password : '(from JMAP_KEYS_ADMIN_PASSWORD)'}`,
      `  API key:  ${first.apiKey}`,
      '',
      `  Try it:   export TOKEN=${first.apiKey}`,
      `            curl -s ${base}/jmap/session -H "Authorization: Bearer $TOKEN"`,
      '',
    ].join('\n'));
  }
  console.log(`jmap-keys: listening on ${running.url} (database ${config.dbFile})`);
  const stop = () => {
    running.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(`jmap-keys: failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
