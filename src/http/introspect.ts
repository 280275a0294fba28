import { Hono, type Context } from 'hono';
import type { Principal, Usable } from '../auth/authenticator.js';
import { mailUsername } from '../auth/identity.js';
import { scopesOf } from '../credentials/scopes.js';
import type { UseService } from '../db/store.js';
import type { Services } from '../services.js';
import { encodeId } from '../util/ids.js';
import { readBody } from './body.js';
import { clientIp } from './client-ip.js';
import { header } from './headers.js';
import { noteAuth, type RequestEnv, type RequestInfo } from '../request-context.js';

/** The permission each mail service needs (Dovecot's service names; Postfix says smtp). */
const SERVICE_PERMISSION: Record<string, string> = {
  imap: 'imapAuthenticate', pop3: 'pop3Authenticate', smtp: 'emailSend', submission: 'emailSend',
};
/** The service a mail login is recorded as (lastUsedService): submission is sending mail, as smtp is. */
const SERVICE_USE: Record<string, UseService> = { imap: 'imap', pop3: 'pop3', smtp: 'smtp', submission: 'smtp' };
const MAIL_PERMISSIONS = Object.values(SERVICE_PERMISSION);
const MAX_TOKEN = 512;
/** A form with a token, a client id and secret, a username: far below this. */
const MAX_BODY = 16 * 1024;
const utf8 = new TextDecoder();

const holdsInternal = (p: Principal) => p.credential?.scopes?.includes('internal') === true;

/** "1.2.3.4:993", "[2001:db8::1]:993" or a bare address → the address. */
export function remoteAddress(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const h = value.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(h);
  if (bracketed) return bracketed[1];
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3})(?::\d+)?$/.exec(h);
  if (v4) return v4[1];
  return h.includes(':') ? h : undefined;
}

/**
 * RFC 7662 token introspection for mail servers (Dovecot `passdb oauth2`, introspection_mode = post).
 * The caller proves itself with a credential holding the `internal` scope; the verdict is always 200 JSON,
 * and an inactive one says nothing but `{"active": false}`.
 */
export function introspectRoutes(services: Services): Hono<RequestEnv> {
  const app = new Hono<RequestEnv>();
  const { authenticator } = services;
  // The caller may present its internal app password as Bearer too.
  const internalBearer: Usable = (c) => c.scopes?.includes('internal') === true;

  const unauthorized = (c: Context) => {
    c.header('WWW-Authenticate', 'Basic realm="jmap-keys introspection", charset="UTF-8"');
    c.header('WWW-Authenticate', 'Bearer realm="jmap-keys introspection"', { append: true });
    return c.json({ error: 'invalid_client', error_description: 'A credential with the internal scope is required' }, 401);
  };

  app.post('/internal/introspect', async (c) => {
    const callerIp = clientIp(c, services.config.trustedProxies);
    const caller = await authenticator.authenticate(header(c, 'authorization'), callerIp, 'rest', internalBearer);
    noteAuth(c.get('request'), caller, callerIp);
    if (!caller.ok && caller.status === 429) {
      c.header('Retry-After', String(caller.retryAfter ?? 60));
      return c.json({ error: 'rate_limited', error_description: caller.detail }, 429);
    }
    if (!caller.ok || !holdsInternal(caller.principal)) return unauthorized(c);

    if (!(header(c, 'content-type') ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')) {
      return c.json({ error: 'invalid_request', error_description: 'Send application/x-www-form-urlencoded with a token field' }, 400);
    }
    const raw = await readBody(c, MAX_BODY);
    if (!raw) return c.json({ error: 'invalid_request', error_description: `The body is larger than ${MAX_BODY} bytes` }, 413);
    const form = new URLSearchParams(utf8.decode(raw));
    const token = form.get('token');
    if (!token) return c.json({ error: 'invalid_request', error_description: 'token is required' }, 400);
    c.header('Cache-Control', 'no-store');
    const service = (header(c, 'x-dovecot-auth-service') ?? header(c, 'x-dovecot-auth-protocol'))?.toLowerCase();
    // The mail client's address, as the mail server saw it (never the mail server's own).
    const mailClient = remoteAddress(header(c, 'x-dovecot-auth-remote'));
    /** The verdict with its reason goes to the log line and the metrics; the answer stays `{"active": false}`. */
    const record = (verdict: 'active' | 'inactive', reason: string, credentialId?: number) => {
      const info = c.get('request') as RequestInfo | undefined;
      if (info) {
        Object.assign(info.fields, { verdict, verdictReason: reason, service: service ?? null, mailClient: mailClient ?? null });
        if (credentialId !== undefined) info.fields.verdictCredentialId = encodeId(credentialId);
      }
      // Known service names only as labels, so a caller cannot grow the metric without bound.
      services.metrics.verdict(service && SERVICE_PERMISSION[service] ? service : service ? 'other' : 'none', verdict, reason);
    };
    const inactive = (reason: string, credentialId?: number) => {
      record('inactive', reason, credentialId);
      return c.json({ active: false });
    };
    if (token.length > MAX_TOKEN) return inactive('malformed');

    const needed = service === undefined ? undefined : SERVICE_PERMISSION[service];
    if (service !== undefined && !needed) return inactive('unknown-service');
    const usable: Usable = (_cred, perms) => (needed ? perms.has(needed) : MAIL_PERMISSIONS.some((p) => perms.has(p)));
    // Recorded as a use from the mail client, for the service Dovecot named (none named: the service stays unknown).
    const verdict = await authenticator.verifyToken(token, mailClient, ['appPassword'], service === undefined ? null : SERVICE_USE[service]!, usable);
    if (!verdict.ok) return inactive(verdict.reason);
    if (!verdict.principal.credential) return inactive('unknown');

    const { account, credential } = verdict.principal;
    const claimed = form.get('username') ?? header(c, 'x-dovecot-auth-user');
    // Dovecot (2.3) does not say which name the client sent; it compares the `username` answered with it. So
    // an account has one mail user name, its address when it has one (else its login): the name every
    // generated setting names, and the only one a caller that does send a name may ask about.
    const username = mailUsername(account);
    if (claimed && claimed.toLowerCase() !== username.toLowerCase()) return inactive('wrong-user', credential.id);
    record('active', 'ok', credential.id);
    const scopes = scopesOf(credential, account.role);
    const body: Record<string, string | number | boolean> = {
      active: true,
      username,
      scope: scopes.join(' '),
      client_id: encodeId(credential.id),
      // Dovecot's oauth2 passdb insists on "Bearer" here (RFC 6750 token type of the presented secret).
      token_type: 'Bearer',
    };
    if (credential.expiresAt !== null) body.exp = credential.expiresAt;
    return c.json(body);
  });
  return app;
}
