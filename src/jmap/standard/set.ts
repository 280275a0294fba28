import * as v from 'valibot';
import type { MethodContext } from '../context.js';
import { MethodError, type SetError } from '../errors.js';
import { applyPatch } from '../patch.js';
import { isPlainObject, type JsonObject, type JsonValue } from '../types.js';
import { AccountIdArg, IdList, JsonObjectArg, parseArgs } from './args.js';
import type { Checked, StandardType } from './type.js';

const SetArgs = v.strictObject({
  accountId: AccountIdArg,
  ifInState: v.optional(v.nullable(v.string())),
  create: v.optional(v.nullable(v.record(v.string(), JsonObjectArg))),
  update: v.optional(v.nullable(v.record(v.string(), JsonObjectArg))),
  destroy: v.optional(v.nullable(IdList)),
});

const MAX_CREATION_ID = 255;

/**
 * Foo/set (RFC 8620 §5.3): creates, then updates, then destroys; each record on its own,
 * so one failure never stops or undoes the others.
 */
export async function standardSet<I, C>(outer: StandardType<I, C>, rawArgs: JsonObject, ctx: MethodContext): Promise<JsonObject> {
  // valibot's record() drops "__proto__" keys; keep them as ordinary creation ids / record ids instead.
  const args = parseArgs(SetArgs, rawArgs);
  const create = ownEntries(rawArgs.create);
  const update = ownEntries(rawArgs.update);
  const destroy = args.destroy ?? [];
  const accountId = await ctx.resolveAccount(args.accountId);

  const p = outer.permissions;
  const can = (perm: string) => ctx.caller.permissions.has(perm);
  if (!can(p.create) && !can(p.update) && !can(p.destroy)) {
    throw new MethodError('forbidden', 'You are not authorized to create, update or destroy objects of this type');
  }
  if (create.length > 0 && !can(p.create)) throw new MethodError('forbidden', 'You are not authorized to create objects of this type');
  if (update.length > 0 && !can(p.update)) throw new MethodError('forbidden', 'You are not authorized to update objects of this type');
  if (destroy.length > 0 && !can(p.destroy)) throw new MethodError('forbidden', 'You are not authorized to destroy objects of this type');

  const total = create.length + update.length + destroy.length;
  if (total > ctx.limits.maxObjectsInSet) {
    throw new MethodError('requestTooLarge', `At most ${ctx.limits.maxObjectsInSet} creates, updates and destroys per call`);
  }
  for (const [cid] of create) {
    if (cid.length === 0 || cid.length > MAX_CREATION_ID) throw new MethodError('invalidArguments', 'Creation ids must be 1 to 255 characters');
  }

  const run = async (type: StandardType<I, C>): Promise<JsonObject> => {
    const oldState = await type.state(accountId);
    if (args.ifInState != null && args.ifInState !== oldState) throw new MethodError('stateMismatch');

    const created: [string, JsonValue][] = [];
    const notCreated: [string, JsonValue][] = [];
    const results = await createAll(type, ctx, accountId, create.map(([, value]) => value));
    for (const [i, [cid]] of create.entries()) {
      const result = results[i]!;
      if ('type' in result) {
        notCreated.push([cid, errorJson(result)]);
      } else {
        ctx.createdIds.set(cid, result.id);
        created.push([cid, { id: result.id, ...result.reported }]);
      }
    }

    const resolve = (id: string) => (id.startsWith('#') ? ctx.createdIds.get(id.slice(1)) ?? id : id);
    const destroyIds = [...new Set(destroy.map(resolve))];
    const updated: [string, JsonValue][] = [];
    const notUpdated: [string, JsonValue][] = [];
    for (const [key, patch] of update) {
      const id = resolve(key);
      const willDestroy = destroyIds.includes(id) && (await type.read(accountId, [id])).length > 0;
      const result = willDestroy
        ? { type: 'willDestroy', description: 'The record is destroyed in the same call' } satisfies SetError
        : await updateOne(type, ctx, accountId, id, patch);
      if (result !== null && 'type' in result) notUpdated.push([id, errorJson(result as SetError)]);
      else updated.push([id, result]);
    }

    const destroyed: string[] = [];
    const notDestroyed: [string, JsonValue][] = [];
    for (const id of destroyIds) {
      const error = (await type.read(accountId, [id])).length === 0 ? { type: 'notFound' } satisfies SetError : await type.destroy(ctx, accountId, id);
      if (error) notDestroyed.push([id, errorJson(error)]);
      else destroyed.push(id);
    }

    return {
      accountId,
      oldState,
      newState: await type.state(accountId),
      created: mapOrNull(created),
      updated: mapOrNull(updated),
      destroyed: destroyed.length > 0 ? destroyed : null,
      notCreated: mapOrNull(notCreated),
      notUpdated: mapOrNull(notUpdated),
      notDestroyed: mapOrNull(notDestroyed),
    };
  };
  return outer.batch ? outer.batch(run) : run(outer);
}

type Created = { id: string; reported: JsonObject };

/** The creates in order; with the type's createMany, the valid ones are stored together (one store operation). */
async function createAll<I, C>(type: StandardType<I, C>, ctx: MethodContext, accountId: string, values: JsonObject[]): Promise<(Created | SetError)[]> {
  const results: (Created | SetError)[] = [];
  if (!type.createMany) {
    for (const value of values) {
      const prepared = prepareCreate(type, ctx, accountId, value);
      results.push(prepared.ok ? await type.create(ctx, accountId, prepared.value) : prepared.error);
    }
    return results;
  }
  // Every create checked first; the valid ones (their places in `at`) then go to the store together.
  const valid: I[] = [];
  const at: number[] = [];
  const outcomes: (Created | SetError | undefined)[] = values.map((value, i) => {
    const prepared = prepareCreate(type, ctx, accountId, value);
    if (!prepared.ok) return prepared.error;
    at.push(i);
    valid.push(prepared.value);
    return undefined;
  });
  const stored = valid.length > 0 ? await type.createMany(ctx, accountId, valid) : [];
  for (const [j, i] of at.entries()) outcomes[i] = stored[j];
  return outcomes.map((o) => {
    if (!o) throw new Error(`${type.name}: createMany answered fewer results than it was given creates`);
    return o;
  });
}

/** A create's properties checked: the type's input, or why it is refused. */
function prepareCreate<I, C>(type: StandardType<I, C>, ctx: MethodContext, accountId: string, value: JsonObject): Checked<I> {
  const invalid = Object.keys(value).filter((k) => !type.properties.includes(k) || type.serverSet.includes(k) || k === 'id');
  const bad = new Set(invalid); // a Set: a 10 MB create may name a million properties
  const rest: JsonObject = {};
  for (const k of Object.keys(value)) if (!bad.has(k)) rest[k] = value[k] as JsonValue;
  const checked = type.check(ctx, accountId, rest, null);
  if (!checked.ok) return { ok: false, error: mergeInvalid(checked.error, invalid) };
  if (invalid.length > 0) return { ok: false, error: unsettable(invalid) };
  return checked;
}

async function updateOne<I, C>(type: StandardType<I, C>, ctx: MethodContext, accountId: string, id: string, patch: JsonObject): Promise<JsonObject | null | SetError> {
  const [existing] = await type.read(accountId, [id]);
  if (!existing) return { type: 'notFound' };
  const refused = type.checkPatch?.(patch);
  if (refused) return refused;
  const before = type.patchable(existing);
  const patched = applyPatch(before, patch);
  if (!patched.ok) return patched.error;
  const after = patched.value;
  // Server-set properties may be repeated unchanged (a whole object from /get is a valid patch), never altered.
  const invalid = Object.keys(after).filter((k) => !type.properties.includes(k)
    || ((type.serverSet.includes(k) || k === 'id') && JSON.stringify(after[k]) !== JSON.stringify(before[k])));
  const bad = new Set(invalid);
  const input: JsonObject = {};
  for (const k of Object.keys(after)) if (!type.serverSet.includes(k) && k !== 'id' && !bad.has(k)) input[k] = after[k] as JsonValue;
  const checked = type.check(ctx, accountId, input, existing);
  if (!checked.ok) return mergeInvalid(checked.error, invalid);
  if (invalid.length > 0) return unsettable(invalid);
  return type.update(ctx, accountId, id, checked.value, existing);
}

const UNSETTABLE = 'unknown, or set by the server only';

function unsettable(invalid: string[]): SetError {
  return { type: 'invalidProperties', properties: invalid, description: `${invalid.join(', ')}: ${UNSETTABLE}` };
}

function mergeInvalid(error: SetError, invalid: string[]): SetError {
  if (invalid.length === 0 || error.type !== 'invalidProperties') return error;
  const description = [`${invalid.join(', ')}: ${UNSETTABLE}`, error.description].filter(Boolean).join('; ');
  return { ...error, properties: [...new Set([...invalid, ...(error.properties ?? [])])], description };
}

function ownEntries(value: JsonValue | undefined): [string, JsonObject][] {
  if (!isPlainObject(value)) return [];
  return Object.keys(value).map((k) => {
    const entry = value[k];
    if (!isPlainObject(entry)) throw new MethodError('invalidArguments', 'create and update values must be objects');
    return [k, entry];
  });
}

function errorJson(error: SetError): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(error)) if (v !== undefined) out[k] = v;
  return out;
}

function mapOrNull(entries: [string, JsonValue][]): JsonObject | null {
  if (entries.length === 0) return null;
  const out: JsonObject = {};
  for (const [k, v] of entries) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
}
