import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { match, substitute, type Json, type Vars } from './helpers/conformance.js';
import { USING, bearer, startTestServer, type TestServer } from './helpers/server.js';

interface Step {
  request?: { method?: string; path?: string; auth?: string; contentType?: string; body?: Json; bodyText?: string; bodyBase64?: string };
  calls?: Json[];
  using?: string[];
  extra?: Record<string, Json>;
  expect: { status?: number; contentType?: string; headers?: Record<string, Json>; body?: Json };
}
interface Case { id: string; title: string; steps: Step[] }

const dir = new URL('../spec/conformance/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

for (const file of files) {
  const suite = JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as { name: string; cases: Case[] };
  describe(`spec/conformance/${file}: ${suite.name}`, () => {
    let s: TestServer;
    const vars: Vars = new Map();
    beforeAll(async () => {
      s = await startTestServer();
      const session = await (await fetch(`${s.url}/jmap/session`, { headers: { Authorization: bearer(s.adminToken) } })).json();
      vars.set('A', session.primaryAccounts['urn:stalwart:jmap']);
      vars.set('URL', s.url);
    });
    afterAll(async () => { await s.stop(); });

    for (const c of suite.cases) {
      it(`${c.id}: ${c.title}`, async () => {
        for (const [i, step] of c.steps.entries()) {
          const req = step.request ?? {};
          const auth = req.auth === 'none' ? undefined : req.auth === undefined || req.auth === 'admin' ? bearer(s.adminToken) : req.auth;
          const headers: Record<string, string> = {};
          if (auth) headers.Authorization = auth;
          const method = req.method ?? 'POST';
          let body: Blob | string | undefined;
          if (step.calls) body = JSON.stringify({ using: step.using ?? USING, methodCalls: substitute(step.calls, vars), ...(step.extra ? substitute(step.extra, vars) as object : {}) });
          else if (req.bodyText !== undefined) body = req.bodyText;
          else if (req.bodyBase64 !== undefined) body = new Blob([Buffer.from(req.bodyBase64, 'base64')]);
          else if (req.body !== undefined) body = JSON.stringify(substitute(req.body, vars));
          if (method === 'POST') headers['Content-Type'] = req.contentType ?? 'application/json';
          const res = await fetch(`${s.url}${req.path ?? '/api'}`, { method, headers, body });
          const text = await res.text();
          const where = `step ${i} of ${c.id}`;
          expect(res.status, `${where}: ${text.slice(0, 500)}`).toBe(step.expect.status ?? 200);
          if (step.expect.contentType) expect(res.headers.get('content-type') ?? '', where).toContain(step.expect.contentType);
          for (const [name, pattern] of Object.entries(step.expect.headers ?? {})) {
            expect(match(pattern, res.headers.get(name) ?? undefined, vars, `header ${name}`), where).toEqual([]);
          }
          if (step.expect.body !== undefined) {
            expect(match(step.expect.body, JSON.parse(text) as Json, vars), `${where}: ${text.slice(0, 1500)}`).toEqual([]);
          }
        }
      });
    }
  });
}
