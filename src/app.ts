import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { AppEnv } from './http/auth-middleware.js';
import { introspectRoutes } from './http/introspect.js';
import { jmapRoutes } from './http/jmap-routes.js';
import { smtpCredentialRoutes } from './http/rest/smtp-credentials.js';
import { problem } from './http/problem.js';
import { StoreUnavailableError } from './db/store.js';
import type { Services } from './services.js';
import { webRoutes } from './web/routes.js';

/** The whole HTTP surface. Errors are JSON, never HTML, never a stack trace. */
export function createApp(services: Services, log: (msg: string) => void = () => {}): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.route('/', introspectRoutes(services));
  app.route('/', smtpCredentialRoutes(services));
  app.route('/', webRoutes(services));
  app.route('/', jmapRoutes(services));
  app.notFound((c) => problem(c, 404, `No route for ${c.req.method} ${new URL(c.req.url).pathname.slice(0, 100)}`));
  app.onError((err, c) => {
    if (err instanceof StoreUnavailableError) {
      log(`store unavailable on ${c.req.method} ${new URL(c.req.url).pathname}: ${err.message}`);
      c.header('Retry-After', '5');
      return problem(c, 503, 'The credential store is unavailable; nothing was changed. Try again shortly.');
    }
    // Hono's own refusals (a body over a limit is HTTPException 413) keep their status; only the unexpected is 500.
    if (err instanceof HTTPException && err.status < 500) return problem(c, err.status, err.status === 413 ? 'The request body is too large.' : err.message || 'The request was refused.');
    log(`internal error on ${c.req.method} ${new URL(c.req.url).pathname}: ${err instanceof Error ? err.name + ': ' + err.message : 'unknown'}`);
    return problem(c, 500, 'An unexpected error occurred.');
  });
  return app;
}
