import { Hono, type Context } from 'hono';
import * as v from 'valibot';
import { addressBucket, RateLimit } from '../auth/throttle.js';
import { revokeLeaked } from '../credentials/leaks.js';
import type { Services } from '../services.js';
import { encodeId } from '../util/ids.js';
import { readBody } from './body.js';
import { clientIp } from './client-ip.js';
import type { RequestEnv, RequestInfo } from '../request-context.js';
import { restError } from './rest/errors.js';

export const LEAK_REPORT_PATH = '/api/leaked-credentials';
/** Entries per report, and bytes per body: a scanner's batch is far below both (413 past the bytes). */
export const MAX_LEAK_REPORTS = 1000;
export const MAX_LEAK_BODY = 512 * 1024;

/** Printable text of at most `max` characters: it lands in the audit trail and the log. */
const Text = (field: string, max: number) => v.pipe(
  v.string(`${field} must be a string`),
  v.maxLength(max, `${field} must be ${max} characters or less`),
  // eslint-disable-next-line no-control-regex
  v.regex(/^[^\u0000-\u001f\u007f-\u009f]*$/u, `${field} must not hold control characters`),
);
/** GitHub's shape; members it may add later are ignored (v.object, not strictObject). */
const Report = v.object({
  token: v.pipe(Text('token', 512), v.minLength(1, 'token must not be empty')),
  type: v.optional(Text('type', 200), ''),
  url: v.optional(Text('url', 2048), ''),
  source: v.optional(Text('source', 200), ''),
}, 'each entry must be an object with a token');
const Reports = v.pipe(
  v.array(Report, 'The body must be a JSON array of {"token", "type", "url", "source"} objects'),
  v.maxLength(MAX_LEAK_REPORTS, `A report holds at most ${MAX_LEAK_REPORTS} entries`),
);
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * POST /api/leaked-credentials: anyone (a secret scanner such as GitHub's, a user who found a key in a paste) may
 * report tokens; every one that is a credential is revoked at once, audited (`credential.leaked`) and logged. The
 * answer is the same whatever the tokens were, so it tells nothing about which existed. Rate limited per client
 * address, counted in the store so every node counts together.
 */
export function leakReportRoutes(services: Services): Hono<RequestEnv> {
  const app = new Hono<RequestEnv>();
  const { config, log } = services;
  const limit = new RateLimit(services.store, 'leak', config.leakReportsPerWindow, config.rest.windowSeconds * 1000);

  const invalid = (c: Context, message: string, field?: string) =>
    restError(c, 400, 'invalid_request', message, field === undefined ? {} : { field });

  app.post(LEAK_REPORT_PATH, async (c) => {
    const ip = clientIp(c, config.trustedProxies);
    const wait = await limit.take([`ip:${addressBucket(ip, config.authIpv6Prefix)}`]);
    if (wait > 0) {
      services.metrics.throttled.inc({ limit: 'leak-report' });
      c.header('Retry-After', String(wait));
      return restError(c, 429, 'rate_limited', `Too many reports; try again in ${wait} s`);
    }
    const bytes = await readBody(c, MAX_LEAK_BODY);
    if (!bytes) return restError(c, 413, 'too_large', `The body is larger than ${MAX_LEAK_BODY} bytes`);
    let raw: unknown;
    try {
      raw = JSON.parse(strictUtf8.decode(bytes));
    } catch {
      return invalid(c, 'The body must be a JSON array in UTF-8');
    }
    const parsed = v.safeParse(Reports, raw);
    if (!parsed.success) {
      const issue = parsed.issues[0];
      const path = issue ? v.getDotPath(issue) : null;
      if (!issue || path === null) return invalid(c, issue?.message ?? 'invalid');
      // "0.token": entry 0, its token.
      const [entry, field] = path.split('.');
      const message = field !== undefined && issue.input === undefined ? `${field} is required` : issue.message;
      return invalid(c, `entry ${entry}: ${message}`, path);
    }

    const reports = parsed.output;
    const revoked = await revokeLeaked(services.store, services.hasher, reports, { accountId: null, credentialId: null, clientAddress: ip ?? null, via: 'leak-report' });
    const info = c.get('request') as RequestInfo | undefined;
    for (const { credential, login, report } of revoked) {
      log.warn({
        reqId: info?.id, credentialId: encodeId(credential.id), accountId: encodeId(credential.accountId), login, kind: credential.kind,
        leakUrl: report.url, leakSource: report.source,
      }, 'credential reported leaked: revoked');
    }
    if (info) Object.assign(info.fields, { leakReports: reports.length, leakRevoked: revoked.length });
    // The same answer whatever the tokens were.
    return c.json({ received: reports.length }, 202);
  });

  app.on(['GET', 'PUT', 'PATCH', 'DELETE'], LEAK_REPORT_PATH, (c) => {
    c.header('Allow', 'POST');
    return restError(c, 405, 'method_not_allowed', `${LEAK_REPORT_PATH} only accepts POST`);
  });
  return app;
}
