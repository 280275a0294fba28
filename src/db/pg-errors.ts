/**
 * Which node-postgres errors mean "the database is unavailable" (a reason outside the request: down, restarting,
 * out of resources, read-only, busy) rather than a fault of the request or of our SQL.
 */

/** SQLSTATE classes and codes: connection exceptions (08), operator intervention such as admin shutdown or
 * statement timeout (57), insufficient resources such as disk full or too many connections (53), system I/O errors
 * (58), read-only transaction (25006, a standby), lock not available (55P03), serialization failure and deadlock
 * (40001, 40P01: asked again once before they surface). */
const UNAVAILABLE_CLASSES = ['08', '53', '57', '58'];
const UNAVAILABLE_CODES = new Set(['25006', '55P03', '40001', '40P01']);
/** Socket errors node reports while connecting or talking to the server. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ENOENT']);
/** node-postgres's own errors for a connection that is gone or could not be had (they carry no code). */
const CLIENT_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|not queryable|Query read timeout|Client was closed/i;

function codeOf(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/** drizzle wraps the driver's error ("Failed query: ...") and keeps it as `cause`. */
function causeOf(err: unknown): unknown {
  return err instanceof Error ? err.cause : undefined;
}

export function pgErrorIsUnavailable(err: unknown, depth = 0): boolean {
  if (depth < 4 && causeOf(err) !== undefined && pgErrorIsUnavailable(causeOf(err), depth + 1)) return true;
  const code = codeOf(err);
  if (code !== undefined) {
    if (/^[0-9A-Z]{5}$/.test(code)) return UNAVAILABLE_CODES.has(code) || UNAVAILABLE_CLASSES.includes(code.slice(0, 2));
    return SOCKET_CODES.has(code);
  }
  // AggregateError: each address of a host name refused.
  if (err instanceof AggregateError) return err.errors.some((e) => pgErrorIsUnavailable(e, depth + 1));
  return err instanceof Error && CLIENT_MESSAGES.test(err.message);
}

/** PostgreSQL rolled the transaction back for a conflict with another one: asking again may well succeed. */
export function pgErrorIsRetryable(err: unknown, depth = 0): boolean {
  const code = codeOf(err);
  if (code === '40001' || code === '40P01') return true;
  return depth < 4 && causeOf(err) !== undefined && pgErrorIsRetryable(causeOf(err), depth + 1);
}
