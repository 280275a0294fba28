import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Starts one PostgreSQL server for the run when JMAP_KEYS_TEST_ENGINE=postgres (does nothing otherwise).
    globalSetup: ['test/setup/postgres.ts'],
  },
});
