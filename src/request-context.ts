import { AsyncLocalStorage } from 'node:async_hooks';
import type { AuthReason, AuthResult } from './auth/authenticator.js';

/** The face a request came through; audit events record it as `via`. */
export type Face = 'jmap' | 'rest' | 'web' | 'introspect' | 'ops' | 'other';

/** What one request has learned about itself, for its log line, its audit events and its metrics. */
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

const storage = new AsyncLocalStorage<RequestInfo>();

export function runInRequest<T>(info: RequestInfo, fn: () => T): T {
  return storage.run(info, fn);
}

/** The request being handled, or undefined outside one (start-up, timers, the CLI). */
export function currentRequest(): RequestInfo | undefined {
  return storage.getStore();
}

/** Remembers who authenticated (or why not) on the current request. */
export function noteAuth(result: AuthResult, clientIp: string | undefined): void {
  const info = storage.getStore();
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
