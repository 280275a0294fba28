import type { Context, MiddlewareHandler } from 'hono';
import type { Principal, Usable } from '../auth/authenticator.js';
import type { UseService } from '../db/store.js';
import { allowsApi, effectiveScopes } from '../credentials/scopes.js';
import type { Services } from '../services.js';
import { cookieAuth } from './session-cookie.js';
import { clientIp } from './client-ip.js';
import { header as requestHeader } from './headers.js';
import { problem } from './problem.js';
import { noteAuth, type RequestEnv } from '../request-context.js';

/** App passwords are mail passwords; on the HTTP APIs (as Bearer or inside Basic) they need an API scope. */
export const apiUsable: Usable = (c, permissions) => c.kind === 'apiKey' || allowsApi(effectiveScopes(c, permissions));

export interface AppEnv {
  Variables: RequestEnv['Variables'] & { principal: Principal; clientIp: string | undefined };
}

export type AuthErrorRenderer = (c: Context, status: 401 | 403 | 429, detail: string) => Response;

const asProblem: AuthErrorRenderer = (c, status, detail) => problem(c, status, detail);

/**
 * Requires Bearer (API key, or app password with an API scope) or Basic (login:password or login:app password)
 * on every route it guards; without an Authorization header, the web page's session cookie (and its CSRF header
 * on writes). `render` shapes the error body (problem+json for JMAP, `{error, message}` for REST); a credential's
 * success is recorded as a use of `service`.
 */
export function requireAuth(services: Services, service: UseService, render: AuthErrorRenderer = asProblem): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const ip = clientIp(c, services.config.trustedProxies);
    const header = requestHeader(c, 'authorization');
    // The web page's session cookie (src/web/session.ts), only when no Authorization header is sent.
    const byCookie = header === undefined ? await cookieAuth(services, c) : undefined;
    const result = byCookie ?? await services.authenticator.authenticate(header, ip, service, apiUsable);
    noteAuth(c.get('request'), result, ip);
    if (!result.ok) {
      if (result.status === 401) {
        c.header('WWW-Authenticate', 'Bearer realm="jmap-keys"');
        // No Basic challenge to the web page: the browser would pop up its own login box.
        if (!byCookie) c.header('WWW-Authenticate', 'Basic realm="jmap-keys", charset="UTF-8"', { append: true });
      }
      if (result.retryAfter !== undefined) c.header('Retry-After', String(result.retryAfter));
      return render(c, result.status, result.detail);
    }
    c.set('principal', result.principal);
    c.set('clientIp', ip);
    await next();
  };
}
