import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';
import type { AuthResult } from '../auth/authenticator.js';
import { rolePermissions } from '../auth/permissions.js';
import { safeEqual, type WebSession } from '../auth/web-sessions.js';
import type { Services } from '../services.js';
import { header } from './headers.js';

/** The web page's session cookie: HttpOnly, SameSite=Strict, holding the sign-in's JWT (src/auth/web-sessions.ts). */
export const SESSION_COOKIE = 'jk_session';
/** Double-submit CSRF: the session's token must come back in this header (or the form field) on every write. */
export const CSRF_HEADER = 'X-CSRF-Token';
export const CSRF_FIELD = '_csrf';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
export const isSafeMethod = (method: string) => SAFE_METHODS.has(method.toUpperCase());

/** The sign-in behind the request's session cookie, or undefined. */
export async function sessionOf(services: Services, c: Context): Promise<WebSession | undefined> {
  const token = getCookie(c, SESSION_COOKIE);
  return token ? services.webSessions.verify(token) : undefined;
}

/**
 * The one CSRF check: a state-changing request made with the session cookie carries the session's token in
 * X-CSRF-Token (scripts, the page) or, for a plain HTML form, in the `_csrf` field of its urlencoded body.
 */
export function csrfMatches(c: Context, session: WebSession, formBody?: string): boolean {
  if (isSafeMethod(c.req.method)) return true;
  const sent = header(c, 'x-csrf-token')
    ?? (formBody !== undefined ? new URLSearchParams(formBody).get(CSRF_FIELD) ?? undefined : undefined);
  return sent !== undefined && safeEqual(sent, session.csrf);
}

/**
 * Authentication by the web page's cookie, for the same JMAP and REST endpoints every client uses.
 * Undefined when the request has no session cookie (then the Authorization header decides).
 */
export async function cookieAuth(services: Services, c: Context): Promise<AuthResult | undefined> {
  if (!getCookie(c, SESSION_COOKIE)) return undefined;
  const session = await sessionOf(services, c);
  if (!session) return { ok: false, status: 401, detail: 'Your session has expired or was ended. Sign in again.', reason: 'session' };
  if (!csrfMatches(c, session)) {
    return { ok: false, status: 403, detail: `A request made with the session cookie must carry the ${CSRF_HEADER} header.`, reason: 'session' };
  }
  const permissions = rolePermissions(session.account.role);
  if (!permissions.has('authenticate')) return { ok: false, status: 403, detail: 'You do not have enough permissions to access this resource.', reason: 'no-authenticate' };
  return { ok: true, principal: { account: session.account, permissions, credential: null } };
}
