import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Hono, type Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { raw } from 'hono/html';
import QRCode from 'qrcode';
import { apiUsable, type AppEnv } from '../http/auth-middleware.js';
import { audit, requestActor, type Actor, type AuditInput } from '../audit/record.js';
import { StoreUnavailableError } from '../db/errors.js';
import { errorFields } from '../log.js';
import { readBody } from '../http/body.js';
import { clientIp } from '../http/client-ip.js';
import { noteAuth } from '../request-context.js';
import { PROFILE_PATH } from '../http/rest/smtp-credentials.js';
import { mailUsername } from '../auth/identity.js';
import { hashPassword } from '../auth/passwords.js';
import { revokeAll } from '../credentials/revoke-all.js';
import { rolePermissions } from '../auth/permissions.js';
import type { Services } from '../services.js';
import { AppPage, SignInPage, type SignInProps } from './pages.js';
import { safeEqual, type IssuedSession } from '../auth/web-sessions.js';
import { cookieAuth, CSRF_HEADER, csrfMatches, SESSION_COOKIE, sessionOf as cookieSession } from '../http/session-cookie.js';

/** Login-form CSRF (double submit before there is a session): a random value in a cookie and in the form. */
const LOGIN_COOKIE = 'jk_login';
const LOGIN_COOKIE_SECONDS = 30 * 60;
/** The same minimum as `jmap-keys account passwd`. */
const MIN_PASSWORD = 8;

/** No external requests, no inline script or style, no framing. */
const CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "form-action 'self'", "base-uri 'none'", "frame-ancestors 'none'",
].join('; ');

interface Asset { body: string; type: string; etag: string }

function asset(name: string, type: string): Asset {
  const body = readFileSync(new URL(`./assets/${name}`, import.meta.url), 'utf8');
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` };
}

const ASSETS = new Map<string, Asset>([
  ['app.js', asset('app.js', 'text/javascript; charset=utf-8')],
  ['app.css', asset('app.css', 'text/css; charset=utf-8')],
  ['icon.svg', asset('icon.svg', 'image/svg+xml')],
]);

const FORM = 'application/x-www-form-urlencoded';
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

const mediaType = (c: Context) => (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
const unsupported = (c: Context) =>
  c.json({ error: 'unsupported_media_type', message: `Send application/json or ${FORM}` }, 415);

/** A small body as text: 413 past `max` bytes (nothing more is read), 400 when it is not UTF-8. */
async function smallBody(c: Context, max: number): Promise<string | Response> {
  const bytes = await readBody(c, max);
  if (!bytes) return c.json({ error: 'too_large', message: `The body is larger than ${max} bytes` }, 413);
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return c.json({ error: 'invalid_utf8', message: 'The body is not valid UTF-8' }, 400);
  }
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The web page: Account › Credentials › API Keys and App Passwords, for people who would rather click than curl.
 * Server-rendered shell (hono/jsx) plus one small script that uses the public JMAP and REST APIs with the
 * session cookie; these routes only sign in and out, serve the files and draw QR codes.
 */
export function webRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const sessions = services.webSessions;
  const secure = () => services.config.publicUrl.startsWith('https:');

  const securityHeaders = (c: Context) => {
    c.header('Content-Security-Policy', CSP);
    c.header('X-Frame-Options', 'DENY');
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Referrer-Policy', 'no-referrer');
    c.header('Cache-Control', 'no-store');
  };

  const setSessionCookie = (c: Context, issued: IssuedSession) => {
    // A browser-session cookie: the JWT inside expires on its own; an expired one gets a 401 without a Basic
    // challenge, so no browser login box pops up.
    setCookie(c, SESSION_COOKIE, issued.token, { path: '/', httpOnly: true, sameSite: 'Strict', secure: secure() });
  };

  /**
   * Audit of a sign-in or sign-out. Sign-out must work even when the database cannot take the event: it then goes
   * to the log instead (warn), where it is not lost.
   */
  const auditSession = async (event: AuditInput, actor: Actor) => {
    try {
      await audit(services.store, event, actor);
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      services.metrics.storeErrors.inc({ reason: err.reason });
      services.log.warn({ ...errorFields(err), audit: { type: event.type, accountId: event.accountId } }, 'audit event not stored: store unavailable');
    }
  };

  const sessionOf = (c: Context) => cookieSession(services, c);

  const signIn = (c: Context, props: Omit<SignInProps, 'loginCsrf'>, status: 200 | 400 | 401 | 403 | 429 = 200) => {
    const loginCsrf = randomBytes(24).toString('base64url');
    setCookie(c, LOGIN_COOKIE, loginCsrf, { path: '/web/', httpOnly: true, sameSite: 'Strict', secure: secure(), maxAge: LOGIN_COOKIE_SECONDS });
    securityHeaders(c);
    return c.html(<>{raw('<!doctype html>')}<SignInPage loginCsrf={loginCsrf} {...props} /></>, status);
  };

  app.get('/', (c) => c.redirect('/web/', 302));
  app.get('/web', (c) => c.redirect('/web/', 301));

  app.get('/web/', async (c) => {
    const session = await sessionOf(c);
    if (!session) {
      if (getCookie(c, SESSION_COOKIE)) deleteCookie(c, SESSION_COOKIE, { path: '/', secure: secure() });
      const notice = c.req.query('signedout') !== undefined ? 'You are signed out.'
        : c.req.query('expired') !== undefined ? 'Your session has ended. Sign in again.' : undefined;
      return signIn(c, { notice });
    }
    const { account } = session;
    securityHeaders(c);
    return c.html(<>{raw('<!doctype html>')}<AppPage login={account.login} mailUser={mailUsername(account)} isAdmin={account.role === 'admin'} csrf={session.csrf}
      own={[...rolePermissions(account.role)]} sessionExpiresAt={session.exp} /></>);
  });

  app.post('/web/login', async (c) => {
    const type = mediaType(c);
    const json = type === 'application/json';
    if (!json && type !== FORM) return unsupported(c);
    const text = await smallBody(c, 16 * 1024);
    if (typeof text !== 'string') return text;
    let login: unknown;
    let password: unknown;
    if (json) {
      // A cross-site page cannot send JSON without a CORS preflight, which this server never grants.
      const body = parseJsonObject(text);
      if (!body) return c.json({ error: 'invalid_json', message: 'The body must be a JSON object with login and password' }, 400);
      ({ login, password } = body);
    } else {
      const form = Object.fromEntries(new URLSearchParams(text));
      ({ login, password } = form);
      const expected = getCookie(c, LOGIN_COOKIE);
      if (!expected || typeof form._csrf !== 'string' || !safeEqual(form._csrf, expected)) {
        return signIn(c, { login: typeof login === 'string' ? login : '', error: 'The sign-in form expired. Please try again.' }, 403);
      }
    }
    const fail = (status: 400 | 401 | 403 | 429, message: string) => json
      ? c.json({ error: status === 429 ? 'rate_limited' : status === 400 ? 'invalid_request' : 'unauthorized', message }, status)
      : signIn(c, { login: typeof login === 'string' ? login.slice(0, 200) : '', error: message }, status);

    if (typeof login !== 'string' || typeof password !== 'string' || !login || !password) return fail(400, 'Enter your login and password.');
    if (login.length > 200 || password.length > 1000 || login.includes(':')) return fail(401, 'Wrong login or password.');
    // Through the Authenticator's front door, so failed sign-ins count towards the same per-address throttle.
    const basic = `Basic ${Buffer.from(`${login}:${password}`).toString('base64')}`;
    const ip = clientIp(c, services.config.trustedProxies);
    const result = await services.authenticator.authenticate(basic, ip, 'rest', apiUsable);
    noteAuth(c.get('request'), result, ip);
    if (!result.ok) {
      if (result.status === 429) {
        c.header('Retry-After', String(result.retryAfter ?? 60));
        return fail(429, `Too many failed sign-ins from your address. Try again in ${result.retryAfter ?? 60} seconds.`);
      }
      return fail(result.status === 403 ? 403 : 401, result.status === 403 ? 'This account may not sign in.' : 'Wrong login or password.');
    }
    // App passwords are for mail apps: the web page wants the account password.
    if (result.principal.credential !== null) return fail(401, 'Sign in with your account password, not an app password.');
    const issued = await sessions.issue(result.principal.account);
    await auditSession({ type: 'web.signIn', accountId: result.principal.account.id, details: { login: result.principal.account.login } }, requestActor(c.get('request')));
    setSessionCookie(c, issued);
    deleteCookie(c, LOGIN_COOKIE, { path: '/web/', secure: secure() });
    if (json) return c.json({ login: result.principal.account.login, csrfToken: issued.csrf, expiresAt: new Date(issued.expiresAt * 1000).toISOString() });
    return c.redirect('/web/', 303);
  });


  app.post('/web/logout', async (c) => {
    const body = await smallBody(c, 4096);
    if (typeof body !== 'string') return body;
    const session = await sessionOf(c);
    if (session) {
      // The sign-out button is a plain form: its token comes in the body.
      if (!csrfMatches(c, session, mediaType(c) === FORM ? body : undefined)) return c.json({ error: 'forbidden', message: `Send the ${CSRF_HEADER} header` }, 403);
      await sessions.revoke(session);
      await auditSession({ type: 'web.signOut', accountId: session.account.id, details: { login: session.account.login } },
        { accountId: session.account.id, credentialId: null, clientAddress: clientIp(c, services.config.trustedProxies) ?? null, via: 'web' });
    }
    deleteCookie(c, SESSION_COOKIE, { path: '/', secure: secure() });
    return c.redirect('/web/?signedout', 303);
  });

  /**
   * Changes the signed-in account's own password. The current one is checked like a sign-in (failures count
   * toward the address's limit); every session made with the old password ends, this one gets a fresh cookie.
   */
  app.post('/web/password', async (c) => {
    c.header('Cache-Control', 'no-store');
    const text = await smallBody(c, 8 * 1024);
    if (typeof text !== 'string') return text;
    const session = await sessionOf(c);
    if (!session) return c.json({ error: 'unauthorized', message: 'Your session has ended. Sign in again.' }, 401);
    if (!csrfMatches(c, session)) return c.json({ error: 'forbidden', message: `Send the ${CSRF_HEADER} header` }, 403);
    const body = parseJsonObject(text);
    if (!body) return c.json({ error: 'invalid_json', message: 'The body must be a JSON object with currentPassword and newPassword' }, 400);
    const { currentPassword, newPassword, revokeCredentials } = body;
    if (revokeCredentials !== undefined && typeof revokeCredentials !== 'boolean') {
      return c.json({ error: 'invalid_request', message: 'revokeCredentials must be true or false.', field: 'revokeCredentials' }, 400);
    }
    if (typeof currentPassword !== 'string' || currentPassword === '') return c.json({ error: 'invalid_request', message: 'Enter your current password.', field: 'currentPassword' }, 400);
    if (typeof newPassword !== 'string' || newPassword.length < MIN_PASSWORD || newPassword.length > 1000) {
      return c.json({ error: 'invalid_request', message: `The new password needs ${MIN_PASSWORD} to 1000 characters.`, field: 'newPassword' }, 400);
    }
    if (newPassword === currentPassword) return c.json({ error: 'invalid_request', message: 'The new password is the current one.', field: 'newPassword' }, 400);
    const { account } = session;
    const basic = `Basic ${Buffer.from(`${account.login}:${currentPassword}`).toString('base64')}`;
    const checked = await services.authenticator.authenticate(basic, clientIp(c, services.config.trustedProxies), 'rest', apiUsable);
    if (!checked.ok && checked.status === 429) {
      c.header('Retry-After', String(checked.retryAfter ?? 60));
      return c.json({ error: 'rate_limited', message: `Too many failed attempts from your address. Try again in ${checked.retryAfter ?? 60} seconds.` }, 429);
    }
    // 400, not 401: a wrong current password does not end the session it is typed in.
    if (!checked.ok || checked.principal.credential !== null || checked.principal.account.id !== account.id) {
      return c.json({ error: 'invalid_request', message: 'That is not your current password.', field: 'currentPassword' }, 400);
    }
    const passwordHash = await hashPassword(newPassword);
    const actor: Actor = { accountId: account.id, credentialId: null, clientAddress: clientIp(c, services.config.trustedProxies) ?? null, via: 'web' };
    // The new password and, when asked, the end of every API key and app password: one transaction. The page's
    // cookie is no credential, so the page goes on working; `internal` ones stay unless the account is an admin.
    const revoked = await services.store.transaction(async (tx) => {
      await tx.setAccountPassword(account.id, passwordHash);
      await audit(tx, { type: 'account.passwordChanged', accountId: account.id, details: { login: account.login, revokeCredentials: revokeCredentials === true } }, actor);
      if (revokeCredentials !== true) return undefined;
      const options = { accountId: account.id, reason: 'passwordChange', internal: account.role === 'admin', spare: null, actor } as const;
      const apiKeys = await revokeAll(tx, { ...options, kind: 'apiKey' });
      const appPasswords = await revokeAll(tx, { ...options, kind: 'appPassword' });
      return { apiKeys: apiKeys.revoked.length, appPasswords: appPasswords.revoked.length, kept: apiKeys.kept.length + appPasswords.kept.length };
    });
    const updated = await services.store.accountById(account.id);
    if (!updated) return c.json({ error: 'unauthorized', message: 'Your account no longer exists.' }, 401);
    const issued = await sessions.issue(updated);
    setSessionCookie(c, issued);
    return c.json({ csrfToken: issued.csrf, expiresAt: new Date(issued.expiresAt * 1000).toISOString(), ...(revoked ? { revoked } : {}) });
  });

  /** The page renews its JWT while in use, up to the absolute limit of a sign-in. */
  app.post('/web/refresh', async (c) => {
    const session = await sessionOf(c);
    if (!session) return c.json({ error: 'unauthorized', message: 'Your session has ended. Sign in again.' }, 401);
    if (!csrfMatches(c, session)) return c.json({ error: 'forbidden', message: `Send the ${CSRF_HEADER} header` }, 403);
    const issued = await sessions.issue(session.account, { sid: session.sid, csrf: session.csrf, authTime: session.authTime });
    setSessionCookie(c, issued);
    c.header('Cache-Control', 'no-store');
    return c.json({ expiresAt: new Date(issued.expiresAt * 1000).toISOString() });
  });

  /**
   * The QR code of a mobile key's one-time profile link, drawn here so the page needs no QR library. POST, so the
   * link (a capability) never lands in a URL; only this server's profile links are drawn.
   */
  app.post('/web/qr', async (c) => {
    const auth = await cookieAuth(services, c);
    if (!auth?.ok) return c.json({ error: auth ? 'forbidden' : 'unauthorized', message: auth?.detail ?? 'Sign in first' }, auth?.status ?? 401);
    const text = await smallBody(c, 4096);
    if (typeof text !== 'string') return text;
    const body = parseJsonObject(text);
    if (!body) return c.json({ error: 'invalid_json', message: 'The body must be {"data": "<profile link>"}' }, 400);
    const { data } = body;
    const prefix = `${services.config.publicUrl}${PROFILE_PATH}`;
    if (typeof data !== 'string' || !data.startsWith(prefix) || data.length > prefix.length + 200) {
      return c.json({ error: 'invalid_request', message: 'Only this server\'s profile links are drawn as QR codes', field: 'data' }, 400);
    }
    const svg = await QRCode.toString(data, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    c.header('Cache-Control', 'no-store');
    return c.body(svg, 200, { 'Content-Type': 'image/svg+xml' });
  });

  app.get('/web/assets/:name', (c) => {
    const file = ASSETS.get(c.req.param('name'));
    if (!file) return c.json({ error: 'not_found', message: 'No such file' }, 404);
    c.header('ETag', file.etag);
    c.header('Cache-Control', 'no-cache');
    c.header('X-Content-Type-Options', 'nosniff');
    if (c.req.header('if-none-match') === file.etag) return c.body(null, 304);
    return c.body(file.body, 200, { 'Content-Type': file.type });
  });

  return app;
}
