import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isPlainObject, type Invocation, type JsonObject, type JsonValue } from '../jmap/types.js';
import { ConnectionError, ServerError, UsageError } from './errors.js';

/**
 * A small JMAP client over fetch: reads the Session first (apiUrl and limits), then POSTs method calls.
 * Like stalwart-cli it sends no accountId, so it always acts on the authenticated account.
 */
export const USING = ['urn:ietf:params:jmap:core', 'urn:stalwart:jmap'];
const CORE = 'urn:ietf:params:jmap:core';
const DEFAULT_LIMIT = 500;
const TIMEOUT_MS = 30_000;
const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

export type Auth =
  | { scheme: 'bearer'; token: string }
  | { scheme: 'basic'; user: string; password: string };

export interface Limits {
  maxObjectsInGet: number;
  maxObjectsInSet: number;
}

export interface ConnectOptions {
  url: string;
  auth: Auth;
}

/** The base URL, checked and with a trailing slash so relative paths keep any prefix. */
export function parseBaseUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--url ${url}: not an absolute URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new UsageError(`--url ${url}: must be http or https`);
  if (!parsed.pathname.endsWith('/')) parsed.pathname += '/';
  parsed.search = '';
  parsed.hash = '';
  return parsed;
}

function authHeader(auth: Auth): string {
  if (auth.scheme === 'bearer') return `Bearer ${auth.token}`;
  return `Basic ${Buffer.from(`${auth.user}:${auth.password}`, 'utf8').toString('base64')}`;
}

/** A network failure in plain words: "cannot reach http://127.0.0.1:1/ (ECONNREFUSED)". */
function networkError(url: URL, err: unknown): ConnectionError {
  const code = err instanceof Error ? (err as NodeJS.ErrnoException).code : undefined;
  const why = code === 'ETIMEDOUT' && err instanceof Error ? err.message : code ?? (err instanceof Error ? err.message : String(err));
  return new ConnectionError(`cannot reach ${url.origin}/ (${why})`);
}

const positiveInt = (v: JsonValue | undefined, fallback: number) =>
  (typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : fallback);

export class JmapClient {
  private constructor(
    readonly apiUrl: URL,
    readonly limits: Limits,
    readonly username: string,
    private readonly authorization: string,
  ) {}

  /** Reads the Session at `<url>/jmap/session`; the API is then called at its apiUrl path on the same origin. */
  static async connect(options: ConnectOptions): Promise<JmapClient> {
    const base = parseBaseUrl(options.url);
    const authorization = authHeader(options.auth);
    const session = await send(new URL('jmap/session', base), 'GET', { Authorization: authorization, Accept: 'application/json' });
    if (!isPlainObject(session) || typeof session.apiUrl !== 'string' || !isPlainObject(session.capabilities)) {
      throw new ConnectionError(`${base.href} did not return a JMAP session`);
    }
    let apiUrl: URL;
    try {
      // The path, on the origin the user gave: the server's public URL may not be reachable from here.
      apiUrl = new URL(new URL(session.apiUrl, base).pathname, base);
    } catch {
      throw new ConnectionError(`${base.href} returned a session with a bad apiUrl`);
    }
    const core = session.capabilities[CORE];
    const limits: Limits = {
      maxObjectsInGet: positiveInt(isPlainObject(core) ? core.maxObjectsInGet : undefined, DEFAULT_LIMIT),
      maxObjectsInSet: positiveInt(isPlainObject(core) ? core.maxObjectsInSet : undefined, DEFAULT_LIMIT),
    };
    return new JmapClient(apiUrl, limits, typeof session.username === 'string' ? session.username : '', authorization);
  }

  /** One JMAP request; the method responses in order (method errors included, as ["error", …]). */
  async request(methodCalls: Invocation[]): Promise<Invocation[]> {
    const body = await send(this.apiUrl, 'POST', { Authorization: this.authorization, 'Content-Type': 'application/json', Accept: 'application/json' },
      JSON.stringify({ using: USING, methodCalls }));
    if (!isPlainObject(body) || !Array.isArray(body.methodResponses)) throw new ConnectionError(`${this.apiUrl.href} did not return a JMAP response`);
    return body.methodResponses.map((r) => {
      if (!Array.isArray(r) || r.length !== 3 || typeof r[0] !== 'string' || !isPlainObject(r[1]) || typeof r[2] !== 'string') {
        throw new ConnectionError(`${this.apiUrl.href} returned a malformed method response`);
      }
      return r as Invocation;
    });
  }

  /** One method call; its arguments, or a ServerError for a method error. */
  async call(method: string, args: JsonObject): Promise<JsonObject> {
    const [response] = await this.request([[method, args, 'c0']]);
    if (!response) throw new ConnectionError(`${this.apiUrl.href} returned no method response`);
    return expectResponse(response, method);
  }
}

/** The arguments of a method response, or a ServerError when it is ["error", {type, description}]. */
export function expectResponse(response: Invocation, method: string): JsonObject {
  const [name, args] = response;
  if (name === 'error') {
    throw new ServerError(typeof args.type === 'string' ? args.type : 'serverFail', typeof args.description === 'string' ? args.description : undefined);
  }
  if (name !== method) throw new ServerError('serverFail', `expected a ${method} response, got ${name}`);
  return args;
}

interface HttpResult {
  status: number;
  statusText: string;
  text: string;
}

/**
 * One HTTP exchange with node:http(s) rather than fetch: fetch refuses the WHATWG "bad ports" (1, 25, 587, 4190, …)
 * outright, and the connection error codes (ECONNREFUSED, ENOTFOUND) come through plainly.
 */
function exchange(url: URL, method: string, headers: Record<string, string>, body?: string): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { method, headers: body === undefined ? headers : { ...headers, 'Content-Length': String(Buffer.byteLength(body)) }, timeout: TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) {
          req.destroy(new Error(`response larger than ${MAX_RESPONSE_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`timed out after ${TIMEOUT_MS / 1000} s`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(body);
  });
}

/** An HTTP call whose answer must be JSON; HTTP errors (problem+json) become typed errors. */
async function send(url: URL, method: string, headers: Record<string, string>, body?: string): Promise<JsonValue> {
  let res: HttpResult;
  try {
    res = await exchange(url, method, headers, body);
  } catch (err) {
    throw networkError(url, err);
  }
  let parsed: JsonValue | undefined;
  try {
    parsed = res.text === '' ? undefined : (JSON.parse(res.text) as JsonValue);
  } catch {
    parsed = undefined;
  }
  if (res.status >= 200 && res.status < 300) {
    if (parsed === undefined) throw new ConnectionError(`${url.href} did not answer with JSON (HTTP ${res.status}); is it a jmap-keys server?`);
    return parsed;
  }
  if (res.status >= 300 && res.status < 400) throw new ConnectionError(`${url.href} redirects (HTTP ${res.status}); give the final address with --url`);
  throw httpError(url, res.status, res.statusText, parsed);
}

function httpError(url: URL, status: number, statusText: string, body: JsonValue | undefined): Error {
  const problem = isPlainObject(body) ? body : {};
  const detail = typeof problem.detail === 'string' ? problem.detail : typeof problem.title === 'string' ? problem.title : statusText;
  const rawType = typeof problem.type === 'string' ? problem.type : 'about:blank';
  const type = rawType === 'about:blank' ? `HTTP ${status}` : rawType.replace(/^urn:ietf:params:jmap:error:/, '');
  if (status === 401 || status === 403 || status === 429) {
    const what = status === 401 ? 'authentication failed' : status === 403 ? 'forbidden' : 'too many failed attempts';
    return new ConnectionError(`${what}: ${detail} (HTTP ${status} from ${url.origin})`);
  }
  if (status === 404 && rawType === 'about:blank') return new ConnectionError(`${url.href}: not found (HTTP 404); is it a jmap-keys server?`);
  return new ServerError(type, detail);
}
