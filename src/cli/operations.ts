import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { auditToWire } from '../audit/jmap-type.js';
import { AUDIT_TYPES, type AuditFilter, type AuditType } from '../db/store.js';
import { decodeId, encodeId } from '../util/ids.js';
import { parseUtcDate } from '../util/utcdate.js';
import type { JsonObject } from '../jmap/types.js';
import { CliError, EXIT, UsageError } from './errors.js';
import { withStore, type LocalFlags } from './local.js';
import { json, renderTable, type Output } from './output.js';

export interface AuditFlags extends LocalFlags {
  since?: string;
  until?: string;
  login?: string;
  credential?: string;
  type?: string[];
  limit: string;
  json?: boolean;
}

function date(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = parseUtcDate(value);
  if (n === undefined) throw new UsageError(`${flag} ${value}: expected a UTCDate like 2026-01-01T00:00:00Z`);
  return n;
}

/** `jmap-keys audit`: the audit trail from the database, newest first, with the filters of x:AuditEvent/query. */
export async function auditList(env: NodeJS.ProcessEnv, flags: AuditFlags, out: Output): Promise<void> {
  const limit = Number(flags.limit);
  if (!/^\d+$/.test(flags.limit) || limit < 1 || limit > 100_000) throw new UsageError('--limit: a whole number from 1 to 100000');
  const types = flags.type;
  const bad = types?.find((t) => !AUDIT_TYPES.includes(t as AuditType));
  if (bad !== undefined) throw new UsageError(`--type ${bad}: one of ${AUDIT_TYPES.join(', ')}`);
  const credentialId = flags.credential === undefined ? undefined : decodeId(flags.credential);
  if (flags.credential !== undefined && credentialId === undefined) throw new UsageError(`--credential ${flags.credential}: not a record id`);
  await withStore(env, flags, true, async (store) => {
    const logins = new Map((await store.listAccounts()).map((a) => [a.id, a.login]));
    let accountId: number | null = null;
    if (flags.login !== undefined) {
      const account = await store.accountByLogin(flags.login);
      if (!account) throw new CliError(`no account "${flags.login}"`, EXIT.failed);
      accountId = account.id;
    }
    const filter: AuditFilter = { accountId, credentialId, after: date('--since', flags.since), before: date('--until', flags.until) };
    if (types) filter.types = types as AuditType[];
    const rows = await store.auditByIds(filter, await store.queryAudit(filter, false, 0, limit)); // oldest first
    if (flags.json) {
      out.out(json(rows.map(auditToWire)));
      return;
    }
    if (rows.length === 0) {
      out.out('No audit events.');
      return;
    }
    const who = (id: number | null, fallback: unknown) => (id === null ? '' : logins.get(id) ?? (typeof fallback === 'string' ? fallback : `#${encodeId(id)}`));
    const table: JsonObject[] = rows.map((r) => {
      const wire = auditToWire(r);
      return {
        at: wire.at ?? null, type: r.type, account: who(r.accountId, r.details.login), credential: wire.credentialId ?? '',
        by: r.actorAccountId === null ? r.via : `${who(r.actorAccountId, undefined)}${r.actorCredentialId === null ? '' : ` (key ${encodeId(r.actorCredentialId)})`}`,
        from: r.clientAddress ?? '', via: r.via, details: JSON.stringify(r.details),
      };
    });
    out.out(renderTable(['at', 'type', 'account', 'credential', 'by', 'from', 'via', 'details'], table, out.isTty));
  });
}

/**
 * `jmap-keys backup --out FILE`: a consistent copy taken while the server runs (SQLite's VACUUM INTO reads one
 * snapshot). The server secret is not in it and must be kept with it.
 */
export async function backup(env: NodeJS.ProcessEnv, flags: LocalFlags & { out: string }, out: Output): Promise<void> {
  const file = resolve(flags.out);
  if (existsSync(file)) throw new CliError(`${file} exists already; choose a new file`, EXIT.failed);
  await withStore(env, flags, true, async (store, config) => {
    await store.backup(file);
    out.out(`Backed up ${config.dbFile} to ${file} (${statSync(file).size} bytes)`);
    const secret = config.secretHex ? 'JMAP_KEYS_SECRET' : join(config.dataDir, 'server-secret');
    out.err(`Keep the server secret (${secret}) with this backup: without it no stored key or app password works.`);
  });
}
