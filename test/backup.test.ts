import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { startServer } from '../src/server.js';
import { runCli } from './helpers/child.js';
import { bearer, startTestServer, TEST_ENGINE } from './helpers/server.js';

const scratch = mkdtempSync(join(tmpdir(), 'jmap-keys-backup-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// A copy of the SQLite file; PostgreSQL is backed up with pg_dump (the store says so: test/pg-store.test.ts).
describe.skipIf(TEST_ENGINE === 'postgres')('jmap-keys backup', () => {
  it('copies the database while the server runs and writes; the copy plus server-secret restores every key', async () => {
    const s = await startTestServer();
    try {
      const made = await s.api(bearer(s.adminToken), [['x:ApiKey/set', { create: { a: { description: 'kept' } } }, '0']]);
      const kept = made.body.methodResponses[0][1].created.a.secret as string;
      // Writes keep coming while the copy is taken.
      let writing = true;
      const writer = (async () => {
        let n = 0;
        while (writing) await s.api(bearer(s.adminToken), [['x:ApiKey/set', { create: { [`w${n}`]: { description: `during ${n++}` } } }, '0']]);
      })();
      const out = join(scratch, 'copy.db');
      const result = await runCli(['backup', '--out', out], { JMAP_KEYS_DATA: s.dir });
      writing = false;
      await writer;
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(`to ${out}`);
      expect(result.stderr).toContain(join(s.dir, 'server-secret'));
      const again = await runCli(['backup', '--out', out], { JMAP_KEYS_DATA: s.dir });
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('exists already');

      // Restore: the copy as the database of a new data folder, with the server secret beside it.
      const restored = join(scratch, 'restored');
      const fresh = join(restored, 'jmap-keys.db');
      rmSync(restored, { recursive: true, force: true });
      mkdirSync(restored);
      copyFileSync(out, fresh);
      copyFileSync(join(s.dir, 'server-secret'), join(restored, 'server-secret'));
      const second = await startServer(loadConfig({ JMAP_KEYS_DATA: restored, JMAP_KEYS_PORT: '0' }));
      try {
        const res = await fetch(`${second.url}/api`, {
          method: 'POST', headers: { Authorization: bearer(kept), 'Content-Type': 'application/json' },
          body: JSON.stringify({ using: ['urn:ietf:params:jmap:core', 'urn:stalwart:jmap'], methodCalls: [['x:ApiKey/get', { properties: ['description'] }, '0']] }),
        });
        expect(res.status).toBe(200);
        const descriptions = (await res.json()).methodResponses[0][1].list.map((k: { description: string }) => k.description);
        expect(descriptions).toContain('kept');
        expect(descriptions).toContain('Bootstrap admin key');
      } finally {
        await second.close();
      }
    } finally {
      await s.stop();
    }
  });
});
