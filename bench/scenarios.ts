/**
 * The benchmark scenarios, one row each, in the order they run: /set last, because it grows the dataset. A scenario builds the request sequence autocannon cycles through
 * (several variants, so lookups do not always hit the same rows) and checks one answer before load is applied:
 * a 200 JMAP response can still carry a method error, which would make the numbers meaningless.
 *
 * A scenario whose route answers 404 (or 405) is shown as "n/a (not implemented)": the REST list and the
 * verification endpoint light up in the table as soon as the routes exist, without changes here.
 */
import type { Request } from 'autocannon';
import type { Dataset } from './dataset.js';

export const USING = ['urn:ietf:params:jmap:core', 'urn:stalwart:jmap'];
/** Keys created per /set call. */
export const SET_BATCH = 500;
const VARIANTS = 16;

export interface Scenario {
  name: string;
  /** What the scenario measures (for the README and --list). */
  measures: string;
  requests(d: Dataset): Request[];
  /** Checks one response body; returns what is wrong, or undefined when it is a success. */
  check(body: string): string | undefined;
  /** Checked on every response under load (counted as mismatches); only where it is cheap next to the call. */
  verifyBody?: (body: string) => boolean;
  /** Records created per successful call (for created keys/s). */
  createsPerCall?: number;
  /**
   * The per-request work the product requires of these requests, as bench/floor.ts pieces: the bench measures that
   * floor beside the server (its ratio to bare Hono is the best the server could reach, round 7).
   */
  floor?: string;
}

const REQUIRED = 'log,metrics,auth,envelope';

export const bearer = (token: string) => `Bearer ${token}`;
export const basic = (login: string, password: string) => `Basic ${Buffer.from(`${login}:${password}`).toString('base64')}`;

const utc = (seconds: number) => new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

function jmap(auth: string, calls: unknown[]): Request {
  return {
    method: 'POST',
    path: '/api',
    headers: { 'content-type': 'application/json', authorization: auth },
    body: JSON.stringify({ using: USING, methodCalls: calls }),
  };
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function parse(body: string): Json | undefined {
  try {
    return JSON.parse(body) as Json;
  } catch {
    return undefined;
  }
}

/** The first method response's [name, args], or an error text. */
function firstResponse(body: string, method: string): { args: { [k: string]: Json } } | { error: string } {
  const parsed = parse(body);
  const responses = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed.methodResponses : undefined;
  const first = Array.isArray(responses) ? responses[0] : undefined;
  if (!Array.isArray(first)) return { error: `not a JMAP response: ${body.slice(0, 200)}` };
  const [name, args] = first;
  if (name !== method || !args || typeof args !== 'object' || Array.isArray(args)) return { error: `expected ${method}, got ${JSON.stringify(first).slice(0, 300)}` };
  return { args };
}

const count = (v: Json | undefined) => (v && typeof v === 'object' ? Object.keys(v).length : 0);

/** Both /get scenarios: one x:ApiKey/get answer with exactly one record. */
function checkOneRecord(body: string): string | undefined {
  const r = firstResponse(body, 'x:ApiKey/get');
  if ('error' in r) return r.error;
  return Array.isArray(r.args.list) && r.args.list.length === 1 ? undefined : `expected one record: ${body.slice(0, 300)}`;
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'Core/echo',
    measures: 'the whole request path around a method that does nothing: routing, body limit, Bearer auth (token row by locator, HMAC compare, account row), envelope validation, session state, JSON out',
    requests: (d) => Array.from({ length: VARIANTS }, (_, i) =>
      jmap(bearer(d.apiTokens[i % d.apiTokens.length] as string), [['Core/echo', { hello: 'world', n: i }, 'c0']])),
    check(body) {
      const r = firstResponse(body, 'Core/echo');
      return 'error' in r ? r.error : undefined;
    },
    floor: REQUIRED,
  },
  {
    name: 'x:ApiKey/get (Bearer)',
    measures: 'Bearer auth, then /get of one key by id (state + one primary-key read); ids spread over the whole table',
    requests: (d) => Array.from({ length: VARIANTS }, (_, i) =>
      jmap(bearer(d.apiTokens[i % d.apiTokens.length] as string), [['x:ApiKey/get', { ids: [d.sampleIds[i % d.sampleIds.length]] }, 'c0']])),
    check: checkOneRecord,
    floor: `${REQUIRED},read`,
  },
  {
    name: 'x:ApiKey/get (Basic)',
    measures: 'the same /get with Basic admin:password (scrypt once, then the 60 s verified-password cache)',
    requests: (d) => Array.from({ length: VARIANTS }, (_, i) =>
      jmap(basic(d.adminLogin, d.adminPassword), [['x:ApiKey/get', { ids: [d.sampleIds[i % d.sampleIds.length]] }, 'c0']])),
    check: checkOneRecord,
  },
  {
    name: 'x:ApiKey/query',
    measures: 'Bearer auth, then /query with an expiresAt range (30-day windows spread over the 2-year spread), sort by expiresAt, limit 50',
    requests: (d) => Array.from({ length: VARIANTS }, (_, i) => {
      const from = d.expiresFrom + Math.floor(((d.expiresTo - d.expiresFrom - 30 * 86_400) * i) / VARIANTS);
      return jmap(bearer(d.apiTokens[i % d.apiTokens.length] as string), [['x:ApiKey/query', {
        filter: { expiresAtIsGreaterThanOrEqual: utc(from), expiresAtIsLessThan: utc(from + 30 * 86_400) },
        sort: [{ property: 'expiresAt' }],
        limit: 50,
      }, 'c0']]);
    }),
    check(body) {
      const r = firstResponse(body, 'x:ApiKey/query');
      if ('error' in r) return r.error;
      const ids = r.args.ids;
      return Array.isArray(ids) && ids.length > 0 ? undefined : `expected ids: ${body.slice(0, 300)}`;
    },
    floor: `${REQUIRED},read`,
  },
  {
    name: 'REST list',
    measures: 'GET /api/smtp-credentials with a Bearer API key: connection info and the account\'s app passwords (20 stored)',
    requests: (d) => Array.from({ length: VARIANTS }, (_, i) => ({
      method: 'GET',
      path: '/api/smtp-credentials',
      headers: { authorization: bearer(d.apiTokens[i % d.apiTokens.length] as string) },
    })),
    check(body) {
      const parsed = parse(body);
      const keys = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed.keys : undefined;
      return Array.isArray(keys) ? undefined : `expected a keys list: ${body.slice(0, 300)}`;
    },
  },
  {
    name: 'verification (introspect)',
    measures: 'POST /internal/introspect (RFC 7662 form body token=rm_…), asked with Basic admin:<internal-scope app password> as Dovecot does',
    requests: (d) => Array.from({ length: VARIANTS }, (_, i) => ({
      method: 'POST',
      path: '/internal/introspect',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(d.adminLogin, d.internalToken) },
      body: new URLSearchParams({ token: d.appPasswordTokens[i % d.appPasswordTokens.length] as string }).toString(),
    })),
    check(body) {
      const parsed = parse(body);
      const active = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed.active : undefined;
      return active === true ? undefined : `expected {"active": true, …}: ${body.slice(0, 300)}`;
    },
    // Dovecot's form body: the caller's app password and the token asked about, no JMAP envelope.
    floor: 'log,metrics,auth',
  },
  {
    name: `x:ApiKey/set (${SET_BATCH} creates)`,
    measures: `/set creating ${SET_BATCH} keys per call (validation, quota, escalation check, token issue + HMAC, insert + change log); the dataset grows while it runs`,
    requests(d) {
      const create: Record<string, Json> = {};
      const expiresAt = utc(d.expiresTo);
      for (let i = 0; i < SET_BATCH; i++) {
        create[`k${i}`] = { description: `bench set ${i}`, expiresAt, permissions: { '@type': 'Inherit' }, allowedIps: [] };
      }
      return [jmap(bearer(d.apiTokens[0] as string), [['x:ApiKey/set', { create }, 'c0']])];
    },
    check(body) {
      const r = firstResponse(body, 'x:ApiKey/set');
      if ('error' in r) return r.error;
      if (r.args.notCreated !== null) return `some keys were not created: ${JSON.stringify(r.args.notCreated).slice(0, 300)}`;
      return count(r.args.created) === SET_BATCH ? undefined : `expected ${SET_BATCH} created`;
    },
    verifyBody: (body) => body.includes('"notCreated":null'),
    createsPerCall: SET_BATCH,
  },
];
