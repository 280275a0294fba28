import * as v from 'valibot';
import type { MethodContext } from '../context.js';
import { MethodError } from '../errors.js';
import type { JsonObject } from '../types.js';
import { AccountIdArg, AnyJson, PositiveInt, parseArgs } from './args.js';
import { requirePermission } from './permission.js';
import { parseQueryBasics, queryState } from './query.js';
import type { ChangeEntry, StandardType } from './type.js';

/** Server bound on ids per /changes response when the client gives none, and on log rows read at once. */
const DEFAULT_MAX_CHANGES = 500;
const MAX_LOG_ROWS = 10_000;

const ChangesArgs = v.strictObject({
  accountId: AccountIdArg,
  sinceState: v.string(),
  maxChanges: v.optional(v.nullable(PositiveInt)),
});

type Status = 'created' | 'updated' | 'destroyed' | 'gone';

/** Folds log rows into one status per record: created-then-updated is created, created-then-destroyed is gone. */
function fold(entries: readonly ChangeEntry[], maxIds: number): { statuses: Map<string, Status>; lastSeq: number | undefined; complete: boolean } {
  const statuses = new Map<string, Status>();
  let lastSeq: number | undefined;
  for (const e of entries) {
    const before = statuses.get(e.id);
    if (before === undefined && statuses.size >= maxIds) return { statuses, lastSeq, complete: false };
    let next: Status;
    if (e.op === 'created') next = 'created';
    else if (e.op === 'updated') next = before === 'created' ? 'created' : 'updated';
    else next = before === 'created' ? 'gone' : 'destroyed';
    statuses.set(e.id, next);
    lastSeq = e.seq;
  }
  return { statuses, lastSeq, complete: true };
}

function idsWith(statuses: Map<string, Status>, status: Status): string[] {
  return [...statuses].filter(([, s]) => s === status).map(([id]) => id);
}

/** Foo/changes (RFC 8620 §5.2), from the per-account change log. */
export async function standardChanges<I, C>(type: StandardType<I, C>, rawArgs: JsonObject, ctx: MethodContext): Promise<JsonObject> {
  const args = parseArgs(ChangesArgs, rawArgs);
  const accountId = await ctx.resolveAccount(args.accountId);
  requirePermission(ctx, type.permissions.get);
  const maxChanges = Math.min(args.maxChanges ?? DEFAULT_MAX_CHANGES, DEFAULT_MAX_CHANGES);
  const entries = await type.changesSince(accountId, args.sinceState, MAX_LOG_ROWS);
  if (!entries) throw new MethodError('cannotCalculateChanges', 'Unknown or expired state; fetch everything again');
  const { statuses, lastSeq, complete } = fold(entries, maxChanges);
  const hasMoreChanges = !complete || entries.length === MAX_LOG_ROWS;
  return {
    accountId,
    oldState: args.sinceState,
    // The position of the last change read, not the state now: a write landing after the read is left for the next call.
    newState: lastSeq !== undefined ? String(lastSeq) : args.sinceState,
    hasMoreChanges,
    created: idsWith(statuses, 'created'),
    updated: idsWith(statuses, 'updated'),
    destroyed: idsWith(statuses, 'destroyed'),
  };
}

const QueryChangesArgs = v.strictObject({
  accountId: AccountIdArg,
  filter: v.optional(AnyJson),
  sort: v.optional(AnyJson),
  sinceQueryState: v.string(),
  maxChanges: v.optional(v.nullable(PositiveInt)),
  upToId: v.optional(v.nullable(v.string())),
  calculateTotal: v.optional(v.boolean(), false),
});

/**
 * Foo/queryChanges (RFC 8620 §5.6). Every record changed since the old state is reported removed
 * (the RFC allows ids that were not in the old results) and, when it matches now, added at its index.
 * upToId is ignored, as the RFC allows when sorting on mutable properties.
 */
export async function standardQueryChanges<I, C>(type: StandardType<I, C>, rawArgs: JsonObject, ctx: MethodContext): Promise<JsonObject> {
  const args = parseArgs(QueryChangesArgs, rawArgs);
  const { accountId, filter, sort } = await parseQueryBasics(type as StandardType<unknown, C>, args, ctx);
  requirePermission(ctx, type.permissions.get);
  const sep = args.sinceQueryState.lastIndexOf(':');
  const sinceState = args.sinceQueryState.slice(0, Math.max(0, sep));
  if (sep < 0 || queryState(sinceState, args.filter, args.sort) !== args.sinceQueryState) {
    throw new MethodError('cannotCalculateChanges', 'The query state belongs to another filter or sort, or is unknown');
  }
  const entries = await type.changesSince(accountId, sinceState, MAX_LOG_ROWS);
  if (!entries || entries.length === MAX_LOG_ROWS) throw new MethodError('cannotCalculateChanges', 'Too far behind; run the query again');
  const { statuses, lastSeq } = fold(entries, Number.MAX_SAFE_INTEGER);
  const removed = [...idsWith(statuses, 'updated'), ...idsWith(statuses, 'destroyed')];
  const added: JsonObject[] = [];
  for (const id of [...idsWith(statuses, 'created'), ...idsWith(statuses, 'updated')]) {
    const index = await type.queryIndexOf(accountId, filter, sort, id);
    if (index !== undefined) added.push({ id, index });
  }
  added.sort((a, b) => (a.index as number) - (b.index as number));
  if (args.maxChanges != null && removed.length + added.length > args.maxChanges) {
    throw new MethodError('tooManyChanges', `More than ${args.maxChanges} changes`);
  }
  const response: JsonObject = {
    accountId,
    oldQueryState: args.sinceQueryState,
    newQueryState: queryState(lastSeq !== undefined ? String(lastSeq) : sinceState, args.filter, args.sort),
    removed,
    added,
  };
  if (args.calculateTotal) response.total = await type.queryCount(accountId, filter);
  return response;
}
