import { Hono, type Context } from 'hono';
import * as v from 'valibot';
import { RateLimit } from '../../auth/throttle.js';
import { AppPasswords, toRestKey } from '../../credentials/app-passwords.js';
import { MOBILE_SCOPES, PLATFORMS, SCOPES } from '../../credentials/scopes.js';
import type { Services } from '../../services.js';
import { requireAuth, type AppEnv } from '../auth-middleware.js';
import { restError } from './errors.js';
import { autoconfigXml, mobileconfig, OneTimeLinks } from './onboarding.js';

const Name = v.pipe(v.string('name must be a string'), v.trim(), v.minLength(1, 'name is required'), v.maxLength(100, 'name must be 100 characters or less'));
const CreateBody = v.strictObject({
  name: Name,
  scopes: v.pipe(
    v.array(v.picklist(SCOPES, `scopes must be among: ${SCOPES.join(', ')}`), 'scopes must be an array'),
    v.minLength(1, 'scopes must not be empty'),
  ),
});
const MobileBody = v.strictObject({
  name: Name,
  platform: v.picklist(PLATFORMS, `platform must be one of: ${PLATFORMS.join(', ')}`),
  deviceId: v.pipe(v.string('deviceId must be a string'), v.trim(), v.minLength(1, 'deviceId is required'), v.maxLength(200, 'deviceId must be 200 characters or less')),
});

const PROFILE_LINK_TTL_MS = 10 * 60 * 1000;
/** Where the one-time .mobileconfig links of POST /api/smtp-credentials/mobile point (the QR code's content). */
export const PROFILE_PATH = '/api/mobileconfig/';

/** The REST face of app passwords: /api/smtp-credentials as the seed page documents it. */
export function smtpCredentialRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { config } = services;
  const passwords = new AppPasswords(services.store, services.hasher, config.maxAppPasswordsPerAccount);
  const profiles = new OneTimeLinks<{ login: string; name: string; password: string }>(PROFILE_LINK_TTL_MS);
  const windowMs = config.rest.windowSeconds * 1000;
  const reads = new RateLimit(config.rest.readsPerWindow, windowMs);
  const writes = new RateLimit(config.rest.writesPerWindow, windowMs);
  const connectionInfo = () => config.mail;

  const auth = requireAuth(services, (c, status, detail) =>
    restError(c, status, status === 401 ? 'unauthorized' : status === 403 ? 'forbidden' : 'rate_limited', detail));

  /** Stricter limits here: per account and per client address, reads and writes counted apart. */
  const limited = (kind: 'read' | 'write') => async (c: Context<AppEnv>, next: () => Promise<void>) => {
    const limit = kind === 'read' ? reads : writes;
    const wait = limit.take([`a:${c.var.principal.account.id}`, `ip:${c.var.clientIp ?? 'unknown'}`]);
    if (wait > 0) {
      services.metrics.throttled.inc({ limit: `rest-${kind}` });
      c.header('Retry-After', String(wait));
      return restError(c, 429, 'rate_limited', `Too many ${kind}s; try again in ${wait} s`);
    }
    await next();
  };

  const need = (c: Context<AppEnv>, ...perms: string[]) => perms.every((p) => c.var.principal.permissions.has(p));
  const denied = (c: Context) => restError(c, 403, 'forbidden', 'This credential may not manage app passwords');

  async function body<S extends v.GenericSchema>(c: Context, schema: S): Promise<{ ok: true; value: v.InferOutput<S> } | { ok: false; res: Response }> {
    let raw: unknown;
    try {
      raw = await c.req.json();
    } catch {
      return { ok: false, res: restError(c, 400, 'invalid_json', 'The body must be a JSON object') };
    }
    const parsed = v.safeParse(schema, raw);
    if (parsed.success) return { ok: true, value: parsed.output };
    const issue = parsed.issues[0];
    const path = issue ? v.getDotPath(issue) : null;
    if (issue?.type === 'strict_object' || (issue?.type === 'object' && path === null)) {
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

  app.get(base, limited('read'), (c) => {
    if (!need(c, 'sysAppPasswordGet')) return denied(c);
    return c.json({ connectionInfo: connectionInfo(), keys: passwords.list(c.var.principal) });
  });

  app.post(base, limited('write'), async (c) => {
    if (!need(c, 'sysAppPasswordCreate')) return denied(c);
    const parsed = await body(c, CreateBody);
    if (!parsed.ok) return parsed.res;
    const made = passwords.create(c.var.principal, parsed.value);
    if ('error' in made) return restError(c, made.status, made.error, made.message);
    return c.json({ ...made.key, apiKey: made.token }, 201);
  });

  app.post(`${base}/mobile`, limited('write'), async (c) => {
    if (!need(c, 'sysAppPasswordCreate')) return denied(c);
    const parsed = await body(c, MobileBody);
    if (!parsed.ok) return parsed.res;
    const { name, platform, deviceId } = parsed.value;
    const made = passwords.create(c.var.principal, { name, scopes: MOBILE_SCOPES, platform, deviceId });
    if ('error' in made) return restError(c, made.status, made.error, made.message);
    const link = profiles.add({ login: c.var.principal.account.login, name, password: made.token });
    return c.json({ ...made.key, apiKey: made.token, mobileconfigUrl: `${config.publicUrl}${PROFILE_PATH}${link}` }, 201);
  });

  // The one-time link is the capability: no other auth, single use, minutes long. It lives outside the
  // authenticated tree (and a static segment beside /:keyId would push Hono off its RegExpRouter).
  app.get(`${PROFILE_PATH}:token`, (c) => {
    const profile = profiles.take(c.req.param('token'));
    if (!profile) return restError(c, 404, 'not_found', 'This profile link was used already or has expired');
    c.header('Content-Disposition', 'attachment; filename="mail.mobileconfig"');
    c.header('Cache-Control', 'no-store');
    return c.body(mobileconfig(connectionInfo(), profile), 200, { 'Content-Type': 'application/x-apple-aspen-config' });
  });

  const notFound = (c: Context) => restError(c, 404, 'not_found', 'No such key');

  app.get(`${base}/:keyId`, limited('read'), (c) => {
    if (!need(c, 'sysAppPasswordGet')) return denied(c);
    const row = passwords.find(c.var.principal, c.req.param('keyId') ?? '');
    return row ? c.json(toRestKey(row, c.var.principal.account)) : notFound(c);
  });

  app.delete(`${base}/:keyId`, limited('write'), (c) => {
    if (!need(c, 'sysAppPasswordDestroy')) return denied(c);
    const row = passwords.find(c.var.principal, c.req.param('keyId') ?? '');
    if (!row || !passwords.revoke(row)) return notFound(c);
    return c.body(null, 204);
  });

  app.post(`${base}/:keyId/rotate`, limited('write'), (c) => {
    if (!need(c, 'sysAppPasswordCreate', 'sysAppPasswordDestroy')) return denied(c);
    const row = passwords.find(c.var.principal, c.req.param('keyId') ?? '');
    if (!row) return notFound(c);
    const made = passwords.rotate(c.var.principal, row);
    if ('error' in made) return restError(c, made.status, made.error, made.message);
    return c.json({ ...made.key, apiKey: made.token }, 200);
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
