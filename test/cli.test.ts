import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cleanEnv, runBin, type Run } from './helpers/cli.js';
import { bearer, freshStoreEnv, startTestServer, TEST_ENGINE, type TestServer } from './helpers/server.js';

/** Runs `fn` over `items`, a few at a time (each run is a node process). */
async function pool<T, R>(items: readonly T[], fn: (item: T) => Promise<R>, limit = 6): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

let s: TestServer;
let env: NodeJS.ProcessEnv;
/** Runs the CLI against the shared server as the bootstrap admin. */
const cli = (args: string[], input?: string) => runBin(args, env, input);

// Small limits so query paging (anchors) and delete batching take several requests.
beforeAll(async () => {
  s = await startTestServer({ JMAP_KEYS_MAX_OBJECTS_IN_GET: '2', JMAP_KEYS_MAX_OBJECTS_IN_SET: '2', JMAP_KEYS_MAX_CONCURRENT_REQUESTS: '16' });
  env = cleanEnv({ JMAP_KEYS_URL: s.url, JMAP_KEYS_TOKEN: s.adminToken });
});
afterAll(async () => { await s.stop(); });

const createdId = (r: Run) => /^Created ApiKey ([a-z]+)$/m.exec(r.stdout)?.[1] as string;

/** Keys made straight over JMAP (two per call: maxObjectsInSet is 2), to give the CLI something to list. */
async function makeKeys(descriptions: Record<string, string | null>): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  const entries = Object.entries(descriptions);
  for (let i = 0; i < entries.length; i += 2) {
    const create = Object.fromEntries(entries.slice(i, i + 2).map(([d, expiresAt]) => [d, { description: d, expiresAt }]));
    const res = await s.api(bearer(s.adminToken), [['x:ApiKey/set', { create }, 'c']]);
    const created = res.body.methodResponses[0][1].created as Record<string, { id: string }>;
    for (const [d, r] of Object.entries(created)) ids[d] = r.id;
  }
  return ids;
}

describe('jmap-keys remote commands', () => {
  it('runs the README remote-command lines verbatim', async () => {
    const made = await cli(['create', 'api-key', '--field', 'description=Example', '--field', 'expiresAt=2026-01-01T00:00:00Z',
      '--field', 'permissions={"@type":"Inherit"}', '--field', 'allowedIps=[]']);
    expect(made.code, made.stderr).toBe(0);
    const id = createdId(made);
    expect(id).toMatch(/^[a-z]+$/);
    expect(made.stdout).toMatch(/^Secret:\s+API_[0-9A-Za-z]{46}$/m);
    expect(made.stderr).toBe('The secret is shown only once: store it now.\n');

    const got = await cli(['get', 'api-key', id]);
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout).toMatch(/^Id:\s+/m);
    expect(got.stdout).toMatch(/^Description:\s+Example$/m);
    expect(got.stdout).toMatch(/^Secret:\s+\*\*\*\*$/m);
    expect(got.stdout).toMatch(/^Expires At:\s+2026-01-01T00:00:00Z$/m);
    expect(got.stdout).toMatch(/^Permissions:\s+Inherit$/m);

    const [all, where] = await Promise.all([
      cli(['query', 'api-key']),
      cli(['query', 'api-key', '--where', 'expiresAt=2026-01-01T00:00:00Z']),
    ]);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toMatch(/^Id\s+Description\s+Expires At\s+Last Used At\s+Last Used Service\s+Last Used From$/m);
    expect(all.stdout).toMatch(new RegExp(`^${id}\\s+Example\\s+2026-01-01T00:00:00Z\\s+-\\s+-\\s+-$`, 'm'));
    expect(all.stdout).toMatch(/Bootstrap admin key/);
    expect(where.code, where.stderr).toBe(0);
    expect(where.stdout).toMatch(new RegExp(`^${id}\\s+Example`, 'm'));
    expect(where.stdout).not.toMatch(/Bootstrap admin key/);

    const upd = await cli(['update', 'api-key', id, '--field', 'description=Updated']);
    expect(upd.code, upd.stderr).toBe(0);
    expect(upd.stdout.trim()).toBe(`Updated ApiKey ${id}`);
    const after = JSON.parse((await cli(['get', 'api-key', id, '--json'])).stdout);
    expect(after).toMatchObject({ id, description: 'Updated', secret: '****', expiresAt: '2026-01-01T00:00:00Z', allowedIps: [] });

    const del = await cli(['delete', 'api-key', '--ids', id]);
    expect(del.code, del.stderr).toBe(0);
    expect(del.stdout.trim().split('\n')).toEqual([`${id} deleted`, '1 deleted, 0 failed']);
  });

  it('prints the secret once; it authenticates (Bearer), Basic works too, and after delete the key gets 401', async () => {
    const made = await cli(['create', 'api-key', '--stdin', '--json'], '{"description":"CI bot","allowedIps":["127.0.0.0/8"],"permissions":{"@type":"Inherit"}}');
    expect(made.code, made.stderr).toBe(0);
    const created = JSON.parse(made.stdout);
    expect(created.secret).toMatch(/^API_[0-9A-Za-z]{46}$/);
    expect(made.stderr).toBe('');

    const dir = mkdtempSync(join(tmpdir(), 'jmap-keys-cli-'));
    try {
      const file = join(dir, 'key.json');
      writeFileSync(file, '{"Description":"from a file","expiresAt":null}');
      const [asKey, asBasic, fromFile, fromJson] = await Promise.all([
        cli(['get', 'api-key', created.id, '--json', '--api-key', created.secret]),
        runBin(['get', 'ApiKey', created.id, '--fields', 'description,allowedIps', '--json', '--user', 'admin', '--password', s.adminPassword], cleanEnv({ JMAP_KEYS_URL: s.url })),
        cli(['create', 'api-key', '--file', file]),
        cli(['--url', s.url, 'create', 'x:ApiKey', '--json', '{"description":"from --json"}']),
      ]);
      expect(asKey.code, asKey.stderr).toBe(0);
      expect(JSON.parse(asKey.stdout)).toMatchObject({ id: created.id, description: 'CI bot', secret: '****', allowedIps: ['127.0.0.0/8'] });
      expect(asKey.stdout).not.toContain(created.secret);
      expect(asBasic.code, asBasic.stderr).toBe(0);
      expect(JSON.parse(asBasic.stdout)).toEqual({ id: created.id, description: 'CI bot', allowedIps: ['127.0.0.0/8'] });
      expect(fromFile.code, fromFile.stderr).toBe(0);
      expect(fromJson.code, fromJson.stderr).toBe(0);
      const others = [createdId(fromFile), createdId(fromJson)];
      expect((await cli(['get', 'api-key', others[0] as string, '--json'])).stdout).toContain('"from a file"');

      // JSON-pointer keys on update; then null clears a nullable property.
      const ptr = await cli(['update', 'apikey', created.id, '--field', 'allowedIps/10.0.0.0~18=true', '--field', 'expiresAt=2099-01-01T00:00:00Z']);
      expect(ptr.code, ptr.stderr).toBe(0);
      const patched = JSON.parse((await cli(['get', 'api-key', created.id, '--json', '--fields', 'allowedIps,expiresAt'])).stdout);
      expect(patched.allowedIps.sort()).toEqual(['10.0.0.0/8', '127.0.0.0/8']);
      expect(patched.expiresAt).toBe('2099-01-01T00:00:00Z');
      expect((await cli(['update', 'api-key', created.id, '--field', 'expiresAt=null'])).code).toBe(0);

      const del = await cli(['delete', 'api-key', '--ids', [created.id, ...others].join(',')]);
      expect(del.code, del.stderr).toBe(0);
      expect(del.stdout).toMatch(/3 deleted, 0 failed/);
      const gone = await cli(['get', 'api-key', created.id, '--api-key', created.secret]);
      expect(gone.code).toBe(3);
      expect(gone.stderr).toMatch(/^error: authentication failed: .*HTTP 401/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('query pages through everything with anchors, filters, sorts and picks fields; delete batches and counts', async () => {
    const ids = await makeKeys({ q1: '2031-01-01T00:00:00Z', q2: '2032-01-01T00:00:00Z', q3: '2033-01-01T00:00:00Z', q4: null, q5: '2035-01-01T00:00:00Z' });
    const expected = (await s.api(bearer(s.adminToken), [['x:ApiKey/query', {}, 'q']])).body.methodResponses[0][1].ids;
    expect(expected.length).toBeGreaterThan(4); // maxObjectsInGet is 2: at least three pages

    const [all, range, sorted, table] = await Promise.all([
      cli(['query', 'api-key', '--json']),
      cli(['query', 'api-key', '--where', 'expiresAt>=2032-01-01T00:00:00Z', '--where', 'expiresAt<2035-01-01T00:00:00Z', '--fields', 'id,description', '--json']),
      cli(['query', 'api-key', '--where', 'expiresAt>2030-01-01T00:00:00Z', '--sort', '-expiresAt', '--fields', 'description', '--json']),
      cli(['query', 'api-key', '--fields', 'description,expiresAt']),
    ]);
    expect(all.code, all.stderr).toBe(0);
    expect(JSON.parse(all.stdout)).toEqual(expected);
    expect(range.code, range.stderr).toBe(0);
    expect(JSON.parse(range.stdout)).toEqual([{ id: ids.q2, description: 'q2' }, { id: ids.q3, description: 'q3' }]);
    expect(sorted.code, sorted.stderr).toBe(0);
    expect(JSON.parse(sorted.stdout).map((r: { description: string }) => r.description)).toEqual(['q5', 'q3', 'q2', 'q1']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^Description\s+Expires At$/m);
    expect(table.stdout).toMatch(/^q4\s+-$/m);
    expect(table.stdout).toMatch(new RegExp(`^${expected.length} ApiKey records$`, 'm'));

    const del = await cli(['delete', 'api-key', '--ids', `${ids.q1},${ids.q2} ${ids.q3},zzzz`]);
    expect(del.code).toBe(1);
    expect(del.stdout.trim().split('\n')).toEqual([`${ids.q1} deleted`, `${ids.q2} deleted`, `${ids.q3} deleted`, 'zzzz failed: notFound', '3 deleted, 1 failed']);
    const viaStdin = await cli(['delete', 'ApiKey', '--stdin', '--json'], JSON.stringify([ids.q4, ids.q5]));
    expect(viaStdin.code, viaStdin.stderr).toBe(0);
    expect(JSON.parse(viaStdin.stdout)).toEqual({ destroyed: [ids.q4, ids.q5], notDestroyed: {} });
  });

  it('accepts object names as stalwart-cli does, app-password included', async () => {
    const [key] = Object.values(await makeKeys({ names: null }));
    const spellings = await Promise.all(['ApiKey', 'apikey', 'x:ApiKey', 'API_KEY'].map((n) => cli(['get', n, key as string, '--json'])));
    for (const r of spellings) {
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).id).toBe(key);
    }
    // x:AppPassword shares the capability; until the server registers it, the call reaching the server as
    // x:AppPassword/query (unknownMethod) is what shows the name mapping.
    const apps = await Promise.all(['app-password', 'AppPassword', 'apppassword', 'x:AppPassword'].map((n) => cli(['query', n, '--json'])));
    for (const r of apps) {
      if (r.code === 0) expect(Array.isArray(JSON.parse(r.stdout))).toBe(true);
      else expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: 'error: unknownMethod: x:AppPassword/query\n' });
    }
    const unknown = await cli(['get', 'mailbox', 'a']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown object type "mailbox"; known types: ApiKey \(api-key\), AppPassword \(app-password\)/);
    await cli(['delete', 'api-key', '--ids', key as string]);
  });

  it('refuses bad input with a clear message and the right exit code', async () => {
    const cases: [string[], number, RegExp][] = [
      [['create', 'api-key', '--field', 'colour=red'], 2, /^error: unknown property "colour" for ApiKey; known: id, description/],
      [['create', 'api-key', '--field', 'description=x', '--field', 'permissions={"@type":'], 2, /^error: --field permissions: bad JSON/],
      [['create', 'api-key', '--field', 'allowedIps=10.0.0.1'], 2, /^error: --field allowedIps: needs a JSON array/],
      [['create', 'api-key', '--field', 'secret=API_x'], 2, /^error: secret is set by the server/],
      [['create', 'api-key', '--field', 'description'], 2, /^error: --field description: expected name=value/],
      [['create', 'api-key', '--json', '{"description":"x"', '--field', 'description=y'], 2, /^error: --field, --json, --file and --stdin are alternatives/],
      [['create', 'api-key', '--json', '{"description":'], 2, /^error: --json: bad JSON/],
      [['create', 'api-key', '--file', '/nonexistent/key.json'], 2, /^error: --file \/nonexistent\/key.json: cannot read \(ENOENT\)/],
      [['update', 'api-key', 'b'], 2, /^error: nothing to update/],
      [['query', 'api-key', '--where', 'description=x'], 2, /^error: --where description=x: cannot filter on description/],
      [['query', 'api-key', '--where', 'expiresAt~2026'], 2, /^error: --where expiresAt~2026: expected name=value/],
      [['query', 'api-key', '--fields', 'id,colour'], 2, /^error: unknown property "colour"/],
      [['query', 'api-key', '--sort', 'secret'], 2, /^error: --sort: cannot sort on secret/],
      [['get', 'api-key'], 2, /^error: missing required argument 'id'/],
      [['get', 'api-key', 'b', '--colour'], 2, /^error: unknown option '--colour'/],
      [['frobnicate'], 2, /^error: unknown command 'frobnicate'/],
      [['delete', 'api-key'], 2, /^error: give the ids with either --ids or --stdin/],
      // The server says no: exit 1 with its error type and description.
      [['get', 'api-key', 'zzzz'], 1, /^error: ApiKey zzzz not found$/m],
      [['update', 'api-key', 'zzzz', '--field', 'description=x'], 1, /^error: notFound.*\(update ApiKey zzzz\)$/m],
      [['create', 'api-key', '--field', 'description=x', '--field', 'expiresAt=tomorrow'], 1, /^error: invalidProperties: expiresAt must be null or a UTCDate such as 2027-01-01T00:00:00Z .*; properties expiresAt \(create ApiKey n0\)$/m],
      [['query', 'api-key', '--where', 'expiresAt>soon'], 2, /^error: --where expiresAt>soon: expiresAt takes a UTCDate/],
      // Cannot reach or authenticate: exit 3.
      [['get', 'api-key', 'b', '--url', 'http://127.0.0.1:1'], 3, /^error: cannot reach http:\/\/127\.0\.0\.1:1\/ \(ECONNREFUSED\)$/m],
      [['get', 'api-key', 'b', '--api-key', 'API_not-a-real-key'], 3, /^error: authentication failed: .*HTTP 401/],
      [['get', 'api-key', 'b', '--user', 'admin', '--password', 'wrong-password'], 3, /^error: authentication failed: .*HTTP 401/],
    ];
    const results = await pool(cases, ([args]) => cli(args));
    results.forEach((r, i) => {
      const [args, code, message] = cases[i] as [string[], number, RegExp];
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code, stderr: expect.stringMatching(message) });
      expect(r.stdout).toBe('');
    });
    const noToken = await runBin(['query', 'api-key'], cleanEnv({ JMAP_KEYS_URL: s.url }));
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/^error: no credentials: set JMAP_KEYS_TOKEN/);
  });

  it('has --help on every command', async () => {
    const commands = [[], ['get'], ['create'], ['update'], ['delete'], ['query'], ['serve'], ['account'], ['account', 'create'],
      ['account', 'list'], ['account', 'passwd'], ['account', 'delete'], ['key'], ['key', 'create']];
    const results = await pool(commands, (c) => cli([...c, '--help']));
    results.forEach((r, i) => {
      expect(r.code, commands[i]?.join(' ')).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: jmap-keys ${(commands[i] as string[]).join(' ')}`));
    });
    expect(results[2]?.stdout).toContain(`--field 'permissions={"@type":"Inherit"}'`);
  });
});

describe('jmap-keys local commands', () => {
  it('manages accounts and a first admin key on the database; serve starts on it and accepts them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jmap-keys-cli-local-'));
    // The same commands on the run's engine: a SQLite file in the folder, or a fresh PostgreSQL database.
    const store = await freshStoreEnv(dir);
    const local = cleanEnv({ ...store, JMAP_KEYS_DATA: '' });
    const run = (args: string[]) => runBin([...args, '--data', dir], local);
    let server: ReturnType<typeof spawn> | undefined;
    try {
      const none = await run(['account', 'list']);
      if (TEST_ENGINE === 'sqlite') {
        expect(none.code).toBe(2);
        expect(none.stderr).toMatch(/^error: no database at .*jmap-keys\.db/);
      } else {
        expect([none.code, none.stdout.trim()]).toEqual([0, 'No accounts.']);
      }

      const alice = await run(['account', 'create', 'alice', '--role', 'admin', '--password', 'alice-password-1']);
      expect(alice.code, alice.stderr).toBe(0);
      expect(alice.stdout).toMatch(/^Created account alice \(admin, id [a-z]+\)$/m);
      const bob = await run(['account', 'create', 'bob']);
      expect(bob.code, bob.stderr).toBe(0);
      expect(bob.stdout).toMatch(/^Password: \S{16,}$/m);

      const [again, short, badRole, key, noAccount] = await Promise.all([
        run(['account', 'create', 'alice']),
        run(['account', 'create', 'carol', '--password', 'short']),
        run(['account', 'create', 'carol', '--role', 'root']),
        run(['key', 'create', '--login', 'alice', '--description', 'first admin key', '--json']),
        run(['key', 'create', '--login', 'nobody']),
      ]);
      expect([again.code, again.stderr]).toEqual([1, 'error: account "alice" already exists\n']);
      expect(short.code).toBe(2);
      expect(badRole.code).toBe(2);
      expect(key.code, key.stderr).toBe(0);
      const issued = JSON.parse(key.stdout);
      expect(issued).toMatchObject({ login: 'alice', description: 'first admin key', expiresAt: null });
      expect(issued.secret).toMatch(/^API_[0-9A-Za-z]{46}$/);
      expect([noAccount.code, noAccount.stderr]).toEqual([1, 'error: no account "nobody"\n']);

      expect((await run(['account', 'passwd', 'bob', '--password', 'bob-password-2'])).code).toBe(0);
      const list = await run(['account', 'list', '--json']);
      expect(JSON.parse(list.stdout).map((a: { login: string; role: string; apiKeys: number }) => [a.login, a.role, a.apiKeys]))
        .toEqual([['alice', 'admin', 1], ['bob', 'user', 0]]);
      const lastAdmin = await run(['account', 'delete', 'alice']);
      expect(lastAdmin.code).toBe(1);
      expect(lastAdmin.stderr).toMatch(/last admin account/);

      // `serve` on the same data folder (no first-start bootstrap: accounts exist) accepts what was made offline.
      const child = spawn(process.execPath, [BIN, 'serve', '--data', dir, '--port', '0'], { env: local, stdio: ['ignore', 'pipe', 'pipe'] });
      server = child;
      const url = await new Promise<string>((resolve, reject) => {
        let seen = '';
        child.stdout?.on('data', (d: Buffer) => {
          seen += d.toString();
          const m = /listening on (http:\/\/\S+)/.exec(seen);
          if (m) resolve(m[1] as string);
        });
        child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${seen}`)));
      });
      const remote = cleanEnv({ JMAP_KEYS_URL: url });
      const [withKey, withPassword, bobNew] = await Promise.all([
        runBin(['query', 'api-key', '--api-key', issued.secret, '--json'], remote),
        runBin(['query', 'api-key', '--user', 'alice', '--password', 'alice-password-1', '--json'], remote),
        runBin(['query', 'api-key', '--user', 'bob', '--password', 'bob-password-2', '--json'], remote),
      ]);
      expect(withKey.code, withKey.stderr).toBe(0);
      expect(JSON.parse(withKey.stdout)).toEqual([issued.id]);
      expect(withPassword.code, withPassword.stderr).toBe(0);
      expect(bobNew.code, bobNew.stderr).toBe(0);

      // A key made while the server runs works at once; deleting its account revokes it.
      const second = await run(['key', 'create', '--login', 'bob', '--json']);
      const bobKey = JSON.parse(second.stdout).secret as string;
      expect((await runBin(['query', 'api-key', '--api-key', bobKey, '--json'], remote)).code).toBe(0);
      const deleted = await run(['account', 'delete', 'bob']);
      expect(deleted.stdout.trim()).toBe('Deleted account bob with 1 API key and 0 app passwords');
      const revoked = await runBin(['query', 'api-key', '--api-key', bobKey], remote);
      expect(revoked.code).toBe(3);
    } finally {
      if (server && server.exitCode === null) {
        const exited = new Promise((r) => server?.once('exit', r));
        server.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
