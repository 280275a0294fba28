import { ConfigError, loadConfig } from './config.js';
import { runServer } from './run.js';

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
  const base = config.publicUrl;
  await runServer(config, { out: (l) => console.log(l), err: (l) => console.error(l) }, (key) => [
    `export JMAP_KEYS_URL=${base}`,
    `export TOKEN=${key} JMAP_KEYS_TOKEN=${key}`,
    'curl -s "$JMAP_KEYS_URL/jmap/session" -H "Authorization: Bearer $TOKEN"',
  ]);
}

main().catch((err: unknown) => {
  console.error(`jmap-keys: failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
