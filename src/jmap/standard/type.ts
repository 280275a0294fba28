import type { SetError } from '../errors.js';
import type { MethodContext } from '../context.js';
import type { JsonObject } from '../types.js';

/** The boolean tree of a /query filter; conditions are the object type's own parsed form. */
export type FilterNode<C> =
  | { operator: 'AND' | 'OR' | 'NOT'; conditions: FilterNode<C>[] }
  | { condition: C };

export interface SortKey {
  property: string;
  isAscending: boolean;
  collation?: string;
}

/** One row of the change log, oldest first. */
export interface ChangeEntry {
  seq: number;
  id: string;
  op: 'created' | 'updated' | 'destroyed';
}

/** Outcome of checking a create or a patched object: the object type's input or the invalid property names. */
export type Checked<T> = { ok: true; value: T } | { ok: false; error: SetError };

/**
 * What an object type supplies to get the standard /get /set /query /changes /queryChanges methods.
 * All ids here are wire ids; accountId is already resolved and access-checked.
 */
export interface StandardType<Input, Condition> {
  /** e.g. "x:ApiKey" — methods are registered as `${name}/get` etc. */
  readonly name: string;
  readonly capability: string;
  /** Permission each method needs. */
  readonly permissions: { get: string; query: string; create: string; update: string; destroy: string };
  /** Every property /get can return (including "id"). */
  readonly properties: readonly string[];
  /** Properties only the server sets: a create may not send them; an update may only repeat them unchanged. */
  readonly serverSet: readonly string[];

  /** Current state string for the account (changes whenever any record does). */
  state(accountId: string): Promise<string>;
  count(accountId: string): Promise<number>;
  /** Full wire objects for the ids that exist (all records when ids is null). */
  read(accountId: string, ids: readonly string[] | null): Promise<JsonObject[]>;
  /** The object as a PatchObject applies to it (sets as {key: true} maps). */
  patchable(record: JsonObject): JsonObject;

  /**
   * Optional: refuses a PatchObject whose paths the type cannot take (e.g. a pointer into a set member that is
   * not a member's name) with invalidPatch, before it is applied.
   */
  checkPatch?(patch: JsonObject): SetError | undefined;
  /** Validates a create (`existing` null) or a patched object (`existing` = its stored wire form). */
  check(ctx: MethodContext, accountId: string, input: JsonObject, existing: JsonObject | null): Checked<Input>;
  /** Stores a new record; returns its id and the server-set or defaulted properties to report in `created`. */
  create(ctx: MethodContext, accountId: string, input: Input): Promise<{ id: string; reported: JsonObject } | SetError>;
  /**
   * Optional: stores several creates of one /set call at once, each result in its input's place, with the same
   * outcome as `create` called for each in order (a create refused on its own does not stop the others), but the
   * store work done once for all of them.
   */
  createMany?(ctx: MethodContext, accountId: string, inputs: readonly Input[]): Promise<({ id: string; reported: JsonObject } | SetError)[]>;
  /** Stores an update; returns properties the server changed on its own (null if none). */
  update(ctx: MethodContext, accountId: string, id: string, input: Input, existing: JsonObject): Promise<JsonObject | null | SetError>;
  destroy(ctx: MethodContext, accountId: string, id: string): Promise<SetError | undefined>;
  /**
   * Runs the writes of one /set call as a unit (one transaction, so 500 creates commit once and a crash
   * half-way changes nothing): `fn` gets this type bound to the transaction. Optional: without it each write
   * stands alone.
   */
  batch?<T>(fn: (bound: StandardType<Input, Condition>) => Promise<T>): Promise<T>;

  /** Change-log rows after `sinceState`; undefined when that state cannot be served. */
  changesSince(accountId: string, sinceState: string, maxRows: number): Promise<ChangeEntry[] | undefined>;

  /** Parses one FilterCondition; throws MethodError unsupportedFilter / invalidArguments. */
  parseCondition(condition: JsonObject): Condition;
  sortable(property: string): boolean;
  queryCount(accountId: string, filter: FilterNode<Condition> | null): Promise<number>;
  /** Position of `id` in the sorted, filtered results; undefined when not among them. */
  queryIndexOf(accountId: string, filter: FilterNode<Condition> | null, sort: SortKey[], id: string): Promise<number | undefined>;
  queryPage(accountId: string, filter: FilterNode<Condition> | null, sort: SortKey[], offset: number, limit: number): Promise<string[]>;
}
