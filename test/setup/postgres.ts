import type { TestProject } from 'vitest/node';
import { startPostgres } from '../helpers/postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin URL of the run's shared PostgreSQL server ('' when the run does not use one). */
    postgresUrl: string;
  }
}

/**
 * vitest globalSetup: one PostgreSQL server for the whole run when TEST_STORE_ENGINE=postgres. Tests read its
 * URL with inject('postgresUrl') and make their own database on it (createDatabase in test/helpers/postgres.ts).
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const engine = project.config.env?.TEST_STORE_ENGINE ?? process.env.TEST_STORE_ENGINE;
  if (engine !== 'postgres') {
    project.provide('postgresUrl', '');
    return undefined;
  }
  const server = await startPostgres();
  project.provide('postgresUrl', server.url);
  return () => server.stop();
}
