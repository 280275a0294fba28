import { Hono } from 'hono';
import type { AppEnv } from './http/auth-middleware.js';
import { eventSourceRoutes } from './http/event-source.js';
import { introspectRoutes } from './http/introspect.js';
import { jmapRoutes } from './http/jmap-routes.js';
import { leakReportRoutes } from './http/leaked-credentials.js';
import { smtpCredentialRoutes } from './http/rest/smtp-credentials.js';
import { problem } from './http/problem.js';
import { observe, onError, opsRoutes } from './http/ops.js';
import type { Services } from './services.js';
import { webRoutes } from './web/routes.js';

/** The whole HTTP surface. Errors are JSON, never HTML, never a stack trace. */
export function createApp(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('*', observe(services));
  app.route('/', opsRoutes(services));
  app.route('/', introspectRoutes(services));
  app.route('/', leakReportRoutes(services));
  app.route('/', smtpCredentialRoutes(services));
  app.route('/', webRoutes(services));
  app.route('/', eventSourceRoutes(services, services.push));
  app.route('/', jmapRoutes(services));
  app.notFound((c) => problem(c, 404, `No route for ${c.req.method} ${new URL(c.req.url).pathname.slice(0, 100)}`));
  app.onError(onError(services));
  return app;
}
