import { Hono, type Context } from 'hono';
import { AUDIT_CAPABILITY } from '../audit/jmap-type.js';
import { STALWART_CAPABILITY } from '../credentials/jmap-type.js';
import { restrictionsOf } from '../credentials/policy.js';
import { parseRequest } from '../jmap/envelope.js';
import { RequestError } from '../jmap/errors.js';
import { buildSession, sessionState, type SessionInput } from '../jmap/session.js';
import type { Caller } from '../jmap/types.js';
import type { Services } from '../services.js';
import { encodeId } from '../util/ids.js';
import { requireAuth, type AppEnv } from './auth-middleware.js';
import { readBody } from './body.js';
import { header } from './headers.js';
import { problem } from './problem.js';

/** The JMAP face: Session resource and API endpoint (POST /api, with /jmap as Stalwart's alias). */
export function jmapRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { jmap, config } = services;
  const auth = requireAuth(services, 'jmap');

  const sessionFor = (c: Context<AppEnv>): Omit<SessionInput, 'baseUrl' | 'apiPath'> => {
    const { account } = c.get('principal');
    const id = encodeId(account.id);
    return {
      capabilities: jmap.capabilityList(),
      accounts: [{ id, name: account.login, isPersonal: true, isReadOnly: false, accountCapabilities: { [STALWART_CAPABILITY]: {}, [AUDIT_CAPABILITY]: {} } }],
      primaryAccounts: { [STALWART_CAPABILITY]: id },
      username: account.login,
    };
  };

  // The session state only changes with what sessionFor() reads; hashing it once per account and shape keeps
  // a SHA-256 off every API request.
  const stateCache = new Map<string, string>();
  const stateFor = (c: Context<AppEnv>): string => {
    const { account } = c.get('principal');
    const key = `${account.id}\0${account.login}\0${account.role}`;
    let state = stateCache.get(key);
    if (state === undefined) {
      if (stateCache.size > 10_000) stateCache.clear();
      state = sessionState(sessionFor(c));
      stateCache.set(key, state);
    }
    return state;
  };

  const session = (c: Context<AppEnv>) => {
    c.header('Cache-Control', 'no-cache, no-store, must-revalidate');
    return c.json(buildSession({ ...sessionFor(c), baseUrl: config.publicUrl, apiPath: '/api' }));
  };
  app.get('/.well-known/jmap', auth, session);
  app.get('/jmap/session', auth, session);

  const limitError = (c: Context) => problem(c, 400, `The request is larger than maxSizeRequest (${config.limits.maxSizeRequest} bytes)`,
    'urn:ietf:params:jmap:error:limit', { limit: 'maxSizeRequest' });

  const api = async (c: Context<AppEnv>) => {
    const principal = c.get('principal');
    const caller: Caller = {
      accountId: encodeId(principal.account.id), username: principal.account.login, permissions: principal.permissions,
      restrictions: restrictionsOf(principal),
      origin: { credentialId: principal.credential?.id ?? null, clientIp: c.get('clientIp') ?? null, via: c.get('request')?.face ?? 'jmap' },
    };
    try {
      const body = await readBody(c, config.limits.maxSizeRequest);
      if (!body) return limitError(c);
      const request = parseRequest(body, header(c, 'content-type'));
      const response = await jmap.process(request, caller, stateFor(c));
      return c.json(response);
    } catch (err) {
      if (err instanceof RequestError) {
        return c.body(JSON.stringify(err.toJSON()), err.status as 400, { 'Content-Type': 'application/problem+json' });
      }
      throw err;
    }
  };
  // A declared length over the limit is refused before authentication; a chunked body is counted as it is read.
  const declaredSize = async (c: Context<AppEnv>, next: () => Promise<void>) => {
    const declared = header(c, 'content-length');
    if (declared !== undefined && Number(declared) > config.limits.maxSizeRequest) return limitError(c);
    await next();
  };
  for (const path of ['/api', '/jmap', '/jmap/']) {
    app.post(path, declaredSize, auth, api);
    app.on(['GET', 'PUT', 'PATCH', 'DELETE'], path, (c) => {
      c.header('Allow', 'POST');
      return problem(c, 405, 'The JMAP API endpoint only accepts POST');
    });
  }
  return app;
}
