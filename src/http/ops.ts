import { HTTPException } from 'hono/http-exception';
import { randomUUID } from 'node:crypto';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { allowsApi } from '../credentials/scopes.js';
import { StoreUnavailableError } from '../db/errors.js';
import { errorFields } from '../log.js';
import type { Services } from '../services.js';
import { encodeId } from '../util/ids.js';
import type { AppEnv } from './auth-middleware.js';
import { clientIp } from './client-ip.js';
import { header, setResponseHeader } from './headers.js';
import { problem } from './problem.js';
import { faceOf, noteAuth, type RequestEnv, type RequestInfo } from '../request-context.js';

/** A client's X-Request-Id is kept when it is short and plain; otherwise one is made. */
export const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * One JSON log line and the metrics of every request. The line names the route pattern, never the raw path (a
 * one-time profile link holds its secret in the path), and never a header value.
 */
export function observe(services: Services): MiddlewareHandler<RequestEnv> {
  const { log, metrics, config } = services;
  // The request line holds fields this function chooses (route patterns, ids, reason names), never a header or a
  // body; the logger's redaction pass (a second line of defence for other lines) cost ~7 µs of every request.
  const requestLog = log.child({}, { redact: [] });
  return async (c, next) => {
    const started = performance.now();
    const given = header(c, 'x-request-id');
    const path = c.req.path;
    const info: RequestInfo = {
      id: given && REQUEST_ID.test(given) ? given : randomUUID(),
      face: faceOf(path),
      clientIp: clientIp(c, config.trustedProxies),
      fields: {},
    };
    setResponseHeader(c, 'X-Request-Id', info.id);
    // Once draining for shutdown, every answer closes its connection so keep-alive clients move on.
    if (services.draining) c.header('Connection', 'close');
    c.set('request', info);
    await next();
    const status = c.res.status;
    const pattern = routePath(c, -1);
    const route = status === 404 && pattern.endsWith('*') ? 'unmatched' : pattern;
    const seconds = (performance.now() - started) / 1000;
    metrics.request(c.req.method, route, status, seconds);
    if (info.auth) {
      metrics.authOutcome(info.auth.ok ? 'ok' : info.auth.reason);
      if (!info.auth.ok && info.auth.reason === 'throttled') metrics.throttled.inc({ limit: 'auth' });
    }
    const line: Record<string, string | number | boolean | null> = {
      reqId: info.id, method: c.req.method, route, status, ms: Math.round(seconds * 10_000) / 10, clientIp: info.clientIp ?? null,
      accountId: info.accountId === undefined ? null : encodeId(info.accountId), login: info.login ?? null,
      credentialId: info.credentialId == null ? null : encodeId(info.credentialId),
    };
    // Added in place, not spread: two spreads per request cost more than the fields they add (usually none).
    if (info.auth && !info.auth.ok) line.authRefused = info.auth.reason;
    for (const key in info.fields) line[key] = info.fields[key] as string | number | boolean | null;
    if (status >= 500) requestLog.warn(line, 'request');
    // Load balancers probe every few seconds: those lines only at debug.
    else if (route === '/healthz' || route === '/readyz') requestLog.debug(line, 'request');
    else requestLog.info(line, 'request');
  };
}

/** Maps a store that cannot work right now to 503 problem+json (logged and counted); anything else to a plain 500. */
export function onError(services: Services) {
  return (err: Error, c: Context<AppEnv>): Response => {
    const info = c.get('request') as RequestInfo | undefined;
    if (err instanceof StoreUnavailableError) {
      services.metrics.storeErrors.inc({ reason: err.reason });
      services.log.error({ reqId: info?.id, ...errorFields(err), storeFailure: err.reason }, 'store unavailable');
      c.header('Retry-After', '30');
      return problem(c, 503, 'The service cannot complete this request right now; nothing was changed. Try again later.');
    }
    // Hono's own refusals (a body over a limit is HTTPException 413) keep their status; only the unexpected is 500.
    if (err instanceof HTTPException && err.status < 500) {
      return problem(c, err.status, err.status === 413 ? 'The request body is too large.' : err.message || 'The request was refused.');
    }
    services.log.error({ reqId: info?.id, ...errorFields(err) }, 'internal error');
    return problem(c, 500, 'An unexpected error occurred.');
  };
}

/** /healthz (the process answers), /readyz (bootstrapped and the store answers) and /metrics (internal scope or admin). */
export function opsRoutes(services: Services): Hono<RequestEnv> {
  const app = new Hono<RequestEnv>();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    if (services.draining) return c.json({ status: 'draining' }, 503);
    try {
      if (await services.store.countAccounts() === 0) return c.json({ status: 'not bootstrapped' }, 503);
    } catch (err) {
      services.log.warn(errorFields(err), 'readiness check: the store does not answer');
      return c.json({ status: 'store unavailable' }, 503);
    }
    return c.json({ status: 'ready' });
  });
  app.get('/metrics', async (c) => {
    const ip = clientIp(c, services.config.trustedProxies);
    // An API key, an app password with an API or the internal scope, or an account password.
    const result = await services.authenticator.authenticate(header(c, 'authorization'), ip, 'rest',
      (cred) => cred.kind === 'apiKey' || allowsApi(cred.scopes) || cred.scopes?.includes('internal') === true);
    noteAuth(c.get('request'), result, ip);
    if (!result.ok) {
      if (result.status === 401) c.header('WWW-Authenticate', 'Bearer realm="jmap-keys metrics"');
      if (result.retryAfter !== undefined) c.header('Retry-After', String(result.retryAfter));
      return problem(c, result.status, result.detail);
    }
    const { account, credential } = result.principal;
    const internal = credential?.scopes?.includes('internal') === true;
    if (account.role !== 'admin' && !internal) return problem(c, 403, 'Metrics need a credential with the internal scope or an admin account.');
    const body = await services.metrics.registry.metrics();
    return c.body(body, 200, { 'Content-Type': services.metrics.registry.contentType, 'Cache-Control': 'no-store' });
  });
  return app;
}
