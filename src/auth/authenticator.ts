import { createHmac, hash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AccountRow, CredentialRow, Store, UseService } from '../db/store.js';
import { nowSeconds } from '../util/utcdate.js';
import { accountForName, namesAccount } from './identity.js';
import { ipAllowed } from './ipmask.js';
import type { LastUsedRecorder } from './last-used.js';
import { UNKNOWN_LOGIN_HASH, verifyPassword } from './passwords.js';
import { effectivePermissions, rolePermissions } from './permissions.js';
import type { FailureThrottle } from './throttle.js';
import { parseToken, tokenShape, type TokenHasher, type TokenKind } from './tokens.js';

/** Who a request acts as, once authenticated. */
export interface Principal {
  account: AccountRow;
  /** Effective permissions: the account's, narrowed by the credential used. */
  permissions: ReadonlySet<string>;
  /** The credential used, or null for the account password. */
  credential: CredentialRow | null;
}

/**
 * Why an authentication was refused: for logs and metrics only; the HTTP answers stay generic.
 * `unknown` covers destroyed credentials too (nothing of them is left to tell the two apart).
 */
export type AuthReason =
  | 'missing' | 'malformed' | 'unknown' | 'bad-secret' | 'bad-password' | 'expired' | 'ip-not-allowed'
  | 'no-authenticate' | 'scope' | 'wrong-user' | 'throttled' | 'session';
export type AuthFailure = { status: 401 | 403 | 429; detail: string; reason: AuthReason; retryAfter?: number };
export type AuthResult = { ok: true; principal: Principal } | ({ ok: false } & AuthFailure);

/** Whether a verified credential may be used for this purpose (checked before its use is recorded). */
export type Usable = (credential: CredentialRow, permissions: ReadonlySet<string>) => boolean;


/** Refusals where no valid secret was shown: what a guesser produces, counted by the throttle. */
const GUESSES: ReadonlySet<AuthReason> = new Set(['malformed', 'unknown', 'bad-secret']);
const throttled = (retryAfter: number): AuthResult =>
  ({ ok: false, status: 429, detail: 'Too many failed authentication attempts.', reason: 'throttled', retryAfter });

const UNAUTHORIZED_DETAIL = 'You have to authenticate first.';
const FORBIDDEN_DETAIL = 'You do not have enough permissions to access this resource.';
const refuse = (status: 401 | 403, reason: AuthReason): { ok: false } & AuthFailure =>
  ({ ok: false, status, detail: status === 401 ? UNAUTHORIZED_DETAIL : FORBIDDEN_DETAIL, reason });
const PASSWORD_CACHE_MS = 60_000;
const PASSWORD_CACHE_MAX = 10_000;
const VERIFIED_MAX = 10_000;

/** What a successful token check read from the store, reusable while the store's version holds. */
interface Verified {
  version: number;
  credential: CredentialRow;
  account: AccountRow;
  permissions: ReadonlySet<string>;
  /**
   * SHA-256 of the token once it has matched the stored HMAC: the next presentations are compared with this
   * in constant time (a plain hash is a third of the HMAC's cost; 160+ random bits need no key against guessing).
   * Memory only; the database keeps the keyed hash alone.
   */
  seen?: Buffer;
}

/** Checks a credential on every use: existence, secret, expiry, allowed IPs, and the authenticate right. */
export class Authenticator {
  /** Recently verified account passwords, keyed by an HMAC of login:password, so Basic auth avoids scrypt on every call. */
  private readonly passwordCache = new Map<string, { account: AccountRow; version: number; until: number }>();
  /** Password checks under way, by the same key: joined by identical requests that arrive meanwhile. */
  private readonly passwordChecks = new Map<string, { version: number; check: Promise<AccountRow | undefined> }>();
  private readonly cacheKey = randomBytes(32);
  /**
   * Rows of recently verified credentials by locator. An entry is used only under the store version it was read
   * at, so any revocation, edit, expiry change or account change (from this process or another) is seen by the
   * next request; the secret, expiry and IP mask are still checked on every use.
   */
  private readonly verified = new Map<string, Verified>();
  /** How many sign-ins with an unknown login ran the decoy password check (observable by tests). */
  unknownLoginChecks = 0;
  /** How many password checks ran (requests that joined one under way are not counted; observable by tests). */
  passwordChecksRun = 0;

  constructor(
    private readonly store: Store,
    private readonly hasher: TokenHasher,
    private readonly throttle: FailureThrottle,
    private readonly lastUsed: LastUsedRecorder,
    /** Told of every successful credential use (the new-address notifications); must return at once. */
    private readonly onUse?: (credential: CredentialRow, account: AccountRow, clientIp: string | undefined) => void,
  ) {}

  /**
   * Authenticates an HTTP Authorization header from `clientIp`. `usable` decides which credentials may be used
   * here, whether they come as Bearer or inside Basic (default: API keys, and app passwords with an API scope).
   * Failures are throttled so that they cannot be turned against others: a valid token is never refused by the
   * throttle, and account-password failures are counted per (address, login). A credential's success is recorded
   * as a use of `service` from `clientIp`.
   */
  async authenticate(header: string | undefined, clientIp: string | undefined, service: UseService, usable: Usable): Promise<AuthResult> {
    if (!header) return refuse(401, 'missing');
    const space = header.indexOf(' ');
    const scheme = header.slice(0, Math.max(0, space)).toLowerCase();
    const value = header.slice(space + 1).trim();
    if (scheme === 'bearer') return this.tokenAttempt(value, clientIp, ['apiKey', 'appPassword'], service, usable);
    if (scheme === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) return this.guessed(refuse(401, 'malformed'), clientIp);
      const login = decoded.slice(0, colon);
      const password = decoded.slice(colon + 1);
      // Shaped as an app password (a failing checksum included): refused as a token, never tried as a password.
      if (tokenShape(password) === 'appPassword') {
        const result = await this.tokenAttempt(password, clientIp, ['appPassword'], service, usable);
        if (result.ok && !namesAccount(result.principal.account, login)) return refuse(401, 'wrong-user');
        return result;
      }
      return this.passwordAttempt(login, password, clientIp);
    }
    return this.guessed(refuse(401, 'malformed'), clientIp);
  }

  /** A token: checked first, so a valid one is never refused by the throttle; failed guesses count per address. */
  private async tokenAttempt(token: string, clientIp: string | undefined, kinds: readonly TokenKind[], service: UseService, usable: Usable): Promise<AuthResult> {
    const result = await this.verifyToken(token, clientIp, kinds, service, usable);
    return result.ok ? result : this.guessed(result, clientIp);
  }

  /** A refusal of something that may be a guess (no valid secret shown): 429 past the limit, else counted. */
  private async guessed(result: AuthResult, clientIp: string | undefined): Promise<AuthResult> {
    if (result.ok || !GUESSES.has(result.reason)) return result;
    const blocked = await this.throttle.tokenBlockedFor(clientIp);
    if (blocked > 0) return throttled(blocked);
    await this.throttle.recordTokenFailure(clientIp);
    return result;
  }

  /** Login and account password, throttled per (address, login): other logins from the address are unaffected. */
  private async passwordAttempt(login: string, password: string, clientIp: string | undefined): Promise<AuthResult> {
    const blocked = await this.throttle.passwordBlockedFor(clientIp, login);
    if (blocked > 0) return throttled(blocked);
    const result = await this.verifyPassword(login, password);
    if (!result.ok && result.reason === 'bad-password') await this.throttle.recordPasswordFailure(clientIp, login);
    return result;
  }

  /** A login name with its account password. */
  private async verifyPassword(login: string, password: string): Promise<AuthResult> {
    const account = await this.passwordAccount(login, password);
    if (!account) return refuse(401, 'bad-password');
    const permissions = rolePermissions(account.role);
    if (!permissions.has('authenticate')) return refuse(403, 'no-authenticate');
    return { ok: true, principal: { account, permissions, credential: null } };
  }

  /**
   * The account whose password this is, or undefined. A verified pair is remembered for a minute (keyed by an HMAC
   * under a key that lives in memory only, so the map holds nothing that can be tried offline): while the store
   * version holds, the account row is reused; after any change it is read again and the password is only trusted
   * if the stored hash is still the one it was checked against.
   */
  private async passwordAccount(login: string, password: string): Promise<AccountRow | undefined> {
    const key = createHmac('sha256', this.cacheKey).update(`${login}\0${password}`).digest('base64');
    const version = this.store.version();
    const now = Date.now();
    const cached = this.passwordCache.get(key);
    if (cached && cached.until > now && cached.version === version) return cached.account;
    // Requests that arrive together with the same pair (a client's connection pool) share one check: each scrypt
    // holds 16 MB, and the memory the C library keeps from four at once stayed in the process (bench/README.md).
    // Only one started under the same store version: a request that follows a password change checks afresh.
    const pending = this.passwordChecks.get(key);
    if (pending?.version === version) return pending.check;
    const check = this.checkPassword(key, login, password, version, now).finally(() => {
      if (this.passwordChecks.get(key)?.check === check) this.passwordChecks.delete(key);
    });
    this.passwordChecks.set(key, { version, check });
    return check;
  }

  private async checkPassword(key: string, login: string, password: string, version: number, now: number): Promise<AccountRow | undefined> {
    this.passwordChecksRun++;
    const cached = this.passwordCache.get(key);
    const account = await accountForName(this.store, login);
    if (!account) {
      // The same scrypt work as for a known login, so the answer's timing does not tell which logins exist.
      this.unknownLoginChecks++;
      await verifyPassword(password, UNKNOWN_LOGIN_HASH);
      return undefined;
    }
    const known = cached && cached.until > now && cached.account.id === account.id && cached.account.passwordHash === account.passwordHash;
    if (!known && !(await verifyPassword(password, account.passwordHash))) return undefined;
    if (this.passwordCache.size >= PASSWORD_CACHE_MAX) this.passwordCache.clear();
    // Under the version the row was read at (not the one after scrypt's await, which may be newer). A fresh scrypt
    // check starts a new minute; a re-read under a new version keeps the old deadline.
    this.passwordCache.set(key, { account, version, until: known ? cached.until : now + PASSWORD_CACHE_MS });
    return account;
  }

  /**
   * Verifies a credential token of one of `kinds` (and `usable` for this caller); expiry, IP mask and
   * `authenticate` are enforced here, and a success is recorded as a use of `service` from `clientIp`. A token whose
   * checksum fails is refused as malformed before any lookup.
   */
  async verifyToken(token: string, clientIp: string | undefined, kinds: readonly TokenKind[], service: UseService | null, usable: Usable = () => true): Promise<AuthResult> {
    const parsed = parseToken(token);
    if (!parsed || !kinds.includes(parsed.kind)) return refuse(401, 'malformed');
    const entry = await this.lookup(parsed.locator);
    if (!entry) return refuse(401, 'unknown');
    const { credential, account, permissions } = entry;
    if (credential.kind !== parsed.kind || !this.secretMatches(entry, token)) return refuse(401, 'bad-secret');
    const now = nowSeconds();
    if (credential.expiresAt !== null && credential.expiresAt <= now) return refuse(401, 'expired');
    if (!ipAllowed(credential.allowedIps, clientIp)) return refuse(403, 'ip-not-allowed');
    if (!permissions.has('authenticate')) return refuse(403, 'no-authenticate');
    if (!usable(credential, permissions)) return refuse(401, 'scope');
    this.lastUsed.record(credential.id, { at: now, from: clientIp ?? null, service }, credential);
    this.onUse?.(credential, account, clientIp);
    return { ok: true, principal: { account, permissions, credential } };
  }

  private secretMatches(entry: Verified, token: string): boolean {
    if (entry.seen) return timingSafeEqual(hash('sha256', token, 'buffer'), entry.seen);
    if (!this.hasher.matches(token, entry.credential.secretHash)) return false;
    entry.seen = hash('sha256', token, 'buffer');
    return true;
  }

  /** The credential with this locator, its account and effective permissions: cached, or read and cached. */
  private async lookup(locator: string): Promise<Verified | undefined> {
    const version = this.store.version();
    const cached = this.verified.get(locator);
    if (cached?.version === version) return cached;
    const credential = await this.store.credentialByLocator(locator);
    const account = credential && await this.store.accountById(credential.accountId);
    if (!credential || !account) {
      this.verified.delete(locator);
      return undefined;
    }
    const permissions = effectivePermissions(rolePermissions(account.role), credential.permissionsMode, credential.permissions);
    const entry: Verified = { version, credential, account, permissions };
    if (this.verified.size >= VERIFIED_MAX) this.verified.clear();
    this.verified.set(locator, entry);
    return entry;
  }
}
