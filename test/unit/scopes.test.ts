import { describe, expect, it } from 'vitest';
import { effectivePermissions, isPermission, rolePermissions } from '../../src/auth/permissions.js';
import { allowsApi, derivedScopes, MOBILE_SCOPES, SCOPES, SERVICE_SCOPES, scopePermissions, type Scope } from '../../src/credentials/scopes.js';

const sorted = (l: readonly string[]) => [...l].sort();
const READ = ['sysApiKeyGet', 'sysApiKeyQuery', 'sysAppPasswordGet', 'sysAppPasswordQuery'];
const WRITE = ['ApiKey', 'AppPassword'].flatMap((o) => ['Create', 'Update', 'Destroy'].map((a) => `sys${o}${a}`));

describe('scopePermissions (scopes are bundles of permissions)', () => {
  it('maps each mail scope to authenticate plus its protocol permission', () => {
    expect(scopePermissions(['imap'])).toEqual({ mode: 'Replace', list: ['authenticate', 'imapAuthenticate'] });
    expect(scopePermissions(['pop3'])).toEqual({ mode: 'Replace', list: ['authenticate', 'pop3Authenticate'] });
    expect(scopePermissions(['smtp'])).toEqual({ mode: 'Replace', list: ['authenticate', 'emailSend'] });
  });

  it('api:read is the Get/Query permissions; api:write adds Create/Update/Destroy', () => {
    expect(sorted(scopePermissions(['api:read']).list)).toEqual(sorted(['authenticate', ...READ]));
    expect(sorted(scopePermissions(['api:write']).list)).toEqual(sorted(['authenticate', ...READ, ...WRITE]));
  });

  it('internal is only authenticate (the right itself is the scope on the credential)', () => {
    expect(scopePermissions(['internal'])).toEqual({ mode: 'Replace', list: ['authenticate'] });
  });

  it('app is the account\'s own rights, whatever else is listed', () => {
    expect(scopePermissions(['app'])).toEqual({ mode: 'Inherit', list: [] });
    expect(scopePermissions(['imap', 'app'])).toEqual({ mode: 'Inherit', list: [] });
  });

  it('unions several scopes without duplicates', () => {
    const { mode, list } = scopePermissions(['imap', 'smtp', 'imap']);
    expect(mode).toBe('Replace');
    expect(sorted(list)).toEqual(['authenticate', 'emailSend', 'imapAuthenticate']);
  });

  it('no scopes is no permission at all', () => {
    expect(scopePermissions([])).toEqual({ mode: 'Replace', list: [] });
  });

  it('every bundled name is a real permission', () => {
    for (const s of SCOPES) for (const p of scopePermissions([s]).list) expect(isPermission(p), `${s}: ${p}`).toBe(true);
  });
});

describe('derivedScopes', () => {
  it('Inherit shows as app', () => {
    expect(derivedScopes(new Set(), 'Inherit')).toEqual(['app']);
  });

  it('lists every bundle the rights cover, never internal', () => {
    const { list } = scopePermissions(['imap', 'smtp', 'internal']);
    expect(sorted(derivedScopes(new Set(list), 'Replace'))).toEqual(['imap', 'smtp']);
  });

  it('api:write rights also cover api:read', () => {
    const { list } = scopePermissions(['api:write']);
    expect(sorted(derivedScopes(new Set(list), 'Replace'))).toEqual(['api:read', 'api:write']);
  });

  it('a partial bundle does not count', () => {
    expect(derivedScopes(new Set(['imapAuthenticate']), 'Replace')).toEqual([]);
    expect(derivedScopes(new Set(), 'Disable')).toEqual([]);
  });

  it('round-trips each mail scope through its permissions', () => {
    for (const s of ['imap', 'pop3', 'smtp', 'api:read'] as Scope[]) {
      const { mode, list } = scopePermissions([s]);
      expect(derivedScopes(effectivePermissions(rolePermissions('user'), mode, list), mode), s).toEqual([s]);
    }
  });
});

describe('allowsApi', () => {
  it('only api:read, api:write and app let an app password call the HTTP APIs', () => {
    expect(allowsApi(null)).toBe(false);
    expect(allowsApi([])).toBe(false);
    expect(allowsApi(['imap', 'smtp', 'pop3', 'internal'])).toBe(false);
    expect(allowsApi(['api:read'])).toBe(true);
    expect(allowsApi(['imap', 'api:write'])).toBe(true);
    expect(allowsApi(['app'])).toBe(true);
    expect(allowsApi(['API:READ'])).toBe(false);
  });
});

describe('scope constants', () => {
  it('SERVICE_SCOPES and MOBILE_SCOPES name real scopes', () => {
    for (const s of [...Object.values(SERVICE_SCOPES), ...MOBILE_SCOPES]) expect(SCOPES).toContain(s);
    expect(SERVICE_SCOPES.submission).toBe('smtp');
  });
});
