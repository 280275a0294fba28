import { hash } from 'node:crypto';
import * as v from 'valibot';
import type { MethodContext } from '../context.js';
import { MethodError } from '../errors.js';
import type { JsonObject, JsonValue } from '../types.js';
import { AccountIdArg, AnyJson, Int, UnsignedInt, parseArgs } from './args.js';
import { parseFilter, parseSort } from './filter.js';
import { requirePermission } from './permission.js';
import type { FilterNode, SortKey, StandardType } from './type.js';

/** The largest page /query returns; larger or absent limits are clamped and reported (RFC 8620 §5.5). */
export const MAX_QUERY_LIMIT = 1000;

const QueryArgs = v.strictObject({
  accountId: AccountIdArg,
  filter: v.optional(AnyJson),
  sort: v.optional(AnyJson),
  position: v.optional(Int, 0),
  anchor: v.optional(v.nullable(v.string())),
  anchorOffset: v.optional(Int, 0),
  limit: v.optional(v.nullable(UnsignedInt)),
  calculateTotal: v.optional(v.boolean(), false),
});

/**
 * queryState = "<state>:<hash of filter and sort>", so /queryChanges can tell which records moved
 * and refuse a state taken under another filter or sort.
 */
export function queryState(state: string, filter: JsonValue | undefined, sort: JsonValue | undefined): string {
  const digest = hash('sha256', JSON.stringify([filter ?? null, sort ?? null]), 'base64url').slice(0, 12);
  return `${state}:${digest}`;
}

export interface ParsedQuery<C> {
  accountId: string;
  filter: FilterNode<C> | null;
  sort: SortKey[];
}

export async function parseQueryBasics<C>(type: StandardType<unknown, C>, args: { accountId?: string | null; filter?: JsonValue; sort?: JsonValue }, ctx: MethodContext): Promise<ParsedQuery<C>> {
  const accountId = await ctx.resolveAccount(args.accountId);
  requirePermission(ctx, type.permissions.query);
  return {
    accountId,
    filter: parseFilter(type, args.filter),
    sort: parseSort(type, args.sort, ctx.limits.collationAlgorithms),
  };
}

/** Foo/query (RFC 8620 §5.5): counting, anchors and paging run in the object type's store, not in memory. */
export async function standardQuery<I, C>(type: StandardType<I, C>, rawArgs: JsonObject, ctx: MethodContext): Promise<JsonObject> {
  const args = parseArgs(QueryArgs, rawArgs);
  const { accountId, filter, sort } = await parseQueryBasics(type as StandardType<unknown, C>, args, ctx);
  const limit = Math.min(args.limit ?? MAX_QUERY_LIMIT, MAX_QUERY_LIMIT);
  const clamped = args.limit == null || args.limit > MAX_QUERY_LIMIT;

  let total: number | undefined;
  const getTotal = async () => (total ??= await type.queryCount(accountId, filter));
  let start: number;
  if (args.anchor != null) {
    const index = await type.queryIndexOf(accountId, filter, sort, args.anchor);
    if (index === undefined) throw new MethodError('anchorNotFound');
    start = Math.max(0, index + args.anchorOffset);
  } else if (args.position < 0) {
    start = Math.max(0, (await getTotal()) + args.position);
  } else {
    start = args.position;
  }
  const ids = limit === 0 ? [] : await type.queryPage(accountId, filter, sort, start, limit);

  const response: JsonObject = {
    accountId,
    queryState: queryState(await type.state(accountId), args.filter, args.sort),
    canCalculateChanges: true,
    position: start,
    ids,
  };
  if (args.calculateTotal) response.total = await getTotal();
  if (clamped) response.limit = limit;
  return response;
}
