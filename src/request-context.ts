import type { AuthReason, AuthResult } from './auth/authenticator.js';

/** The face a request came through; audit events record it as `via`. */
export type Face = 'jmap' | 'rest' | 'web' | 'introspect' | 'ops' | 'other';

/**
 * What one request has learned about itself, for its log line, its audit events and its metrics. It travels
 * explicitly (Hono's `c.get('request')`, a JMAP call's `caller.origin`), not in an AsyncLocalStorage: on Node 20 an
 * AsyncLocalStorage installs a promise hook that every promise of the process then pays for (measured in
 * bench/README.md, round 4: about a sixth of an authenticated Core/echo).
 */
export interface RequestInfo {
  id: string;
  face: Face;
  clientIp: string | undefined;
  accountId?: number;
  login?: string;
  credentialId?: number | null;
  /** The authentication outcome: refused ones carry their reason. */
  auth?: { ok: true } | { ok: false; reason: AuthReason };
  /** Further fields for the request's log line (the introspection verdict, a store failure). */
  fields: Record<string, string | number | boolean | null>;
}

/** Hono variables every request has: its RequestInfo, set by the first middleware (src/http/ops.ts `observe`). */
export interface RequestEnv {
  Variables: { request: RequestInfo };
}

/** Remembers who authenticated (or why not) on a request (undefined: outside the server's app, nothing to note). */
export function noteAuth(info: RequestInfo | undefined, result: AuthResult, clientIp: string | undefined): void {
  if (!info) return;
  if (clientIp !== undefined) info.clientIp = clientIp;
  if (result.ok) {
    info.auth = { ok: true };
    info.accountId = result.principal.account.id;
    info.login = result.principal.account.login;
    info.credentialId = result.principal.credential?.id ?? null;
  } else {
    info.auth = { ok: false, reason: result.reason };
  }
}

export function faceOf(path: string): Face {
  if (path.startsWith('/api/smtp-credentials') || path.startsWith('/api/mobileconfig')) return 'rest';
  if (path === '/api' || path.startsWith('/jmap') || path.startsWith('/.well-known/jmap')) return 'jmap';
  if (path.startsWith('/web') || path === '/') return 'web';
  if (path.startsWith('/internal/')) return 'introspect';
  if (path === '/metrics' || path === '/healthz' || path === '/readyz') return 'ops';
  return 'other';
}
