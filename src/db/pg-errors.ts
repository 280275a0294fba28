/**
 * Which node-postgres errors mean "the database is unavailable" (a reason outside the request: down, restarting,
 * out of resources, read-only, busy) rather than a fault of the request or of our SQL, and which neutral reason
 * (StoreFailure) each one is.
 */
import type { StoreFailure } from './errors.js';

/**
 * SQLSTATE codes, then classes: connection exceptions (08: could not connect → cantopen, lost → io), insufficient
 * resources (53: disk full → full, too many connections → cantopen, memory → busy), operator intervention (57:
 * statement timeout → busy, starting up or dropped → cantopen, shutdown terminating the session → io), system I/O
 * errors (58 → io), read-only transaction (25006, a standby → readonly), lock not available (55P03), serialization
 * failure and deadlock (40001, 40P01: asked again once before they surface) → busy.
 */
const CODES = new Map<string, StoreFailure>(Object.entries({
  '08001': 'cantopen', '08004': 'cantopen', '53100': 'full', '53200': 'busy', '53300': 'cantopen', '57014': 'busy',
  '57P03': 'cantopen', '57P04': 'cantopen', '25006': 'readonly', '55P03': 'busy', '40001': 'busy', '40P01': 'busy',
}));
const CLASSES = new Map<string, StoreFailure>([['08', 'io'], ['53', 'busy'], ['57', 'io'], ['58', 'io']]);
/** Socket errors node reports while connecting or talking to the server. */
const SOCKET_CODES = new Map<string, StoreFailure>(Object.entries({
  ECONNREFUSED: 'cantopen', EHOSTUNREACH: 'cantopen', ENETUNREACH: 'cantopen', ENOTFOUND: 'cantopen', EAI_AGAIN: 'cantopen',
  ENOENT: 'cantopen', ETIMEDOUT: 'cantopen', ECONNRESET: 'io', EPIPE: 'io',
}));
/** node-postgres's own errors for a connection that could not be had, or is gone (they carry no code). */
const CONNECT_MESSAGES = /timeout exceeded when trying to connect|Connection terminated due to connection timeout/i;
const LOST_MESSAGES = /Connection terminated|not queryable|Query read timeout|Client was closed/i;

function codeOf(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/** drizzle wraps the driver's error ("Failed query: ...") and keeps it as `cause`. */
function causeOf(err: unknown): unknown {
  return err instanceof Error ? err.cause : undefined;
}

/** The reason the database is unavailable, or undefined when the error is not that (a constraint, our SQL...). */
export function pgFailure(err: unknown, depth = 0): StoreFailure | undefined {
  const inner = depth < 4 && causeOf(err) !== undefined ? pgFailure(causeOf(err), depth + 1) : undefined;
  if (inner) return inner;
  const code = codeOf(err);
  if (code !== undefined) {
    if (/^[0-9A-Z]{5}$/.test(code)) return CODES.get(code) ?? CLASSES.get(code.slice(0, 2));
    return SOCKET_CODES.get(code);
  }
  // AggregateError: each address of a host name refused.
  if (err instanceof AggregateError) {
    for (const e of err.errors) {
      const reason = pgFailure(e, depth + 1);
      if (reason) return reason;
    }
    return undefined;
  }
  if (!(err instanceof Error)) return undefined;
  if (CONNECT_MESSAGES.test(err.message)) return 'cantopen';
  return LOST_MESSAGES.test(err.message) ? 'io' : undefined;
}

/** PostgreSQL rolled the transaction back for a conflict with another one: asking again may well succeed. */
export function pgErrorIsRetryable(err: unknown, depth = 0): boolean {
  const code = codeOf(err);
  if (code === '40001' || code === '40P01') return true;
  return depth < 4 && causeOf(err) !== undefined && pgErrorIsRetryable(causeOf(err), depth + 1);
}
