import * as v from 'valibot';
import { MethodError } from '../errors.js';
import { isPlainObject, type JsonObject, type JsonValue } from '../types.js';

/** RFC 8620 §1.3 Int and UnsignedInt. */
export const Int = v.pipe(v.number(), v.safeInteger());
export const UnsignedInt = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
export const PositiveInt = v.pipe(v.number(), v.safeInteger(), v.minValue(1));
export const AccountIdArg = v.optional(v.nullable(v.string()));
export const IdList = v.array(v.string());
export const JsonObjectArg = v.custom<JsonObject>(isPlainObject, 'must be an object');
export const AnyJson = v.custom<JsonValue>(() => true);

/** Validates method arguments; unknown names and wrong types are `invalidArguments` (RFC 8620 §3.9). */
export function parseArgs<S extends v.GenericSchema>(schema: S, args: JsonObject): v.InferOutput<S> {
  const result = v.safeParse(schema, args);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const path = issue ? v.getDotPath(issue) : null;
  throw new MethodError('invalidArguments', `${path ?? 'arguments'}: ${issue?.message ?? 'invalid'}`.slice(0, 200));
}
