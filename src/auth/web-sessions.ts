import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import type { AccountRow, StoreOps } from '../db/store.js';

/**
 * Web page sign-ins: a short-lived HS256 JWT (carried in a cookie by src/http/session-cookie.ts) naming a sign-in
 * row of the store. The double-submit CSRF token is a claim of the JWT.
 */
/** How long one JWT is good for; the page renews it while in use. */
export const SESSION_TTL_SECONDS = 20 * 60;
/** A sign-in is renewed at most this long; then the password is asked again. */
export const SESSION_MAX_SECONDS = 8 * 60 * 60;

const ISSUER = 'jmap-keys';
const AUDIENCE = 'jmap-keys/web';

export interface WebSession {
  account: AccountRow;
  /** The sign-in this cookie belongs to (a row of the store's web_sessions); kept by every refresh. */
  sid: string;
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
 * Issues and checks web sessions. The signing key is derived from the server secret; each sign-in is a row in
 * the store, so sign-out and password changes end it (and every cookie refreshed from it) before its expiry,
 * across restarts and across processes sharing the database.
 */
export class WebSessions {
  private readonly key: Uint8Array;

  constructor(private readonly store: StoreOps, serverKey: Buffer) {
    this.key = createHmac('sha256', serverKey).update('jmap-keys web-session v1').digest();
  }

  /** Binds a session to the account's current password: changing it ends every session. */
  private fingerprint(account: AccountRow): string {
    return createHmac('sha256', this.key).update(`${account.id}\0${account.passwordHash}`).digest('base64url').slice(0, 22);
  }

  /** A new sign-in (recorded in the store), or a renewed cookie for an existing one (`renew`). */
  async issue(account: AccountRow, renew?: { sid: string; csrf: string; authTime: number }): Promise<IssuedSession> {
    const now = nowSeconds();
    const authTime = renew?.authTime ?? now;
    const csrf = renew?.csrf ?? random(24);
    const sid = renew?.sid ?? random(18);
    if (!renew) await this.store.createWebSession({ id: sid, accountId: account.id, authTime, expiresAt: authTime + SESSION_MAX_SECONDS });
    const expiresAt = Math.min(now + SESSION_TTL_SECONDS, authTime + SESSION_MAX_SECONDS);
    const token = await new SignJWT({ csrf, sid, pwf: this.fingerprint(account), auth_time: authTime })
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
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.key, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'], requiredClaims: ['exp', 'jti', 'sub'] }));
    } catch {
      return undefined;
    }
    const { csrf, sid, pwf, auth_time: authTime, jti, exp, sub } = payload;
    if (typeof csrf !== 'string' || typeof sid !== 'string' || typeof pwf !== 'string' || typeof authTime !== 'number' || !jti || !exp || !sub) return undefined;
    const now = nowSeconds();
    if (authTime + SESSION_MAX_SECONDS < now) return undefined;
    // The sign-in must still exist in the store: sign-out (from any process, before any restart) deletes it.
    const signIn = await this.store.webSession(sid, now);
    const account = /^\d+$/.test(sub) ? await this.store.accountById(Number(sub)) : undefined;
    if (!signIn || !account || signIn.accountId !== account.id || !safeEqual(pwf, this.fingerprint(account))) return undefined;
    return { account, sid, csrf, jti, exp, authTime };
  }

  /** Sign-out: the sign-in ends in the store, so every cookie issued for it stops working at once, everywhere. */
  async revoke(session: Pick<WebSession, 'sid'>): Promise<void> {
    await this.store.endWebSession(session.sid);
  }
}

/** Constant-time string comparison (CSRF tokens, password fingerprints). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
