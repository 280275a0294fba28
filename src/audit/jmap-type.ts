import { AUDIT_TYPES, type AuditFilter, type AuditRow, type AuditType, type Store } from '../db/store.js';
import type { MethodContext } from '../jmap/context.js';
import { MethodError } from '../jmap/errors.js';
import type { JmapServer } from '../jmap/server.js';
import { standardGet } from '../jmap/standard/get.js';
import { standardQuery } from '../jmap/standard/query.js';
import type { FilterNode, SortKey, StandardType } from '../jmap/standard/type.js';
import type { JsonObject, JsonValue } from '../jmap/types.js';
import { decodeId, encodeId } from '../util/ids.js';
import { formatUtcDate, parseUtcDate } from '../util/utcdate.js';

/**
 * Its own capability, not urn:stalwart:jmap: the audit trail is jmap-keys' own object (Stalwart has none like it),
 * and a name of ours cannot collide with a type Stalwart adds later. Clients list it in `using` to read the trail.
 */
export const AUDIT_CAPABILITY = 'urn:jmap-keys:audit';
export const AUDIT_TYPE_NAME = 'x:AuditEvent';
/** Every authenticated caller may read its own account's trail; `impersonate` widens it to every account. */
const READ_PERMISSION = 'authenticate';

const PROPERTIES = ['id', 'type', 'at', 'accountId', 'credentialId', 'credentialKind', 'actorAccountId', 'actorCredentialId',
  'clientAddress', 'via', 'details'] as const;

type Condition = Omit<AuditFilter, 'accountId'> & { accountId?: number };

const optId = (n: number | null) => (n === null ? null : encodeId(n));

export function auditToWire(r: AuditRow): JsonObject {
  return {
    id: encodeId(r.id), type: r.type, at: formatUtcDate(r.at), accountId: optId(r.accountId), credentialId: optId(r.credentialId),
    credentialKind: r.credentialKind, actorAccountId: optId(r.actorAccountId), actorCredentialId: optId(r.actorCredentialId),
    clientAddress: r.clientAddress, via: r.via, details: r.details as JsonObject,
  };
}

function date(key: string, value: JsonValue | undefined): number {
  const n = typeof value === 'string' ? parseUtcDate(value) : undefined;
  if (n === undefined) throw new MethodError('invalidArguments', `${key} must be a UTCDate (YYYY-MM-DDTHH:MM:SSZ)`);
  return n;
}

function id(key: string, value: JsonValue | undefined): number {
  const n = typeof value === 'string' ? decodeId(value) : undefined;
  // An id that cannot exist matches nothing, like any other unknown id.
  if (typeof value !== 'string') throw new MethodError('invalidArguments', `${key} must be an Id`);
  return n ?? -1;
}

export function parseAuditCondition(condition: JsonObject): Condition {
  const out: Condition = {};
  for (const key of Object.keys(condition)) {
    const value = condition[key];
    if (key === 'after') out.after = date(key, value);
    else if (key === 'before') out.before = date(key, value);
    else if (key === 'accountId') out.accountId = id(key, value);
    else if (key === 'credentialId') out.credentialId = id(key, value);
    else if (key === 'type') {
      const list = typeof value === 'string' ? [value] : Array.isArray(value) ? value : undefined;
      if (!list || list.some((t) => typeof t !== 'string' || !AUDIT_TYPES.includes(t as AuditType))) {
        throw new MethodError('invalidArguments', `type must be one of (or a list of) ${AUDIT_TYPES.join(', ')}`);
      }
      out.types = list as AuditType[];
    } else {
      throw new MethodError('unsupportedFilter', `Filter on property ${key.slice(0, 64)} is not supported`);
    }
  }
  return out;
}

/** A FilterCondition, or an AND of them, narrowed to the caller's scope (OR and NOT are not offered). */
function storeFilter(scope: number | null, node: FilterNode<Condition> | null): AuditFilter {
  const out: AuditFilter = { accountId: scope };
  const conditions: Condition[] = [];
  const walk = (n: FilterNode<Condition>) => {
    if ('condition' in n) conditions.push(n.condition);
    else if (n.operator === 'AND') n.conditions.forEach(walk);
    else throw new MethodError('unsupportedFilter', 'x:AuditEvent filters combine conditions with AND only');
  };
  if (node) walk(node);
  for (const c of conditions) {
    if (c.after !== undefined) out.after = Math.max(out.after ?? c.after, c.after);
    if (c.before !== undefined) out.before = Math.min(out.before ?? c.before, c.before);
    if (c.types) out.types = out.types ? out.types.filter((t) => c.types?.includes(t)) : c.types;
    if (c.credentialId !== undefined) {
      if (out.credentialId !== undefined && out.credentialId !== c.credentialId) out.types = [];
      out.credentialId = c.credentialId;
    }
    if (c.accountId !== undefined) {
      // Outside the caller's scope there is nothing to see.
      if (out.accountId !== null && out.accountId !== c.accountId) out.types = [];
      else out.accountId = c.accountId;
    }
  }
  return out;
}

const ascending = (sort: SortKey[]) => sort[0]?.isAscending ?? false;
const notWritable = (): never => {
  throw new MethodError('forbidden', 'The audit trail is read-only');
};

/**
 * x:AuditEvent as a read-only standard type for one caller: the standard /get and /query machinery over the store.
 * The scope is the account asked for, or every account when a caller with `impersonate` asks for its own.
 */
function auditType(store: Store, ctx: MethodContext): StandardType<never, Condition> {
  const scopeOf = (accountId: string): number | null =>
    (accountId === ctx.caller.accountId && ctx.caller.permissions.has('impersonate') ? null : decodeId(accountId) ?? -1);
  const filterOf = (accountId: string, node: FilterNode<Condition> | null) => storeFilter(scopeOf(accountId), node);
  return {
    name: AUDIT_TYPE_NAME,
    capability: AUDIT_CAPABILITY,
    permissions: { get: READ_PERMISSION, query: READ_PERMISSION, create: 'none', update: 'none', destroy: 'none' },
    properties: PROPERTIES,
    serverSet: PROPERTIES,
    state: async (accountId) => String(await store.maxAuditId({ accountId: scopeOf(accountId) })),
    count: (accountId) => store.countAudit({ accountId: scopeOf(accountId) }),
    async read(accountId, ids) {
      const scope = { accountId: scopeOf(accountId) };
      // Without ids: the newest maxObjectsInGet events (standardGet refuses a larger trail before asking).
      const nums = ids === null ? await store.queryAudit(scope, false, 0, ctx.limits.maxObjectsInGet)
        : ids.map(decodeId).filter((n): n is number => n !== undefined);
      // In the order asked for (a /query result's order, when /get follows /query).
      const rows = new Map((await store.auditByIds(scope, nums)).map((r) => [r.id, r]));
      return nums.flatMap((n) => { const r = rows.get(n); return r ? [auditToWire(r)] : []; });
    },
    patchable: (record) => record,
    check: notWritable,
    create: notWritable,
    update: notWritable,
    destroy: notWritable,
    changesSince: () => Promise.resolve(undefined),
    parseCondition: parseAuditCondition,
    sortable: (property) => property === 'at' || property === 'id',
    queryCount: (accountId, filter) => store.countAudit(filterOf(accountId, filter)),
    async queryIndexOf(accountId, filter, sort, wireId) {
      const n = decodeId(wireId);
      return n === undefined ? undefined : store.auditIndexOf(filterOf(accountId, filter), ascending(sort), n);
    },
    queryPage: async (accountId, filter, sort, offset, limit) =>
      (await store.queryAudit(filterOf(accountId, filter), ascending(sort), offset, limit)).map(encodeId),
  };
}

/** Registers x:AuditEvent/get and /query under their own capability. */
export function registerAuditMethods(server: JmapServer, store: Store): void {
  server.addCapability(AUDIT_CAPABILITY);
  server.register(`${AUDIT_TYPE_NAME}/get`, { capability: AUDIT_CAPABILITY, handler: (args, ctx) => standardGet(auditType(store, ctx), args, ctx) });
  // No /changes or /queryChanges: the trail only grows, and a client reads the events after the newest it holds.
  server.register(`${AUDIT_TYPE_NAME}/query`, { capability: AUDIT_CAPABILITY, handler: async (args, ctx) => ({ ...await standardQuery(auditType(store, ctx), args, ctx), canCalculateChanges: false }) });
}
