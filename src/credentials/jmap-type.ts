import { audit, auditedCredential } from '../audit/record.js';
import type { TokenHasher } from '../auth/tokens.js';
import type { CredentialChanges, CredentialFilter, CredentialKind, CredentialSort, DateCondition, Store } from '../db/store.js';
import type { MethodContext } from '../jmap/context.js';
import { MethodError, type SetError } from '../jmap/errors.js';
import type { ChangeEntry, Checked, FilterNode, SortKey, StandardType } from '../jmap/standard/type.js';
import type { JsonObject } from '../jmap/types.js';
import { decodeId, encodeId } from '../util/ids.js';
import { nowSeconds, parseUtcDate } from '../util/utcdate.js';
import { describeUngrantable, ungrantable } from './policy.js';
import { checkCredential, type CredentialInput } from './validate.js';
import { credentialToPatchable, credentialToWire } from './wire.js';

export const STALWART_CAPABILITY = 'urn:stalwart:jmap';

export interface CredentialTypeOptions {
  kind: CredentialKind;
  /** JMAP type name, e.g. "x:ApiKey". */
  name: string;
  /** Permission prefix, e.g. "sysApiKey". */
  permissionPrefix: string;
  /** Noun for quota messages, e.g. "API keys". */
  noun: string;
  quota: number;
  store: Store;
  hasher: TokenHasher;
  /** Show the REST scopes as a read-only property. */
  withScopes: boolean;
}

const SUFFIXES: Record<string, DateCondition['op']> = {
  '': 'eq', IsGreaterThan: 'gt', IsGreaterThanOrEqual: 'gte', IsLessThan: 'lt', IsLessThanOrEqual: 'lte',
};
const CONDITIONS = new Map<string, Omit<DateCondition, 'value'>>();
for (const field of ['expiresAt', 'createdAt'] as const) {
  for (const [suffix, op] of Object.entries(SUFFIXES)) CONDITIONS.set(`${field}${suffix}`, { field, op });
}
const SORTABLE = new Set(['id', 'createdAt', 'expiresAt', 'description']);

/** A FilterCondition's keys are ANDed; it is kept as that list of date conditions. */
type Condition = DateCondition[];

function toStoreFilter(node: FilterNode<Condition> | null): CredentialFilter | null {
  if (!node) return null;
  if ('condition' in node) return { operator: 'AND', conditions: node.condition.map((c) => ({ condition: c })) };
  return { operator: node.operator, conditions: node.conditions.map((c) => toStoreFilter(c) as CredentialFilter) };
}

function toStoreSort(sort: SortKey[]): CredentialSort[] {
  return sort.map((s) => ({
    property: s.property as CredentialSort['property'],
    isAscending: s.isAscending,
    caseSensitive: s.collation === 'i;octet',
  }));
}

/** One credential kind as a JMAP object type: x:ApiKey and x:AppPassword share this code. */
export function credentialType(o: CredentialTypeOptions): StandardType<CredentialInput, Condition> {
  const { store, kind } = o;
  const num = (accountId: string) => decodeId(accountId) ?? -1;
  const properties = ['id', 'description', 'secret', 'createdAt', 'expiresAt', 'permissions', 'allowedIps', 'lastUsedAt',
    ...(o.withScopes ? ['scopes'] : [])];

  /** No escalation: the new rights may not exceed the caller's own current rights (Stalwart 0.16.15 fix). */
  function escalation(ctx: MethodContext, accountId: string, input: CredentialInput): SetError | undefined {
    const missing = ungrantable(store, ctx.caller.permissions, num(accountId), input.permissionsMode, input.permissions);
    return missing.length === 0 ? undefined : { type: 'forbidden', description: describeUngrantable(missing), properties: ['permissions'] };
  }

  return {
    name: o.name,
    capability: STALWART_CAPABILITY,
    permissions: {
      get: `${o.permissionPrefix}Get`, query: `${o.permissionPrefix}Query`, create: `${o.permissionPrefix}Create`,
      update: `${o.permissionPrefix}Update`, destroy: `${o.permissionPrefix}Destroy`,
    },
    properties,
    serverSet: ['secret', 'createdAt', 'lastUsedAt', ...(o.withScopes ? ['scopes'] : [])],

    state: (accountId) => String(store.state(num(accountId), kind)),
    count: (accountId) => store.countCredentials(num(accountId), kind),
    read(accountId, ids) {
      const nums = ids?.map(decodeId).filter((n): n is number => n !== undefined) ?? null;
      if (nums && nums.length === 0) return [];
      return store.credentials(num(accountId), kind, nums).map((r) => credentialToWire(r, o.withScopes));
    },
    patchable: credentialToPatchable,

    check(_ctx, _accountId, input): Checked<CredentialInput> {
      const checked = checkCredential(input);
      return checked.ok ? checked : { ok: false, error: { type: 'invalidProperties', properties: checked.invalid } };
    },

    create(ctx, accountId, input) {
      const accountNum = num(accountId);
      if (store.countCredentials(accountNum, kind) >= o.quota) {
        return { type: 'overQuota', description: `You have exceeded your quota of ${o.quota} ${o.noun}.` };
      }
      const denied = escalation(ctx, accountId, input);
      if (denied) return denied;
      const issued = o.hasher.issue(kind);
      const row = store.insertCredential({
        accountId: accountNum, kind, ...input, locator: issued.locator, secretHash: issued.hash, createdAt: nowSeconds(),
        scopes: null, platform: null, deviceId: null,
      });
      auditedCredential(store, row, 'credential.created');
      const wire = credentialToWire(row, o.withScopes);
      const { id: _id, description: _d, ...reported } = wire;
      return { id: wire.id as string, reported: { ...reported, secret: issued.token } };
    },

    update(ctx, accountId, id, input, existing) {
      const before = checkCredential(existing);
      if (!before.ok) throw new Error('stored credential failed validation');
      const changes: CredentialChanges = {};
      const b = before.value;
      if (input.description !== b.description) changes.description = input.description;
      if (input.expiresAt !== b.expiresAt) changes.expiresAt = input.expiresAt;
      if (JSON.stringify(input.allowedIps) !== JSON.stringify(b.allowedIps)) changes.allowedIps = input.allowedIps;
      if (input.permissionsMode !== b.permissionsMode || JSON.stringify([...input.permissions].sort()) !== JSON.stringify([...b.permissions].sort())) {
        const denied = escalation(ctx, accountId, input);
        if (denied) return denied;
        changes.permissionsMode = input.permissionsMode;
        changes.permissions = input.permissions;
        // Scopes named the old rights; once the rights are edited directly they would lie.
        changes.scopes = null;
      }
      const recordId = decodeId(id) ?? -1;
      if (store.updateCredential(num(accountId), kind, recordId, changes) && Object.keys(changes).length > 0) {
        audit(store, { type: 'credential.updated', accountId: num(accountId), credentialId: recordId, credentialKind: kind, details: { ...changes } });
      }
      return o.withScopes && changes.scopes === null && existing.scopes !== null ? { scopes: null } : null;
    },

    batch: (fn) => store.transaction(fn),

    destroy(_ctx, accountId, id) {
      const [row] = store.credentials(num(accountId), kind, [decodeId(id) ?? -1]);
      if (!row || !store.deleteCredential(num(accountId), kind, row.id)) return { type: 'notFound' };
      auditedCredential(store, row, 'credential.destroyed');
      return undefined;
    },

    changesSince(accountId, sinceState, maxRows): ChangeEntry[] | undefined {
      if (!/^(0|[1-9][0-9]{0,15})$/.test(sinceState)) return undefined;
      const seq = Number(sinceState);
      if (seq > store.maxSeq()) return undefined;
      return store.changesSince(num(accountId), kind, seq, maxRows).map((r) => ({ seq: r.seq, id: encodeId(r.recordId), op: r.op }));
    },

    parseCondition(condition: JsonObject): Condition {
      return Object.keys(condition).map((key) => {
        const spec = CONDITIONS.get(key);
        if (!spec) throw new MethodError('unsupportedFilter', `Filter on property ${key.slice(0, 64)} is not supported`);
        const raw = condition[key];
        const value = typeof raw === 'string' ? parseUtcDate(raw) : undefined;
        if (value === undefined) throw new MethodError('invalidArguments', `${key} must be a UTCDate (YYYY-MM-DDTHH:MM:SSZ)`);
        return { ...spec, value };
      });
    },
    sortable: (property) => SORTABLE.has(property),
    queryCount: (accountId, filter) => store.queryCount(num(accountId), kind, toStoreFilter(filter)),
    queryIndexOf(accountId, filter, sort, id) {
      const n = decodeId(id);
      return n === undefined ? undefined : store.queryIndexOf(num(accountId), kind, toStoreFilter(filter), toStoreSort(sort), n);
    },
    queryPage: (accountId, filter, sort, offset, limit) =>
      store.queryPage(num(accountId), kind, toStoreFilter(filter), toStoreSort(sort), offset, limit).map(encodeId),
  };
}
