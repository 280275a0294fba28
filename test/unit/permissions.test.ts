import { describe, expect, it } from 'vitest';
import { ALL_PERMISSIONS, effectivePermissions, isPermission, rolePermissions } from '../../src/auth/permissions.js';

describe('ALL_PERMISSIONS', () => {
  it('holds the 660 Stalwart permission names, each once, without blanks or spaces', () => {
    expect(ALL_PERMISSIONS.length).toBe(660);
    expect(new Set(ALL_PERMISSIONS).size).toBe(660);
    for (const p of ALL_PERMISSIONS) expect(p).toMatch(/^[a-z][A-Za-z0-9]*$/);
    expect(ALL_PERMISSIONS[0]).toBe('authenticate');
  });

  it('isPermission knows exactly those names, case-sensitively', () => {
    for (const p of ['authenticate', 'impersonate', 'sysApiKeyGet', 'sysAppPasswordDestroy', 'imapAuthenticate', 'emailSend']) {
      expect(isPermission(p), p).toBe(true);
    }
    for (const p of ['', 'Authenticate', 'AUTHENTICATE', 'authenticate ', 'internal', 'api:read', 'constructor', '__proto__']) {
      expect(isPermission(p), p).toBe(false);
    }
  });
});

describe('rolePermissions', () => {
  it('an admin has every permission', () => {
    const admin = rolePermissions('admin');
    expect(admin.size).toBe(660);
    for (const p of ALL_PERMISSIONS) expect(admin.has(p)).toBe(true);
  });

  it('a user can log in, use mail and manage its own credentials, and nothing more', () => {
    const user = rolePermissions('user');
    for (const p of ['authenticate', 'emailSend', 'emailReceive', 'imapAuthenticate', 'pop3Authenticate', 'jmapCoreEcho']) expect(user.has(p), p).toBe(true);
    for (const o of ['ApiKey', 'AppPassword']) {
      for (const a of ['Get', 'Create', 'Update', 'Destroy', 'Query']) expect(user.has(`sys${o}${a}`)).toBe(true);
    }
    expect(user.has('impersonate')).toBe(false);
    expect(user.size).toBe(16);
    for (const p of user) expect(isPermission(p), p).toBe(true);
  });
});

describe('effectivePermissions (Inherit / Disable / Replace)', () => {
  const account = new Set(['authenticate', 'emailSend', 'imapAuthenticate']);

  it('Inherit is the account set itself, whatever the list says', () => {
    expect(effectivePermissions(account, 'Inherit', [])).toBe(account);
    expect(effectivePermissions(account, 'Inherit', ['impersonate'])).toBe(account);
  });

  it('Disable removes the listed names from the account set, without touching it', () => {
    const out = effectivePermissions(account, 'Disable', ['emailSend', 'impersonate']);
    expect([...out].sort()).toEqual(['authenticate', 'imapAuthenticate']);
    expect(account.size).toBe(3);
    expect([...effectivePermissions(account, 'Disable', [])].sort()).toEqual([...account].sort());
  });

  it('Replace is the list intersected with the account set: never more than the account has', () => {
    expect([...effectivePermissions(account, 'Replace', ['emailSend', 'impersonate', 'emailSend'])]).toEqual(['emailSend']);
    expect(effectivePermissions(account, 'Replace', []).size).toBe(0);
    expect(effectivePermissions(new Set(), 'Replace', ['authenticate']).size).toBe(0);
  });
});
