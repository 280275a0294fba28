import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { startServer, type RunningServer } from '../src/server.js';
import { createAccount } from './helpers/accounts.js';
import { basic, bearer, startTestServer, type TestServer } from './helpers/server.js';

/** RFC 8620 §7.3 push, read as an EventSource reads it: a fetch whose body is parsed as text/event-stream. */
let s: TestServer;
let other: RunningServer;
let accountId: string;
let aliceId: string;
const alice = basic('alice', 'alice-password');

interface SseEvent { event: string; data: any; id?: string } // eslint-disable-line @typescript-eslint/no-explicit-any

class EventStream {
  private buffer = '';
  private readonly decoder = new TextDecoder();
  private constructor(readonly response: Response, private readonly reader: ReadableStreamDefaultReader<Uint8Array>, private readonly abort: AbortController) {}

  static async open(url: string, headers: Record<string, string>): Promise<EventStream> {
    const abort = new AbortController();
    const response = await fetch(url, { headers: { Accept: 'text/event-stream', ...headers }, signal: abort.signal });
    if (!response.body) throw new Error('no body');
    return new EventStream(response, response.body.getReader(), abort);
  }

  /** The next event (comment and retry-only blocks skipped), or 'end' when the server closed the stream. */
  async next(): Promise<SseEvent | 'end'> {
    const guard = setTimeout(() => this.abort.abort(), 20_000); // a hung stream fails the test instead of the run
    try {
      for (;;) {
        const cut = this.buffer.indexOf('\n\n');
        if (cut >= 0) {
          const block = this.buffer.slice(0, cut);
          this.buffer = this.buffer.slice(cut + 2);
          const fields = new Map<string, string>();
          for (const line of block.split('\n')) {
            const colon = line.indexOf(':');
            if (colon <= 0) continue;
            fields.set(line.slice(0, colon), line.slice(colon + 1).replace(/^ /, ''));
          }
          if (!fields.has('data')) continue;
          return { event: fields.get('event') ?? 'message', data: JSON.parse(fields.get('data') as string), id: fields.get('id') };
        }
        const { done, value } = await this.reader.read();
        if (done) return 'end';
        this.buffer += this.decoder.decode(value, { stream: true });
      }
    } finally {
      clearTimeout(guard);
    }
  }

  close(): void {
    this.abort.abort();
  }
}

const eventSourceUrl = async (auth: string) => {
  const session = await (await fetch(`${s.url}/jmap/session`, { headers: { Authorization: auth } })).json() as { eventSourceUrl: string };
  return (types: string, closeafter: string, ping: string) => session.eventSourceUrl
    .replace('{types}', encodeURIComponent(types)).replace('{closeafter}', closeafter).replace('{ping}', ping);
};

/** A /set through the OTHER node; returns the new state. */
async function createElsewhere(type: 'x:ApiKey' | 'x:AppPassword', auth: string, description: string): Promise<string> {
  const res = await fetch(`${other.url}/api`, {
    method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ using: ['urn:ietf:params:jmap:core', 'urn:stalwart:jmap'], methodCalls: [[`${type}/set`, { create: { n: { description } } }, 's']] }),
  });
  const body = await res.json() as { methodResponses: [string, { newState: string; created: object }, string][] };
  expect(body.methodResponses[0]![1].created).toHaveProperty('n');
  return body.methodResponses[0]![1].newState;
}

beforeAll(async () => {
  s = await startTestServer();
  aliceId = await createAccount(s, 'alice', 'alice-password');
  other = await startServer(loadConfig({ ...s.storeEnv, JMAP_KEYS_PORT: '0', JMAP_KEYS_LAST_USED_FLUSH_MS: '50' }));
  const session = await (await fetch(`${s.url}/jmap/session`, { headers: { Authorization: bearer(s.adminToken) } })).json() as { primaryAccounts: Record<string, string> };
  accountId = session.primaryAccounts['urn:stalwart:jmap'] as string;
});
afterAll(async () => {
  await other?.close();
  await s?.stop();
});

describe('RFC 8620 push (eventSourceUrl)', () => {
  it('streams a StateChange for a create made through another node on the same store', async () => {
    const url = (await eventSourceUrl(bearer(s.adminToken)))('*', 'no', '0');
    const stream = await EventStream.open(url, { Authorization: bearer(s.adminToken) });
    try {
      expect(stream.response.status).toBe(200);
      expect(stream.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const keyState = await createElsewhere('x:ApiKey', bearer(s.adminToken), 'made on node B');
      const first = await stream.next();
      expect(first).toMatchObject({ event: 'state', data: { '@type': 'StateChange', changed: { [accountId]: { 'x:ApiKey': keyState } } } });
      // Only the type that changed is named.
      expect(Object.keys((first as SseEvent).data.changed[accountId])).toEqual(['x:ApiKey']);
      const appState = await createElsewhere('x:AppPassword', bearer(s.adminToken), 'phone via node B');
      expect(await stream.next()).toMatchObject({ event: 'state', data: { changed: { [accountId]: { 'x:AppPassword': appState } } } });
    } finally {
      stream.close();
    }
  });

  it('closes after the first state event with closeafter=state, and only for the types asked (Basic auth)', async () => {
    const url = (await eventSourceUrl(alice))('x:AppPassword', 'state', '0');
    const stream = await EventStream.open(url, { Authorization: alice });
    expect(stream.response.status).toBe(200);
    await createElsewhere('x:ApiKey', alice, 'not watched');
    const state = await createElsewhere('x:AppPassword', alice, 'watched');
    const got = await stream.next();
    expect(got).toMatchObject({ event: 'state', data: { changed: { [aliceId]: { 'x:AppPassword': state } } } });
    expect(Object.keys((got as SseEvent).data.changed[aliceId])).toEqual(['x:AppPassword']);
    expect(await stream.next()).toBe('end');
  });

  it('sends ping events with the interval in use (asked 1 s, clamped to the 5 s minimum)', async () => {
    const url = (await eventSourceUrl(alice))('*', 'no', '1');
    const stream = await EventStream.open(url, { Authorization: alice });
    try {
      expect(await stream.next()).toEqual({ event: 'ping', data: { interval: 5 }, id: undefined });
    } finally {
      stream.close();
    }
  });

  it('tells a client that reconnects with Last-Event-ID what changed meanwhile; the web page cookie authenticates', async () => {
    const login = await fetch(`${s.url}/web/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ login: 'alice', password: 'alice-password' }) });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const url = (await eventSourceUrl(alice))('*', 'state', '0');
    const first = await EventStream.open(url, { Cookie: cookie });
    expect(first.response.status).toBe(200);
    await createElsewhere('x:ApiKey', alice, 'one');
    const heard = await first.next();
    expect(heard).toMatchObject({ event: 'state' });
    expect(await first.next()).toBe('end');
    const id = (heard as SseEvent).id as string;
    expect(id).toMatch(/^[A-Za-z0-9_-]+$/);
    // Away: a change happens. Back with the last id: told at once, without waiting for another change.
    const state = await createElsewhere('x:AppPassword', alice, 'while away');
    const again = await EventStream.open(url, { Cookie: cookie, 'Last-Event-ID': id });
    expect(await again.next()).toMatchObject({ event: 'state', data: { changed: { [aliceId]: { 'x:AppPassword': state } } } });
    // A Last-Event-ID that is not ours is ignored (no event until something changes).
    const junk = await EventStream.open(url, { Cookie: cookie, 'Last-Event-ID': 'not-ours' });
    expect(junk.response.status).toBe(200);
    const later = await createElsewhere('x:ApiKey', alice, 'later');
    expect(await junk.next()).toMatchObject({ data: { changed: { [aliceId]: { 'x:ApiKey': later } } } });
  });

  it('refuses bad parameters, no credentials, and too many streams, with problem+json', async () => {
    const make = await eventSourceUrl(alice);
    const cases: [string, number, RegExp][] = [
      [make('*', 'sometimes', '0'), 400, /closeafter must be "state" or "no"/],
      [make('*', 'no', '-3'), 400, /ping must be a whole number/],
      [make('x:ApiKey,Mailbox', 'no', '0'), 400, /Unknown type Mailbox/],
      [make('x:ApiKey;drop', 'no', '0'), 400, /types must be/],
    ];
    for (const [url, status, detail] of cases) {
      const res = await fetch(url, { headers: { Authorization: alice } });
      expect(res.status, url).toBe(status);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect((await res.json() as { detail: string }).detail).toMatch(detail);
    }
    const anonymous = await fetch(make('*', 'no', '0'));
    expect(anonymous.status).toBe(401);

    const open: EventStream[] = [];
    try {
      for (let i = 0; i < 8; i++) open.push(await EventStream.open(make('*', 'no', '0'), { Authorization: alice }));
      expect(open.every((o) => o.response.status === 200)).toBe(true);
      const ninth = await fetch(make('*', 'no', '0'), { headers: { Authorization: alice } });
      expect(ninth.status).toBe(429);
      expect((await ninth.json() as { detail: string }).detail).toMatch(/At most 8 event streams per account/);
      // Another account is not held back by alice's streams.
      const admin = await EventStream.open(make('*', 'no', '0'), { Authorization: bearer(s.adminToken) });
      expect(admin.response.status).toBe(200);
      admin.close();
    } finally {
      for (const o of open) o.close();
    }
  });

  it('answers the session\'s uploadUrl and downloadUrl with problem+json: this server holds no blobs', async () => {
    const session = await (await fetch(`${s.url}/jmap/session`, { headers: { Authorization: alice } })).json() as { uploadUrl: string; downloadUrl: string };
    const upload = await fetch(session.uploadUrl.replace('{accountId}', aliceId), { method: 'POST', headers: { Authorization: alice }, body: 'x' });
    expect(upload.status).toBe(501);
    expect(upload.headers.get('content-type')).toBe('application/problem+json');
    expect(await upload.json()).toMatchObject({ status: 501, title: 'Not Implemented', detail: expect.stringMatching(/holds no blobs/) });
    const download = await fetch(session.downloadUrl.replace('{accountId}', aliceId).replace('{blobId}', 'b1').replace('{name}', 'f.txt').replace('{type}', 'text/plain'),
      { headers: { Authorization: alice } });
    expect(download.status).toBe(404);
    expect(await download.json()).toMatchObject({ status: 404, detail: expect.stringMatching(/holds no blobs/) });
  });
});

describe('README: the push example, run as written', () => {
  it('prints the next state change and ends', async () => {
    const { execFile } = await import('node:child_process');
    const { readFileSync } = await import('node:fs');
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const start = readme.indexOf('## Push: live state changes');
    const section = readme.slice(start, readme.indexOf('\n## ', start + 3));
    const block = /```bash\n([\s\S]*?)```/.exec(section)?.[1] as string;
    const env = { ...process.env as Record<string, string>, TOKEN: s.adminToken, JMAP_KEYS_URL: s.url };
    await expect.poll(() => s.services.push.size).toBe(0); // the earlier tests' streams are gone
    const done = new Promise<string>((resolve, reject) => {
      execFile('bash', ['-c', block], { env }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    });
    // The stream is open once the server has counted it; then a change is made elsewhere.
    await expect.poll(() => s.services.push.size).toBeGreaterThan(0);
    const state = await createElsewhere('x:ApiKey', bearer(s.adminToken), 'from the README');
    const out = await done;
    expect(out).toMatch(/^retry: 3000\n\nevent: state\nid: [A-Za-z0-9_-]+\ndata: /);
    expect(JSON.parse(/data: (.*)/.exec(out)?.[1] as string)).toEqual({ '@type': 'StateChange', changed: { [accountId]: { 'x:ApiKey': state } } });
  });
});
