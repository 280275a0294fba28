import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';
import { jwtVerify, SignJWT } from 'jose';
import type { AuthResult } from '../auth/authenticator.js';
import { rolePermissions } from '../auth/permissions.js';
import type { AccountRow } from '../db/store.js';
import { loadServerSecret, type Services } from '../services.js';

/** The web page's session: a short-lived HS256 JWT in an HttpOnly, SameSite=Strict cookie. */
export const SESSION_COOKIE = 'jk_session';
/** Double-submit CSRF: the token is a claim of the session JWT and must come back in this header on writes. */
export const CSRF_HEADER = 'X-CSRF-Token';
/** How long one JWT is good for; the page renews it while in use. */
export const SESSION_TTL_SECONDS = 20 * 60;
/** A sign-in is renewed at most this long; then the password is asked again. */
export const SESSION_MAX_SECONDS = 8 * 60 * 60;

const ISSUER = 'jmap-keys';
const AUDIENCE = 'jmap-keys/web';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface WebSession {
  account: AccountRow;
  csrf: string;
  jti: string;
  /** Unix seconds: when this JWT expires, and when the password was entered. */
  exp: number;
  authTime: number;
}

export interface IssuedSession {
  token: string;
  csrf: string;
  expiresAt: number;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);
const random = (bytes: number) => randomBytes(bytes).toString('base64url');

/**
 * Issues and checks web sessions. The signing key is derived from the server secret, so sessions survive a
 * restart but die with a new secret; sign-out and password changes end a session before its expiry.
 */
export class WebSessions {
  private readonly key: Uint8Array;
  /** Signed-out JWT ids until they would have expired anyway (per process). */
  private readonly revoked = new Map<string, number>();

  constructor(private readonly services: Services) {
    this.key = createHmac('sha256', loadServerSecret(services.config)).update('jmap-keys web-session v1').digest();
  }

  /** Binds a session to the account's current password: changing it ends every session. */
  private fingerprint(account: AccountRow): string {
    return createHmac('sha256', this.key).update(`${account.id}\0${account.passwordHash}`).digest('base64url').slice(0, 22);
  }

  async issue(account: AccountRow, renew?: { csrf: string; authTime: number }): Promise<IssuedSession> {
    const now = nowSeconds();
    const authTime = renew?.authTime ?? now;
    const csrf = renew?.csrf ?? random(24);
    const expiresAt = Math.min(now + SESSION_TTL_SECONDS, authTime + SESSION_MAX_SECONDS);
    const token = await new SignJWT({ csrf, pwf: this.fingerprint(account), auth_time: authTime })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(String(account.id))
      .setJti(random(16))
      .setIssuedAt(now)
      .setExpirationTime(expiresAt)
      .sign(this.key);
    return { token, csrf, expiresAt };
  }

  /** The session behind a cookie value, or undefined when it is forged, expired, signed out or stale. */
  async verify(token: string): Promise<WebSession | undefined> {
    if (token.length > 2048) return undefined;
    try {
      const { payload } = await jwtVerify(token, this.key, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'], requiredClaims: ['exp', 'jti', 'sub'] });
      const { csrf, pwf, auth_time: authTime, jti, exp, sub } = payload;
      if (typeof csrf !== 'string' || typeof pwf !== 'string' || typeof authTime !== 'number' || !jti || !exp || !sub) return undefined;
      if (this.revoked.has(jti) || authTime + SESSION_MAX_SECONDS < nowSeconds()) return undefined;
      const account = /^\d+$/.test(sub) ? await this.services.store.accountById(Number(sub)) : undefined;
      if (!account || !safeEqual(pwf, this.fingerprint(account))) return undefined;
      return { account, csrf, jti, exp, authTime };
    } catch {
      return undefined;
    }
  }

  /** Sign-out: the JWT stops working at once, not only when it expires. */
  revoke(session: Pick<WebSession, 'jti' | 'exp'>): void {
    const now = nowSeconds();
    for (const [jti, exp] of this.revoked) if (exp < now) this.revoked.delete(jti);
    this.revoked.set(session.jti, session.exp);
  }
}

const registry = new WeakMap<Services, WebSessions>();

/** One WebSessions per Services, shared by the web routes (issue) and the API auth middleware (verify). */
export function webSessions(services: Services): WebSessions {
  let sessions = registry.get(services);
  if (!sessions) {
    sessions = new WebSessions(services);
    registry.set(services, sessions);
  }
  return sessions;
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export const isSafeMethod = (method: string) => SAFE_METHODS.has(method.toUpperCase());

/**
 * Authentication by the web page's cookie, for the same JMAP and REST endpoints every client uses.
 * Undefined when the request has no session cookie (then the Authorization header decides). A state-changing
 * request must echo the session's CSRF token in X-CSRF-Token, so another site cannot ride on the cookie.
 */
export async function cookieAuth(services: Services, c: Context): Promise<AuthResult | undefined> {
  const token = getCookie(c, SESSION_COOKIE);
  if (!token) return undefined;
  const session = await webSessions(services).verify(token);
  if (!session) return { ok: false, status: 401, detail: 'Your session has expired or was ended. Sign in again.', reason: 'session' };
  if (!isSafeMethod(c.req.method) && !safeEqual(c.req.header(CSRF_HEADER) ?? '', session.csrf)) {
    return { ok: false, status: 403, detail: `A request made with the session cookie must carry the ${CSRF_HEADER} header.`, reason: 'session' };
  }
  const permissions = rolePermissions(session.account.role);
  if (!permissions.has('authenticate')) return { ok: false, status: 403, detail: 'You do not have enough permissions to access this resource.', reason: 'no-authenticate' };
  return { ok: true, principal: { account: session.account, permissions, credential: null } };
}
