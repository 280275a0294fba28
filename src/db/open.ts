import type { Config } from '../config.js';
import { openSqliteStore } from './sqlite.js';
import type { Store } from './store.js';

/** The store the configuration names: the one way the server and the CLI's local commands open it. */
export async function openStore(config: Pick<Config, 'dbFile'>): Promise<Store> {
  return openSqliteStore(config.dbFile);
}
