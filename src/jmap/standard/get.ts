import * as v from 'valibot';
import type { MethodContext } from '../context.js';
import { MethodError, clip } from '../errors.js';
import type { JsonObject } from '../types.js';
import { AccountIdArg, IdList, parseArgs } from './args.js';
import { requirePermission } from './permission.js';
import type { StandardType } from './type.js';

const GetArgs = v.strictObject({
  accountId: AccountIdArg,
  ids: v.optional(v.nullable(IdList)),
  properties: v.optional(v.nullable(v.array(v.string()))),
});

/** Foo/get (RFC 8620 §5.1). */
export async function standardGet<I, C>(type: StandardType<I, C>, rawArgs: JsonObject, ctx: MethodContext): Promise<JsonObject> {
  const args = parseArgs(GetArgs, rawArgs);
  const accountId = await ctx.resolveAccount(args.accountId);
  requirePermission(ctx, type.permissions.get);
  const max = ctx.limits.maxObjectsInGet;

  let properties: string[] | null = null;
  if (args.properties) {
    const unknown = args.properties.filter((p) => !type.properties.includes(p));
    if (unknown.length > 0) throw new MethodError('invalidArguments', `Unknown properties: ${clip(unknown.join(', '))}`);
    properties = [...new Set(['id', ...args.properties])];
  }

  let ids: string[] | null = null;
  if (args.ids) {
    if (args.ids.length > max) throw new MethodError('requestTooLarge', `At most ${max} ids per call`);
    // "#creationId" resolves to the record made earlier in this request (Cyrus and Stalwart do the same).
    ids = [...new Set(args.ids.map((id) => (id.startsWith('#') ? ctx.createdIds.get(id.slice(1)) ?? id : id)))];
  } else if (await type.count(accountId) > max) {
    throw new MethodError('requestTooLarge', `The account holds more than ${max} records; ask for ids`);
  }

  const state = await type.state(accountId);
  const records = ids && ids.length === 0 ? [] : await type.read(accountId, ids);
  const found = new Set(records.map((r) => r.id));
  const list = properties ? records.map((r) => project(r, properties)) : records;
  const notFound = ids ? ids.filter((id) => !found.has(id)) : [];
  return { accountId, state, list, notFound };
}

function project(record: JsonObject, properties: string[]): JsonObject {
  const out: JsonObject = {};
  for (const p of properties) if (Object.hasOwn(record, p)) out[p] = record[p] ?? null;
  return out;
}
