import { MethodError } from './errors.js';
import { evaluateReferencePath } from './pointer.js';
import { isPlainObject, type Invocation, type JsonObject, type JsonValue } from './types.js';

/**
 * Replaces every `#name` argument by the value its ResultReference points at (RFC 8620 §3.7).
 * Runs before the handler; any failure fails the whole call before it does anything.
 * Returns a null-prototype copy so names like "__proto__" stay plain data.
 */
export function resolveReferences(args: JsonObject, responses: readonly Invocation[], maxItems: number): JsonObject {
  const out = Object.create(null) as JsonObject;
  for (const key of Object.keys(args)) {
    const value = args[key] as JsonValue;
    if (!key.startsWith('#')) {
      out[key] = value;
      continue;
    }
    const name = key.slice(1);
    if (Object.hasOwn(args, name)) throw new MethodError('invalidArguments', `Both ${name} and #${name} given`);
    out[name] = resolveOne(value, responses, maxItems);
  }
  return out;
}

function resolveOne(ref: JsonValue, responses: readonly Invocation[], maxItems: number): JsonValue {
  if (!isPlainObject(ref) || typeof ref.resultOf !== 'string' || typeof ref.name !== 'string' || typeof ref.path !== 'string') {
    throw new MethodError('invalidResultReference', 'A ResultReference needs string resultOf, name and path');
  }
  const target = responses.find((r) => r[2] === ref.resultOf);
  if (!target) throw new MethodError('invalidResultReference', 'resultOf names no earlier call');
  if (target[0] !== ref.name) throw new MethodError('invalidResultReference', `The referenced response is ${target[0]}, not ${ref.name.slice(0, 64)}`);
  const value = evaluateReferencePath(target[1], ref.path, maxItems);
  if (value === undefined) throw new MethodError('invalidResultReference', 'The path does not resolve');
  return value;
}
