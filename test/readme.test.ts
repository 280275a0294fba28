import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startTestServer, type TestServer } from './helpers/server.js';

/** The bash blocks of one README section, in order. */
function bashBlocks(heading: string): string[] {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf(`## ${heading}`);
  const end = readme.indexOf('\n## ', start + 3);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1] as string);
}

let s: TestServer;
beforeAll(async () => { s = await startTestServer(); });
afterAll(async () => { await s.stop(); });

describe('README walkthrough: the ApiKey curl examples, run as written', () => {
  it('create, get, update, query, destroy', async () => {
    const blocks = bashBlocks('Walkthrough: the ApiKey object');
    expect(blocks).toHaveLength(5);
    const env: Record<string, string> = { ...process.env as Record<string, string>, TOKEN: s.adminToken, JMAP_KEYS_URL: s.url };
    // Asynchronous: the server runs in this process and must keep answering while curl waits.
    const run = async (script: string) => JSON.parse((await promisify(execFile)('bash', ['-c', script], { env })).stdout);

    const created = (await run(blocks[0] as string)).methodResponses[0][1].created.new1;
    expect(created.secret).toMatch(/^API_/);
    env.KEY_ID = created.id;

    const got = (await run(blocks[1] as string)).methodResponses[0][1];
    expect(got.list).toEqual([expect.objectContaining({ id: created.id, description: 'Example', secret: '****', expiresAt: '2030-01-01T00:00:00Z', allowedIps: [], permissions: { '@type': 'Inherit' } })]);

    expect((await run(blocks[2] as string)).methodResponses[0][1].updated).toEqual({ [created.id]: null });
    expect((await run(blocks[3] as string)).methodResponses[0][1].ids).toEqual([created.id]);
    expect((await run(blocks[4] as string)).methodResponses[0][1].destroyed).toEqual([created.id]);
  });

  it('the key printed on first start is what $TOKEN means', async () => {
    const res = await fetch(`${s.url}/jmap/session`, { headers: { Authorization: bearer(s.adminToken) } });
    expect(res.status).toBe(200);
  });
});

describe('README walkthrough: the SMTP credentials curl examples, run as written', () => {
  it('list, create, rotate, revoke, mobile', async () => {
    const blocks = bashBlocks('Walkthrough: SMTP credentials (REST)');
    expect(blocks).toHaveLength(5);
    const env: Record<string, string> = { ...process.env as Record<string, string>, TOKEN: s.adminToken, JMAP_KEYS_URL: s.url };
    const sh = async (script: string) => (await promisify(execFile)('bash', ['-c', script], { env })).stdout;

    expect(JSON.parse(await sh(blocks[0] as string)).connectionInfo.smtp.port).toBe(587);
    const made = JSON.parse(await sh(blocks[1] as string));
    expect(made).toMatchObject({ name: 'Thunderbird', scopes: ['smtp', 'pop3', 'imap'], isActive: true, lastUsedAt: null, apiKey: expect.stringMatching(/^rm_/) });
    env.KEY_ID = made.id;
    const rotated = JSON.parse(await sh(blocks[2] as string));
    expect(rotated).toMatchObject({ name: 'Thunderbird', apiKey: expect.stringMatching(/^rm_/) });
    env.KEY_ID = rotated.id;
    expect(await sh(blocks[3] as string)).toBe('');
    expect((await fetch(`${s.url}/api/smtp-credentials/${rotated.id}`, { headers: { Authorization: bearer(s.adminToken) } })).status).toBe(404);
    const mobile = JSON.parse(await sh(blocks[4] as string));
    expect(mobile).toMatchObject({ name: 'iPhone 15', platform: 'ios', deviceId: 'device-identifier', mobileconfigUrl: expect.stringContaining('/api/mobileconfig/') });
  });
});

describe('README CLI section, run as written', () => {
  it('acts only on the keys it made: the admin key still works afterwards', async () => {
    const blocks = bashBlocks('CLI');
    expect(blocks.length).toBeGreaterThanOrEqual(1);
    const env: Record<string, string> = { ...cleanCliEnv(), JMAP_KEYS_URL: s.url, JMAP_KEYS_TOKEN: s.adminToken };
    const before = await s.api(bearer(s.adminToken), [['x:ApiKey/query', {}, 'q']]);
    const { stdout } = await promisify(execFile)('bash', ['-e', '-o', 'pipefail', '-c', blocks[0] as string], { env, cwd: new URL('..', import.meta.url) });
    expect(stdout).toMatch(/^2 deleted, 0 failed$/m);
    // The last line: `npm run -s cli … --json | jq length` counted the keys left (the admin key).
    expect(stdout.trim().split('\n').at(-1)).toBe('1');
    const after = await s.api(bearer(s.adminToken), [['x:ApiKey/query', {}, 'q']]);
    expect(after.status).toBe(200);
    expect(after.body.methodResponses[0][1].ids).toEqual(before.body.methodResponses[0][1].ids);
  }, 120_000);
});

/** The test process's environment without JMAP_KEYS_* settings of its own. */
function cleanCliEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter(([k, v]) => !k.startsWith('JMAP_KEYS_') && v !== undefined)) as Record<string, string>;
}
