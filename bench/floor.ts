/**
 * The floor of an authenticated Core/echo: bare Hono with the Node body plus only the per-request work the product
 * requires of every request, each piece done by the server's own code (bench/latency-tax.ts `--floor`). A baseline
 * with these pieces answers at the best ratio the server could reach while doing them; whatever the server costs
 * beyond it is its JMAP machinery, routing and middleware.
 *
 * BENCH_BASELINE_FLOOR is a comma list of pieces (cumulative in the order given):
 * - log: a request id (the client's or a random UUID, echoed as X-Request-Id) and the request's JSON log line,
 *   through src/log.ts with the server's settings (4 KB batches), to BENCH_BASELINE_LOG (default /dev/null);
 * - metrics: the request counter and latency histogram and the auth-outcome counter (prom-client, the server's labels);
 * - auth: the Bearer token's shape and checksum (src/auth/tokens.ts), the cached credential by locator, the SHA-256
 *   compare in constant time, expiry and IP mask (src/auth/ipmask.ts): the server's cached path, no database;
 * - envelope: the JMAP request parsed and validated (src/jmap/envelope.ts: I-JSON walk, valibot schema).
 */
import { hash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { destination } from 'pino';
import { Counter, Histogram, Registry } from 'prom-client';
import { ipAllowed } from '../src/auth/ipmask.js';
import { parseToken } from '../src/auth/tokens.js';
import { parseRequest } from '../src/jmap/envelope.js';
import { createLogger } from '../src/log.js';

export type FloorPiece = 'log' | 'metrics' | 'auth' | 'envelope';
const PIECES: readonly FloorPiece[] = ['log', 'metrics', 'auth', 'envelope'];

export function floorPieces(list = process.env.BENCH_BASELINE_FLOOR ?? ''): Set<FloorPiece> {
  const pieces = list.split(',').map((p) => p.trim()).filter(Boolean);
  for (const p of pieces) if (!PIECES.includes(p as FloorPiece)) throw new Error(`unknown floor piece ${p} (known: ${PIECES.join(', ')})`);
  return new Set(pieces as FloorPiece[]);
}

interface Cached { kind: string; seen: Buffer; expiresAt: number | null; allowedIps: string[] }

/** The per-request work of `pieces` around one answer; `respond` builds the answer from the parsed body's size. */
export function createFloor(pieces: Set<FloorPiece>) {
  const log = pieces.has('log')
    ? createLogger('info', 'json', destination({ dest: process.env.BENCH_BASELINE_LOG ?? '/dev/null', sync: false, minLength: 4096 })).child({}, { redact: [] })
    : undefined;
  const registry = new Registry();
  const requests = new Counter({ name: 'requests', help: 'h', labelNames: ['method', 'route', 'status'], registers: [registry] });
  const latency = new Histogram({ name: 'latency', help: 'h', labelNames: ['method', 'route'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry] });
  const auth = new Counter({ name: 'auth', help: 'h', labelNames: ['outcome', 'reason'], registers: [registry] });
  // The verified-credential cache as the server holds it after the first request of each token.
  const verified = new Map<string, Cached>();

  /** 401 when the token does not verify; the body's member count otherwise. */
  function handle(incoming: IncomingMessage, outgoing: ServerResponse, body: Buffer): { status: number; members: number } {
    const started = performance.now();
    const given = incoming.headers['x-request-id'];
    const id = typeof given === 'string' && /^[A-Za-z0-9._:-]{1,64}$/.test(given) ? given : randomUUID();
    if (log) outgoing.setHeader('X-Request-Id', id);
    let status = 200;
    let members = 0;
    let reason = 'ok';
    if (pieces.has('auth')) reason = verify(incoming.headers.authorization, incoming.socket.remoteAddress);
    if (reason !== 'ok') status = 401;
    else if (pieces.has('envelope')) members = parseRequest(body, incoming.headers['content-type']).methodCalls.length;
    else members = Object.keys(JSON.parse(body.toString('utf8')) as object).length;
    const seconds = (performance.now() - started) / 1000;
    if (pieces.has('metrics')) {
      requests.inc({ method: 'POST', route: '/api', status: String(status) });
      latency.observe({ method: 'POST', route: '/api' }, seconds);
      if (pieces.has('auth')) auth.inc({ outcome: reason === 'ok' ? 'ok' : 'refused', reason });
    }
    log?.info({ reqId: id, method: 'POST', route: '/api', status, ms: Math.round(seconds * 10_000) / 10, clientIp: incoming.socket.remoteAddress ?? null,
      accountId: 'a1', login: 'admin', credentialId: 'k1' }, 'request');
    return { status, members };
  }

  function verify(header: string | undefined, clientIp: string | undefined): string {
    if (!header?.startsWith('Bearer ')) return 'missing';
    const token = header.slice(7).trim();
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
