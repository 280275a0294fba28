/**
 * The store cannot do what was asked right now: the database is read-only, full, busy past the timeout, failing
 * I/O or cannot be opened. Engine-neutral (the SQLite store throws it, a PostgreSQL store can too); the HTTP faces
 * answer 503 / JMAP `serverUnavailable` and keep serving what still works.
 */
export type StoreFailure = 'busy' | 'readonly' | 'full' | 'io' | 'cantopen';

export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(readonly reason: StoreFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

const SQLITE_CODES: [string, StoreFailure][] = [
  ['SQLITE_BUSY', 'busy'], ['SQLITE_LOCKED', 'busy'], ['SQLITE_READONLY', 'readonly'], ['SQLITE_FULL', 'full'],
  ['SQLITE_IOERR', 'io'], ['SQLITE_CANTOPEN', 'cantopen'], ['SQLITE_PERM', 'readonly'],
];

/** SQLite's error codes (extended ones too: SQLITE_IOERR_WRITE, SQLITE_READONLY_DIRECTORY) → the neutral reason. */
export function sqliteFailure(err: unknown): StoreFailure | undefined {
  const code = err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
  if (!code) return undefined;
  for (const [prefix, reason] of SQLITE_CODES) if (code === prefix || code.startsWith(`${prefix}_`)) return reason;
  return undefined;
}
