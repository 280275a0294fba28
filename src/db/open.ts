import type { Config } from '../config.js';
import { openPgStore } from './pg.js';
import { openSqliteStore } from './sqlite.js';
import type { Store } from './store.js';

export interface StoreHooks {
  /** PostgreSQL: the change listener went down or came back. */
  onListener?: (state: 'down' | 'up') => void;
  /** PostgreSQL: the connections for expiry-ordered /query pages failed (those pages use the main pool a minute). */
  onKeptPlansFailure?: (message: string) => void;
  /** SQLite: checkpoint the WAL in the background (a long-running server); hears a checkpoint that failed. */
  onCheckpointFailure?: (message: string) => void;
}

/**
 * The store the configuration names, PostgreSQL when JMAP_KEYS_DATABASE_URL is set, else the SQLite file: the one
 * way the server and the CLI's local commands open it.
 */
export async function openStore(config: Pick<Config, 'dbFile' | 'databaseUrl' | 'sqliteSynchronous'>, hooks: StoreHooks = {}): Promise<Store> {
  if (config.databaseUrl) {
    return openPgStore(config.databaseUrl, {
      onListener: hooks.onListener,
      ...(hooks.onKeptPlansFailure ? { onKeptPlansFailure: hooks.onKeptPlansFailure } : {}),
    });
  }
  return openSqliteStore(config.dbFile, {
    synchronous: config.sqliteSynchronous,
    ...(hooks.onCheckpointFailure ? { checkpoints: { onFailure: hooks.onCheckpointFailure } } : {}),
  });
}

/** Where the data lives, for messages: the SQLite file, or the PostgreSQL server without its password. */
export function describeStore(config: Pick<Config, 'dbFile' | 'databaseUrl'>): string {
  if (!config.databaseUrl) return config.dbFile;
  try {
    const url = new URL(config.databaseUrl);
    url.password = '';
    return url.toString().replace(/^(postgres(ql)?:\/\/[^:@/]*):?@/, '$1@');
  } catch {
    return 'postgresql';
  }
}
