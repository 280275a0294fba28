import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OBJECTS } from '../src/cli/objects.js';
import { CREDENTIAL_PROPERTIES, LIMITS, propertiesOf, serverSetOf } from '../src/credentials/contract.js';
import { startTestServer, USING } from './helpers/server.js';

/** spec/x-apikey.json, the server, the CLI and the page all follow src/credentials/contract.ts. */
const spec = JSON.parse(readFileSync(new URL('../spec/x-apikey.json', import.meta.url), 'utf8')) as {
  properties: Record<string, { serverSet?: boolean; maxLength?: number; maxItems?: number; type: string }>;
  filters: { conditions: string[] };
  sorts: { properties: string[] };
};

describe('the credential contract', () => {
  it('spec/x-apikey.json names the same x:ApiKey properties, server-set ones, filters, sorts and limits', () => {
    expect(Object.keys(spec.properties)).toEqual(propertiesOf(false));
    for (const [name, p] of Object.entries(spec.properties)) {
      expect(p.serverSet === true, `${name} serverSet`).toBe(CREDENTIAL_PROPERTIES[name]?.serverSet);
      expect(p.type.endsWith('|null') || name === 'permissions' || name === 'allowedIps', `${name} nullable`)
        .toBe(CREDENTIAL_PROPERTIES[name]?.nullable);
    }
    expect(spec.properties.description?.maxLength).toBe(LIMITS.descriptionMax);
    expect(spec.properties.allowedIps?.maxItems).toBe(LIMITS.allowedIpsMax);
    const filterable = propertiesOf(false).filter((n) => CREDENTIAL_PROPERTIES[n]?.filterable);
    expect(new Set(spec.filters.conditions.map((c) => c.replace(/Is(Greater|Less)Than(OrEqual)?$/, '')))).toEqual(new Set(filterable));
    expect(new Set(spec.sorts.properties)).toEqual(new Set(propertiesOf(false).filter((n) => CREDENTIAL_PROPERTIES[n]?.sortable)));
  });

  it('the CLI knows exactly the contract\'s properties, read-only where the server sets them', () => {
    for (const [type, withScopes] of [['x:ApiKey', false], ['x:AppPassword', true]] as const) {
      const cli = OBJECTS.find((o) => o.type === type);
      expect(Object.keys(cli?.properties ?? {})).toEqual(propertiesOf(withScopes));
      for (const [name, p] of Object.entries(cli?.properties ?? {})) expect(p.readOnly, `${type} ${name}`).toBe(CREDENTIAL_PROPERTIES[name]?.serverSet);
    }
  });

  it('the server returns every contract property on /get and refuses server-set ones on create', async () => {
    const s = await startTestServer();
    try {
      for (const [type, withScopes] of [['x:ApiKey', false], ['x:AppPassword', true]] as const) {
        const made = await s.api(`Bearer ${s.adminToken}`, [[`${type}/set`, { create: { k: { description: 'contract' } } }, 'c']]);
        const id = made.body.methodResponses[0][1].created.k.id as string;
        const got = await s.api(`Bearer ${s.adminToken}`, [[`${type}/get`, { ids: [id] }, 'g']], { using: USING });
        expect(Object.keys(got.body.methodResponses[0][1].list[0]).sort()).toEqual(propertiesOf(withScopes).sort());
        for (const name of serverSetOf(withScopes)) {
          const refused = await s.api(`Bearer ${s.adminToken}`, [[`${type}/set`, { create: { k: { description: 'x', [name]: null } } }, 'c']]);
          expect(refused.body.methodResponses[0][1].notCreated.k.properties, `${type} ${name}`).toContain(name);
        }
      }
    } finally {
      await s.stop();
    }
  });

  it('the web page limits its fields as the contract does', async () => {
    const s = await startTestServer();
    try {
      const login = await fetch(`${s.url}/web/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ login: 'admin', password: s.adminPassword }) });
      const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
      const html = await (await fetch(`${s.url}/web/`, { headers: { Cookie: cookie } })).text();
      const limit = (id: string) => new RegExp(`id="${id}"[^>]*maxlength="(\\d+)"`).exec(html)?.[1];
      expect(limit('cred-description')).toBe(String(LIMITS.descriptionMax));
      expect(limit('app-name')).toBe(String(LIMITS.restNameMax));
      expect(limit('mobile-device')).toBe(String(LIMITS.deviceIdMax));
    } finally {
      await s.stop();
    }
  });
});
