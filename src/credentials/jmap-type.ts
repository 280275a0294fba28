import { audit, auditedCredential, callerActor } from '../audit/record.js';
import type { IssuedToken, TokenHasher } from '../auth/tokens.js';
import { OVER_QUOTA, type CredentialChanges, type CredentialFilter, type CredentialKind, type CredentialSort, type DateCondition, type NewCredential, type Store, type StoreOps } from '../db/store.js';
import type { MethodContext } from '../jmap/context.js';
import { normalizeMask } from '../auth/ipmask.js';
import { isPermission } from '../auth/permissions.js';
import { clip, MethodError, type SetError } from '../jmap/errors.js';
import { splitTokens } from '../jmap/pointer.js';
import type { ChangeEntry, Checked, FilterNode, SortKey, StandardType } from '../jmap/standard/type.js';
import type { JsonObject } from '../jmap/types.js';
import { decodeId, encodeId } from '../util/ids.js';
import { nowSeconds, parseUtcDate } from '../util/utcdate.js';
import { propertiesOf, serverSetOf } from './contract.js';
import { describeUngrantable, INTERNAL_REFUSED, ungrantable, ungrantableFor, UNRESTRICTED, widerThanCaller } from './policy.js';
import { scopePermissions, scopesOf } from './scopes.js';
import { checkCredential, describeInvalid, type CredentialInput } from './validate.js';
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

const sameSet = (a: readonly string[], b: readonly string[]) => JSON.stringify([...new Set(a)].sort()) === JSON.stringify([...new Set(b)].sort());

/**
 * x:AppPassword's scopes and permissions are two spellings of the same rights. Scopes, when sent or changed,
 * decide the permissions; permissions edited on their own drop the chosen scopes (they are then shown as the
 * bundles the new rights cover). Both changed and disagreeing is refused.
 */
function reconcileScopes(value: CredentialInput, input: JsonObject, existing: JsonObject | null): Checked<CredentialInput> {
  const before = existing ? checkCredential(existing) : undefined;
  const permsChanged = before?.ok
    ? value.permissionsMode !== before.value.permissionsMode || !sameSet(value.permissions, before.value.permissions)
    : input.permissions !== undefined;
  const oldScopes = (existing?.scopes ?? null) as string[] | null;
  if (value.scopes === undefined || value.scopes === null) return { ok: true, value };
  if (oldScopes && sameSet(value.scopes, oldScopes)) {
    // Scopes repeated as they were: the permissions decide (and, if edited, the scopes follow them).
    const { scopes: _unchanged, ...rest } = value;
    return { ok: true, value: permsChanged ? { ...rest, scopes: null } : rest };
  }
  const derived = scopePermissions(value.scopes);
  if (permsChanged && (derived.mode !== value.permissionsMode || !sameSet(derived.list, value.permissions))) {
    return { ok: false, error: { type: 'invalidProperties', properties: ['scopes', 'permissions'], description: 'scopes and permissions disagree: the scopes decide the permissions, so send one of them' } };
  }
  return { ok: true, value: { ...value, permissionsMode: derived.mode, permissions: derived.list } };
}

/** One credential kind as a JMAP object type: x:ApiKey and x:AppPassword share this code. */
export function credentialType(o: CredentialTypeOptions): StandardType<CredentialInput, Condition> {
  return boundType(o, o.store);
}

/** The object type over `store`: the store itself, or one transaction of it (a /set batch). */
function boundType(o: CredentialTypeOptions, store: StoreOps): StandardType<CredentialInput, Condition> {
  const { kind } = o;
  const num = (accountId: string) => decodeId(accountId) ?? -1;
  const properties = propertiesOf(o.withScopes);

  /** No escalation: the new rights may not exceed the caller's own current rights (Stalwart 0.16.15 fix). */
  async function escalation(ctx: MethodContext, accountId: string, input: CredentialInput): Promise<SetError | undefined> {
    const missing = await ungrantable(store, ctx.caller.permissions, num(accountId), input.permissionsMode, input.permissions);
    return missing.length === 0 ? undefined : { type: 'forbidden', description: describeUngrantable(missing), properties: ['permissions'] };
  }

  /** Delegation bounds: the result may not be less restricted than the credential the caller presented. */
  function unbounded(ctx: MethodContext, input: CredentialInput): SetError | undefined {
    const wider = widerThanCaller(ctx.caller.restrictions ?? UNRESTRICTED, input);
    return wider && { type: 'forbidden', description: wider.description, properties: [wider.property] };
  }

  /** `internal` credentials (the mail servers' own) are only touched by callers that hold `internal`. */
  function internalGuard(ctx: MethodContext, scopes: readonly string[] | null | undefined): SetError | undefined {
    const holds = (ctx.caller.restrictions ?? UNRESTRICTED).internal;
    return !holds && scopes?.includes('internal') ? { type: 'forbidden', description: INTERNAL_REFUSED } : undefined;
  }

  async function readWire(accountId: string, ids: readonly string[] | null): Promise<JsonObject[]> {
    const nums = ids?.map(decodeId).filter((n): n is number => n !== undefined) ?? null;
    if (nums && nums.length === 0) return [];
    const rows = await store.credentials(num(accountId), kind, nums);
    const role = o.withScopes && rows.length > 0 ? (await store.accountById(num(accountId)))?.role : undefined;
    return rows.map((r) => credentialToWire(r, role ? scopesOf(r, role) : undefined));
  }

  /** The internal scope lets a credential ask the verification endpoint: only a caller holding it grants it. */
  function internalDenied(ctx: MethodContext, input: CredentialInput): SetError | undefined {
    if (!input.scopes?.includes('internal')) return undefined;
    return (ctx.caller.restrictions ?? UNRESTRICTED).internal
      ? undefined
      : { type: 'forbidden', description: INTERNAL_REFUSED, properties: ['scopes'] };
  }

  /**
   * A /set's creates: the checks of each (the account read once), then one store operation for the rows that
   * passed (quota counted once: the first that fit are stored, the rest refused overQuota), then one audit event
   * per stored credential, in order.
   */
  async function createMany(ctx: MethodContext, accountId: string, inputs: readonly CredentialInput[]): Promise<({ id: string; reported: JsonObject } | SetError)[]> {
    const accountNum = num(accountId);
    const account = await store.accountById(accountNum);
    const results: ({ id: string; reported: JsonObject } | SetError)[] = [];
    const allowed: number[] = [];
    for (const [i, input] of inputs.entries()) {
      const missing = ungrantableFor(account, ctx.caller.permissions, input.permissionsMode, input.permissions);
      const denied = (missing.length === 0 ? undefined : { type: 'forbidden', description: describeUngrantable(missing), properties: ['permissions'] } satisfies SetError)
        ?? unbounded(ctx, input) ?? internalDenied(ctx, input);
      results.push(denied ?? { type: 'overQuota', description: `You have exceeded your quota of ${o.quota} ${o.noun}.` });
      if (!denied) allowed.push(i);
    }
    if (allowed.length === 0) return results;
    const tokens = o.hasher.issueMany(kind, allowed.length);
    const createdAt = nowSeconds();
    const pending: { at: number; issued: IssuedToken; row: NewCredential }[] = allowed.map((i, j) => {
      const input = inputs[i]!;
      const issued = tokens[j]!;
      return {
        at: i, issued, row: {
          accountId: accountNum, kind, ...input, locator: issued.locator, secretHash: issued.hash, createdAt,
          scopes: input.scopes ?? null, platform: null, deviceId: null,
        },
      };
    });
    const rows = await store.insertCredentials(pending.map((p) => p.row), o.quota);
    const role = o.withScopes ? account?.role : undefined;
    const actor = callerActor(ctx.caller);
    for (const [j, p] of pending.entries()) {
      const row = rows[j]!;
      // Over quota: the overQuota error put in its place above stays.
      if (row === OVER_QUOTA) continue;
      await auditedCredential(store, row, 'credential.created', actor);
      const wire = credentialToWire(row, role ? scopesOf(row, role) : undefined);
      const { id: _id, description: _d, ...reported } = wire;
      results[p.at] = { id: wire.id as string, reported: { ...reported, secret: p.issued.token } };
    }
    return results;
  }

  return {
    name: o.name,
    capability: STALWART_CAPABILITY,
    permissions: {
      get: `${o.permissionPrefix}Get`, query: `${o.permissionPrefix}Query`, create: `${o.permissionPrefix}Create`,
      update: `${o.permissionPrefix}Update`, destroy: `${o.permissionPrefix}Destroy`,
    },
    properties,
    serverSet: serverSetOf(o.withScopes),

    state: async (accountId) => String(await store.state(num(accountId), kind)),
    count: (accountId) => store.countCredentials(num(accountId), kind),
    read: readWire,
    patchable: credentialToPatchable,

    checkPatch(patch: JsonObject): SetError | undefined {
      for (const key of Object.keys(patch)) {
        const tokens = splitTokens(key);
        // Sets are patched one member at a time (RFC 8620 §5.3): below allowedIps or permissions/permissions
        // the path must name a member (an IP mask, a permission name), set to true or null.
        const [set, what, member, deeper] = tokens[0] === 'allowedIps'
          ? ['allowedIps', 'an IP address or CIDR mask (a / written ~1)', tokens[1], tokens.length > 2]
          : tokens[0] === 'permissions' && tokens[1] === 'permissions'
            ? ['permissions', 'a permission name', tokens[2], tokens.length > 3]
            : [undefined, '', undefined, false];
        if (set === undefined || member === undefined) continue;
        const valid = set === 'allowedIps' ? normalizeMask(member) !== undefined : isPermission(member);
        const value = patch[key];
        if (!valid || deeper || (value !== true && value !== null)) {
          return { type: 'invalidPatch', description: `${clip(key)}: a patch into a set names ${what} and sets it to true (add) or null (remove)`, properties: [set] };
        }
      }
      return undefined;
    },

    check(_ctx, _accountId, input, existing): Checked<CredentialInput> {
      const checked = checkCredential(input);
      if (!checked.ok) return { ok: false, error: { type: 'invalidProperties', properties: checked.invalid, description: describeInvalid(checked.invalid) } };
      return o.withScopes ? reconcileScopes(checked.value, input, existing) : checked;
    },

    async create(ctx, accountId, input) {
      return (await createMany(ctx, accountId, [input]))[0]!;
    },

    createMany,

    async update(ctx, accountId, id, input, existing) {
      const before = checkCredential(existing);
      if (!before.ok) throw new Error('stored credential failed validation');
      const row = (await store.credentials(num(accountId), kind, [decodeId(id) ?? -1]))[0];
      const guarded = internalGuard(ctx, row?.scopes);
      if (guarded) return guarded;
      const changes: CredentialChanges = {};
      const b = before.value;
      if (input.description !== b.description) changes.description = input.description;
      if (input.expiresAt !== b.expiresAt) changes.expiresAt = input.expiresAt;
      if (JSON.stringify(input.allowedIps) !== JSON.stringify(b.allowedIps)) changes.allowedIps = input.allowedIps;
      if (input.permissionsMode !== b.permissionsMode || JSON.stringify([...input.permissions].sort()) !== JSON.stringify([...b.permissions].sort())) {
        const denied = await escalation(ctx, accountId, input);
        if (denied) return denied;
        changes.permissionsMode = input.permissionsMode;
        changes.permissions = input.permissions;
        // Scopes named the old rights; once the rights are edited directly they would lie.
        changes.scopes = null;
      }
      if (changes.expiresAt !== undefined || changes.allowedIps !== undefined || changes.permissionsMode !== undefined) {
        const denied = unbounded(ctx, input);
        if (denied) return denied;
      }
      if (o.withScopes && input.scopes !== undefined) {
        const denied = internalDenied(ctx, input);
        if (denied) return denied;
        changes.scopes = input.scopes;
      }
      const n = decodeId(id) ?? -1;
      if (await store.updateCredential(num(accountId), kind, n, changes) && Object.keys(changes).length > 0) {
        await audit(store, { type: 'credential.updated', accountId: num(accountId), credentialId: n, credentialKind: kind, details: { ...changes } }, callerActor(ctx.caller));
      }
      if (!o.withScopes || (changes.scopes === undefined && changes.permissions === undefined)) return null;
      // The other spelling of the rights moved with the one the client changed: report both as they are now.
      const [after] = await readWire(accountId, [id]);
      return after ? { scopes: after.scopes as JsonObject[string], permissions: after.permissions as JsonObject[string] } : null;
    },

    // Only the store itself opens transactions; a type already bound to one has no batch of its own.
    batch: 'transaction' in store ? (fn) => (store as Store).transaction((tx) => fn(boundType(o, tx))) : undefined,

    async destroy(ctx, accountId, id) {
      const row = (await store.credentials(num(accountId), kind, [decodeId(id) ?? -1]))[0];
      const guarded = internalGuard(ctx, row?.scopes);
      if (guarded) return guarded;
      if (!row || !(await store.deleteCredential(num(accountId), kind, row.id))) return { type: 'notFound' };
      await auditedCredential(store, row, 'credential.destroyed', callerActor(ctx.caller));
      return undefined;
    },

    async changesSince(accountId, sinceState, maxRows): Promise<ChangeEntry[] | undefined> {
      if (!/^(0|[1-9][0-9]{0,15})$/.test(sinceState)) return undefined;
      const seq = Number(sinceState);
      // A state this account never had (the positions are the account's own).
      if (seq > await store.state(num(accountId), kind)) return undefined;
      return (await store.changesSince(num(accountId), kind, seq, maxRows)).map((r) => ({ seq: r.seq, id: encodeId(r.recordId), op: r.op }));
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
    async queryIndexOf(accountId, filter, sort, id) {
      const n = decodeId(id);
      return n === undefined ? undefined : store.queryIndexOf(num(accountId), kind, toStoreFilter(filter), toStoreSort(sort), n);
    },
    queryPage: async (accountId, filter, sort, offset, limit) =>
      (await store.queryPage(num(accountId), kind, toStoreFilter(filter), toStoreSort(sort), offset, limit)).map(encodeId),
  };
}
