import { Hono, type Context, type MiddlewareHandler } from 'hono';
import * as v from 'valibot';
import { addressBucket, RateLimit } from '../../auth/throttle.js';
import { accountAddress, mailAddress, mailUsername } from '../../auth/identity.js';
import { normalizeMask } from '../../auth/ipmask.js';
import type { AccountRow } from '../../db/store.js';
import { requestActor } from '../../audit/record.js';
import { AppPasswords, toRestKey } from '../../credentials/app-passwords.js';
import { LIMITS } from '../../credentials/contract.js';
import { MAX_ALLOWED_IPS } from '../../credentials/validate.js';
import { MAX_GRACE_SECONDS } from '../../credentials/rotate.js';
import { parseUtcDate } from '../../util/utcdate.js';
import { MOBILE_SCOPES, PLATFORMS, SCOPES } from '../../credentials/scopes.js';
import type { Services } from '../../services.js';
import { isCleanLabel, labelProblem } from '../../util/text.js';
import { requireAuth, type AppEnv } from '../auth-middleware.js';
import { readBody } from '../body.js';
import { restError } from './errors.js';
import { OneTimeLinks } from '../../credentials/one-time-links.js';
import { autoconfigXml, mobileconfig, settingsPage } from './onboarding.js';

/** A one-line label: printable text only (src/util/text.ts). */
const label = (field: string) => v.check((s: string) => isCleanLabel(s), (issue: v.CheckIssue<string>) => `${field} ${labelProblem(issue.input) ?? 'is invalid'}`);
const Name = v.pipe(v.string('name must be a string'), v.trim(), v.minLength(1, 'name is required'), v.maxLength(LIMITS.restNameMax, `name must be ${LIMITS.restNameMax} characters or less`), label('name'));
const CreateBody = v.strictObject({
  name: Name,
  scopes: v.pipe(
    v.array(v.picklist(SCOPES, `scopes must be among: ${SCOPES.join(', ')}`), 'scopes must be an array'),
    v.minLength(1, 'scopes must not be empty'),
  ),
  expiresAt: v.optional(v.nullable(v.pipe(
    v.string('expiresAt must be a UTCDate string or null'),
    v.check((d) => parseUtcDate(d) !== undefined, 'expiresAt must be a UTCDate such as 2027-01-01T00:00:00Z (UTC, seconds, a Z at the end)'),
    v.transform((d) => parseUtcDate(d) as number),
  ))),
  allowedIps: v.optional(v.pipe(
    v.array(v.pipe(
      v.string('allowedIps must hold strings'),
      v.check((m) => normalizeMask(m) !== undefined, 'allowedIps must hold IP addresses or CIDR masks (prefix 8 or more)'),
      v.transform((m) => normalizeMask(m) as string),
    ), 'allowedIps must be an array'),
    v.maxLength(MAX_ALLOWED_IPS, `allowedIps holds at most ${MAX_ALLOWED_IPS} masks`),
  )),
});
/** POST …/rotate: an optional body; without one (or without graceSeconds) the old secret is revoked at once. */
const RotateBody = v.strictObject({
  graceSeconds: v.optional(v.pipe(
    v.number('graceSeconds must be a number of seconds'),
    v.safeInteger('graceSeconds must be a whole number of seconds'),
    v.minValue(0, `graceSeconds must be from 0 to ${MAX_GRACE_SECONDS}`),
    v.maxValue(MAX_GRACE_SECONDS, `graceSeconds must be from 0 to ${MAX_GRACE_SECONDS} (7 days)`),
  ), 0),
});
const MobileBody = v.strictObject({
  name: Name,
  platform: v.picklist(PLATFORMS, `platform must be one of: ${PLATFORMS.join(', ')}`),
  deviceId: v.pipe(v.string('deviceId must be a string'), v.trim(), v.minLength(1, 'deviceId is required'), v.maxLength(LIMITS.deviceIdMax, `deviceId must be ${LIMITS.deviceIdMax} characters or less`), label('deviceId')),
});

/** REST bodies are capped at this many bytes (413 past it, before the rest is read). */
export const MAX_REST_BODY = 8 * 1024;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

const PROFILE_LINK_TTL_SECONDS = 10 * 60;
/** Platforms that install an Apple configuration profile. */
const APPLE = new Set(['ios', 'macos']);
/** Where the one-time .mobileconfig links of POST /api/smtp-credentials/mobile point (the QR code's content). */
export const PROFILE_PATH = '/api/mobileconfig/';

/** The REST face of app passwords: /api/smtp-credentials as README.md documents it. */
export function smtpCredentialRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { config } = services;
  const passwords = new AppPasswords(services.store, services.hasher, config.maxAppPasswordsPerAccount);
  const profiles = new OneTimeLinks<{ username: string; email: string; name: string; password: string; platform: string; scopes: string[] }>(
    services.store, services.serverKey, PROFILE_LINK_TTL_SECONDS);
  const windowMs = config.rest.windowSeconds * 1000;
  const reads = new RateLimit(services.store, 'rest:r', config.rest.readsPerWindow, windowMs);
  const writes = new RateLimit(services.store, 'rest:w', config.rest.writesPerWindow, windowMs);
  const connectionInfo = () => config.mail;
  /** The settings a mail client needs for this account: the servers and a user name that logs in. */
  const accountConnection = (account: AccountRow) => ({ ...config.mail, username: mailUsername(account), email: accountAddress(account) });

  const auth = requireAuth(services, 'rest', (c, status, detail) =>
    restError(c, status, status === 401 ? 'unauthorized' : status === 403 ? 'forbidden' : 'rate_limited', detail));

  /** Stricter limits here: per account and per client address, reads and writes counted apart. */
  const limited = (kind: 'read' | 'write') => async (c: Context<AppEnv>, next: () => Promise<void>) => {
    const limit = kind === 'read' ? reads : writes;
    const wait = await limit.take([`a:${c.get('principal').account.id}`, `ip:${addressBucket(c.get('clientIp'), config.authIpv6Prefix)}`]);
    if (wait > 0) {
      services.metrics.throttled.inc({ limit: `rest-${kind}` });
      c.header('Retry-After', String(wait));
      return restError(c, 429, 'rate_limited', `Too many ${kind}s; try again in ${wait} s`);
    }
    await next();
  };

  const need = (c: Context<AppEnv>, ...perms: string[]) => perms.every((p) => c.get('principal').permissions.has(p));
  const denied = (c: Context) => restError(c, 403, 'forbidden', 'This credential may not manage app passwords');

  /** The body checked against `schema`; an empty body counts as `{}` when `optional`. */
  async function body<S extends v.GenericSchema>(c: Context, schema: S, optional = false): Promise<{ ok: true; value: v.InferOutput<S> } | { ok: false; res: Response }> {
    // Capped before it is read any further: a key's JSON is a few hundred bytes.
    const bytes = await readBody(c, MAX_REST_BODY);
    if (!bytes) return { ok: false, res: restError(c, 413, 'too_large', `The body is larger than ${MAX_REST_BODY} bytes`) };
    if (optional && bytes.byteLength === 0) return { ok: true, value: v.parse(schema, {}) };
    let text: string;
    try {
      text = strictUtf8.decode(bytes);
    } catch {
      return { ok: false, res: restError(c, 400, 'invalid_utf8', 'The body is not valid UTF-8') };
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return { ok: false, res: restError(c, 400, 'invalid_json', 'The body must be a JSON object') };
    }
    const parsed = v.safeParse(schema, raw);
    if (parsed.success) return { ok: true, value: parsed.output };
    const issue = parsed.issues[0];
    const path = issue ? v.getDotPath(issue) : null;
    // A missing field is reported by strictObject too (input undefined): that is "required", not "unknown".
    if ((issue?.type === 'strict_object' && issue.input !== undefined) || (issue?.type === 'object' && path === null)) {
      const field = issue.type === 'strict_object' ? path ?? '' : '';
      return { ok: false, res: restError(c, 400, 'invalid_request', field ? `Unknown field ${field.slice(0, 50)}` : 'The body must be a JSON object', field ? { field: field.slice(0, 50) } : {}) };
    }
    const field = (path ?? '').split('.')[0] ?? '';
    const message = issue?.input === undefined && issue?.type !== 'min_length' ? `${field} is required` : issue?.message ?? 'invalid';
    return { ok: false, res: restError(c, 400, 'invalid_request', message, { field }) };
  }

  const base = '/api/smtp-credentials';
  app.use(`${base}`, auth);
  app.use(`${base}/*`, auth);

  app.get(base, limited('read'), async (c) => {
    if (!need(c, 'sysAppPasswordGet')) return denied(c);
    return c.json({ connectionInfo: accountConnection(c.get('principal').account), keys: await passwords.list(c.get('principal')) });
  });

  app.post(base, limited('write'), async (c) => {
    if (!need(c, 'sysAppPasswordCreate')) return denied(c);
    const parsed = await body(c, CreateBody);
    if (!parsed.ok) return parsed.res;
    const made = await passwords.create(c.get('principal'), requestActor(c.get('request')), parsed.value);
    if ('error' in made) return restError(c, made.status, made.error, made.message);
    return c.json({ ...made.key, apiKey: made.token }, 201);
  });

  // POST /mobile is routed as POST /:keyId (no other POST has that shape): a static segment beside /:keyId with
  // /:keyId/rotate below it pushes Hono from its RegExpRouter to the slower TrieRouter for every request.
  const onlyMobile: MiddlewareHandler<AppEnv> = async (c, next) => (c.req.param('keyId') === 'mobile' ? next() : c.notFound());
  app.post(`${base}/:keyId`, onlyMobile, limited('write'), async (c) => {
    if (!need(c, 'sysAppPasswordCreate')) return denied(c);
    const parsed = await body(c, MobileBody);
    if (!parsed.ok) return parsed.res;
    const { name, platform, deviceId } = parsed.value;
    const made = await passwords.create(c.get('principal'), requestActor(c.get('request')), { name, scopes: MOBILE_SCOPES, platform, deviceId });
    if ('error' in made) return restError(c, made.status, made.error, made.message);
    const { account } = c.get('principal');
    const link = await profiles.add({ username: mailUsername(account), email: mailAddress(account, config.mail.imap.serverName), name, password: made.token, platform, scopes: made.key.scopes });
    const setupUrl = `${config.publicUrl}${PROFILE_PATH}${link}`;
    // Apple devices install a profile; the others get a page of settings to type in (same one-time link).
    return c.json({ ...made.key, apiKey: made.token, setupUrl, ...(APPLE.has(platform) ? { mobileconfigUrl: setupUrl } : {}) }, 201);
  });

  // The one-time link is the capability: no other auth, single use, minutes long. It lives outside the
  // authenticated tree (and a static segment beside /:keyId would push Hono off its RegExpRouter).
  // Hono answers HEAD with the GET handler: a HEAD (a link preview, a mail scanner) only looks, it never uses
  // the link up; only a GET that serves the profile does. Any node serves it (the sealed profile is in the store).
  app.get(`${PROFILE_PATH}:token`, async (c) => {
    const token = c.req.param('token');
    const head = c.req.method === 'HEAD';
    const profile = head ? await profiles.peek(token) : await profiles.take(token);
    if (!profile) return restError(c, 404, 'not_found', 'This profile link was used already or has expired');
    c.header('Cache-Control', 'no-store');
    if (!APPLE.has(profile.platform)) {
      c.header('Referrer-Policy', 'no-referrer');
      // A page that holds a password: nothing loads, nothing runs, nothing frames it.
      c.header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'");
      return c.body(head ? '' : settingsPage(connectionInfo(), profile), 200, { 'Content-Type': 'text/html; charset=utf-8' });
    }
    c.header('Content-Disposition', 'attachment; filename="mail.mobileconfig"');
    return c.body(head ? '' : mobileconfig(connectionInfo(), profile), 200, { 'Content-Type': 'application/x-apple-aspen-config' });
  });

  const notFound = (c: Context) => restError(c, 404, 'not_found', 'No such key');

  app.get(`${base}/:keyId`, limited('read'), async (c) => {
    if (!need(c, 'sysAppPasswordGet')) return denied(c);
    const row = await passwords.find(c.get('principal'), c.req.param('keyId') ?? '');
    return row ? c.json(toRestKey(row, c.get('principal').account)) : notFound(c);
  });

  app.delete(`${base}/:keyId`, limited('write'), async (c) => {
    if (!need(c, 'sysAppPasswordDestroy')) return denied(c);
    const row = await passwords.find(c.get('principal'), c.req.param('keyId') ?? '');
    if (!row) return notFound(c);
    const revoked = await passwords.revoke(c.get('principal'), requestActor(c.get('request')), row);
    if (typeof revoked !== 'boolean') return restError(c, revoked.status, revoked.error, revoked.message);
    if (!revoked) return notFound(c);
    return c.body(null, 204);
  });

  app.post(`${base}/:keyId/rotate`, limited('write'), async (c) => {
    if (!need(c, 'sysAppPasswordCreate', 'sysAppPasswordDestroy')) return denied(c);
    const row = await passwords.find(c.get('principal'), c.req.param('keyId') ?? '');
    if (!row) return notFound(c);
    const parsed = await body(c, RotateBody, true);
    if (!parsed.ok) return parsed.res;
    const made = await passwords.rotate(c.get('principal'), requestActor(c.get('request')), row, parsed.value.graceSeconds);
    if ('error' in made) return restError(c, made.status, made.error, made.message);
    return c.json({ ...made.key, apiKey: made.token, previousId: made.previousId, previousExpiresAt: made.previousExpiresAt }, 200);
  });

  // Thunderbird autoconfig: public by design, names servers only, never a secret.
  const autoconfig = (c: Context) => {
    const email = c.req.query('emailaddress');
    const domain = email?.includes('@') ? email.slice(email.lastIndexOf('@') + 1) : new URL(config.publicUrl).hostname;
    return c.body(autoconfigXml(connectionInfo(), domain.slice(0, 253)), 200, { 'Content-Type': 'application/xml; charset=utf-8' });
  };
  app.get('/.well-known/autoconfig/mail/config-v1.1.xml', autoconfig);
  app.get('/mail/config-v1.1.xml', autoconfig);
  return app;
}
