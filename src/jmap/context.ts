import { MethodError } from './errors.js';
import type { Caller, CoreLimits, JsonObject, JsonValue } from './types.js';

/** What the host application tells the protocol layer about accounts. */
export interface AccountDirectory {
  /** Whether `caller` may act on `accountId`: unknown accounts are 'notFound', others' without the right 'forbidden'. */
  access(caller: Caller, accountId: string): Promise<'ok' | 'notFound' | 'forbidden'>;
}

/** Everything a method handler may use; one per request. */
export interface MethodContext {
  readonly caller: Caller;
  readonly limits: CoreLimits;
  /** creation id → record id, request-wide (RFC 8620 §3.3, §5.3). */
  readonly createdIds: Map<string, string>;
  /** The account a method acts on: an omitted or null accountId means the caller's own (Stalwart-compatible). */
  resolveAccount(value: JsonValue | undefined): Promise<string>;
}

export type MethodHandler = (args: JsonObject, ctx: MethodContext) => JsonObject | Promise<JsonObject>;

export interface MethodDefinition {
  capability: string;
  handler: MethodHandler;
}

export function makeContext(caller: Caller, limits: CoreLimits, directory: AccountDirectory, createdIds: Map<string, string>): MethodContext {
  return {
    caller,
    limits,
    createdIds,
    async resolveAccount(value) {
      if (value === undefined || value === null) return caller.accountId;
      if (typeof value !== 'string') throw new MethodError('invalidArguments', 'accountId must be a string');
      const access = await directory.access(caller, value);
      if (access === 'notFound') throw new MethodError('accountNotFound');
      if (access === 'forbidden') throw new MethodError('forbidden', `You are not an owner of account ${value.slice(0, 64)}`);
      return value;
    },
  };
}
