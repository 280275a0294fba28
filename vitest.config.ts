import { defineConfig } from 'vitest/config';

/** Suites that exercise a peer or the browser rather than the store: they run on SQLite only (see README). */
const SQLITE_ONLY = ['test/dovecot.test.ts', 'test/web.test.ts', 'test/web-*.test.ts', 'test/bench-smoke.test.ts', 'test/unit/**', 'test/startup.test.ts'];

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Every suite that runs on SQLite runs again on a real PostgreSQL server (Debian's package, started by
    // test/setup/postgres.ts in a temporary folder), but for the peer and browser suites above.
    projects: [
      { extends: true, test: { name: 'sqlite', exclude: ['test/pg-store.test.ts', 'test/multi-node.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'postgres',
          exclude: SQLITE_ONLY,
          env: { TEST_STORE_ENGINE: 'postgres' },
          globalSetup: ['test/setup/postgres.ts'],
        },
      },
    ],
  },
});
