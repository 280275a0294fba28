/**
 * The floor of an authenticated Core/echo: bare Hono with the Node body plus only the per-request work the product
 * requires of every request, each piece done by the server's own code (bench/latency-tax.ts `--floors`, and `npm run bench`). A baseline
 * with these pieces answers at the best ratio the server could reach while doing them; whatever the server costs
 * beyond it is its JMAP machinery, routing and middleware.
 *
 * BENCH_BASELINE_FLOOR is a comma list of pieces (cumulative in the order given):
 * - log: a request id (the client's or a random UUID, echoed as X-Request-Id) and the request's JSON log line,
 *   through src/log.ts with the server's settings (4 KB batches), to BENCH_BASELINE_LOG (default /dev/null);
 * - metrics: the request's counter and latency and its auth outcome, through the server's Metrics (src/http/metrics.ts);
 * - auth: the Bearer token's (or Basic app password's) shape and checksum (src/auth/tokens.ts), the cached credential
 *   by locator, the SHA-256 compare in constant time, expiry and IP mask (src/auth/ipmask.ts): the server's cached
 *   path, no database; for a form body (introspection) the caller's credential and then the token asked about;
 * - envelope: the JMAP request parsed and validated (src/jmap/envelope.ts: I-JSON walk, valibot schema);
 * - read: what the first call needs from the store, through the server's SQLite store on BENCH_BASELINE_DB
 *   (account BENCH_BASELINE_ACCOUNT, default 1): `x:ApiKey/get` reads its ids and answers them as JMAP objects
 *   (src/credentials/wire.ts), `x:ApiKey/query` reads the page of its expiresAt window sorted by expiresAt and
 *   answers the ids. No state, no permission check, no argument validation: those are the server's machinery.
 */
import { hash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { destination } from 'pino';
import { ipAllowed } from '../src/auth/ipmask.js';
import { parseToken } from '../src/auth/tokens.js';
import { credentialToWire } from '../src/credentials/wire.js';
import { openSqliteStore } from '../src/db/sqlite.js';
import { Metrics } from '../src/http/metrics.js';
import { REQUEST_ID } from '../src/http/ops.js';
import type { DateCondition, Store } from '../src/db/store.js';
import { parseRequest } from '../src/jmap/envelope.js';
import type { JsonObject, JsonValue } from '../src/jmap/types.js';
import { createLogger } from '../src/log.js';
import { decodeId, encodeId } from '../src/util/ids.js';
import { parseUtcDate } from '../src/util/utcdate.js';

export type FloorPiece = 'log' | 'metrics' | 'auth' | 'envelope' | 'read';
const PIECES: readonly FloorPiece[] = ['log', 'metrics', 'auth', 'envelope', 'read'];

export function floorPieces(list = process.env.BENCH_BASELINE_FLOOR ?? ''): Set<FloorPiece> {
  const pieces = list.split(',').map((p) => p.trim()).filter(Boolean);
  for (const p of pieces) if (!PIECES.includes(p as FloorPiece)) throw new Error(`unknown floor piece ${p} (known: ${PIECES.join(', ')})`);
  return new Set(pieces as FloorPiece[]);
}

interface Cached { kind: string; seen: Buffer; expiresAt: number | null; allowedIps: string[] }

const QUERY_BOUNDS: Record<string, DateCondition['op']> = { expiresAtIsGreaterThanOrEqual: 'gte', expiresAtIsLessThan: 'lt' };

/** The store read of the first method call, answered as that method would (see `read` above). */
async function readFor(store: Store, accountId: number, call: [string, JsonObject, string] | undefined): Promise<JsonValue> {
  if (!call) return null;
  const [name, args] = call;
  if (name === 'x:ApiKey/get') {
    const ids = (Array.isArray(args.ids) ? args.ids : []).map((id) => decodeId(String(id)) ?? -1);
    return (await store.credentials(accountId, 'apiKey', ids)).map((row) => credentialToWire(row));
  }
  if (name === 'x:ApiKey/query') {
    const filter = (args.filter ?? {}) as JsonObject;
    const conditions = Object.keys(filter).map((key) => ({ condition: { field: 'expiresAt' as const, op: QUERY_BOUNDS[key] ?? 'eq', value: parseUtcDate(String(filter[key])) ?? 0 } }));
    const ids = await store.queryPage(accountId, 'apiKey', { operator: 'AND', conditions }, [{ property: 'expiresAt', isAscending: true }], 0, Number(args.limit ?? 50));
    return ids.map(encodeId);
  }
  return null;
}

/** The per-request work of `pieces` around one answer. */
export async function createFloor(pieces: Set<FloorPiece>) {
  const log = pieces.has('log')
    ? createLogger('info', 'json', destination({ dest: process.env.BENCH_BASELINE_LOG ?? '/dev/null', sync: false, minLength: 4096 })).child({}, { redact: [] })
    : undefined;
  // The verified-credential cache as the server holds it after the first request of each token.
  const verified = new Map<string, Cached>();
  const dbFile = process.env.BENCH_BASELINE_DB;
  if (pieces.has('read') && !dbFile) throw new Error('the read piece needs BENCH_BASELINE_DB');
  const store = pieces.has('read') && dbFile ? openSqliteStore(dbFile) : undefined;
  // The server's metrics; their store is only asked at a scrape, which never comes (an in-memory one without a read).
  const metrics = pieces.has('metrics') ? new Metrics(store ?? openSqliteStore(':memory:')) : undefined;
  const accountId = Number(process.env.BENCH_BASELINE_ACCOUNT ?? 1);

  /** 401 when the token does not verify; the body's member count and the read's answer otherwise. */
  async function handle(incoming: IncomingMessage, outgoing: ServerResponse, body: Buffer): Promise<{ status: number; members: number; data: JsonValue }> {
    const started = performance.now();
    const given = incoming.headers['x-request-id'];
    const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    if (log) outgoing.setHeader('X-Request-Id', id);
    let status = 200;
    let members = 0;
    let data: JsonValue = null;
    let reason = 'ok';
    const form = incoming.headers['content-type']?.startsWith('application/x-www-form-urlencoded') === true;
    if (pieces.has('auth')) reason = verify(callerToken(incoming.headers.authorization), incoming.socket.remoteAddress);
    if (reason !== 'ok') status = 401;
    else if (form) {
      // Introspection (RFC 7662): the caller's credential, then the token asked about.
      const token = new URLSearchParams(body.toString('utf8')).get('token') ?? undefined;
      members = 1;
      if (pieces.has('auth')) data = verify(token, incoming.socket.remoteAddress) === 'ok';
    } else {
      const request = pieces.has('envelope')
        ? parseRequest(body, incoming.headers['content-type'])
        : JSON.parse(body.toString('utf8')) as { methodCalls: [string, JsonObject, string][] };
      members = request.methodCalls.length;
      if (store) data = await readFor(store, accountId, request.methodCalls[0] as [string, JsonObject, string] | undefined);
    }
    const seconds = (performance.now() - started) / 1000;
    if (metrics) {
      metrics.request('POST', '/api', status, seconds);
      if (pieces.has('auth')) metrics.authOutcome(reason);
    }
    log?.info({ reqId: id, method: 'POST', route: '/api', status, ms: Math.round(seconds * 10_000) / 10, clientIp: incoming.socket.remoteAddress ?? null,
      accountId: 'a1', login: 'admin', credentialId: 'k1' }, 'request');
    return { status, members, data };
  }

  /** The token of a Bearer header, or the app password of a Basic one (login:password). */
  function callerToken(header: string | undefined): string | undefined {
    if (header?.startsWith('Bearer ')) return header.slice(7).trim();
    if (!header?.startsWith('Basic ')) return undefined;
    const pair = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    return pair.slice(pair.indexOf(':') + 1);
  }

  function verify(token: string | undefined, clientIp: string | undefined): string {
    if (token === undefined) return 'missing';
    const parsed = parseToken(token);
    if (!parsed) return 'malformed';
    let entry = verified.get(parsed.locator);
    if (!entry) {
      entry = { kind: parsed.kind, seen: hash('sha256', token, 'buffer'), expiresAt: null, allowedIps: [] };
      verified.set(parsed.locator, entry);
    }
    if (entry.kind !== parsed.kind || !timingSafeEqual(hash('sha256', token, 'buffer'), entry.seen)) return 'bad-secret';
    if (entry.expiresAt !== null && entry.expiresAt <= Date.now() / 1000) return 'expired';
    if (!ipAllowed(entry.allowedIps, clientIp)) return 'ip-not-allowed';
    return 'ok';
  }

  return { handle };
}
