import * as v from 'valibot';
import { RequestError } from './errors.js';
import { isWellFormed } from '../util/text.js';
import { isPlainObject, type Invocation, type JsonObject } from './types.js';

const ArgumentsSchema = v.custom<JsonObject>(isPlainObject, 'arguments must be an object');

/** The Request object (RFC 8620 §3.3). Unknown top-level members are ignored, as §3.3 asks. */
const RequestSchema = v.object({
  using: v.array(v.string()),
  methodCalls: v.array(v.strictTuple([v.string(), ArgumentsSchema, v.string()])),
  createdIds: v.optional(v.custom<Record<string, string>>(
    (x) => isPlainObject(x) && Object.values(x).every((id) => typeof id === 'string'),
    'createdIds must map creation ids to ids',
  )),
});

export interface JmapRequest {
  using: string[];
  methodCalls: Invocation[];
  createdIds?: Record<string, string>;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * How deeply a request's JSON may nest (objects and arrays). Every real request stays far below; past it a
 * request is refused before anything runs, so no later step (serialising the answer, a patch) can overflow.
 */
export const MAX_JSON_DEPTH = 256;

/**
 * I-JSON (RFC 7493, which RFC 8620 requires): no lone surrogate in any string or name; and the depth limit.
 * Recursive (the depth limit bounds the stack) so that walking a request allocates nothing.
 */
function checkShape(value: unknown, depth = 1): void {
  if (typeof value === 'string') {
    if (!isWellFormed(value)) throw new RequestError('notJSON', 400, 'The request is not I-JSON: a string holds a lone surrogate (invalid Unicode)');
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  if (depth > MAX_JSON_DEPTH) {
    throw new RequestError('limit', 400, `The request nests JSON deeper than ${MAX_JSON_DEPTH} levels`, { limit: 'maxJsonDepth' });
  }
  if (Array.isArray(value)) {
    for (const item of value as unknown[]) checkShape(item, depth + 1);
    return;
  }
  for (const key in value) {
    if (!isWellFormed(key)) throw new RequestError('notJSON', 400, 'The request is not I-JSON: a name holds a lone surrogate (invalid Unicode)');
    checkShape((value as Record<string, unknown>)[key], depth + 1);
  }
}

/** Decodes and validates a request body; throws RequestError with the RFC type. */
export function parseRequest(body: Uint8Array, contentType: string | undefined): JmapRequest {
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/json') {
    throw new RequestError('notJSON', 400, 'The request must have Content-Type application/json');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(body));
  } catch {
    throw new RequestError('notJSON', 400, 'The request body is not valid UTF-8 JSON');
  }
  checkShape(parsed);
  const result = v.safeParse(RequestSchema, parsed);
  if (!result.success) {
    const issue = result.issues[0];
    const path = issue ? v.getDotPath(issue) : null;
    throw new RequestError('notRequest', 400, `The request is not a valid JMAP Request object${path ? ` (at ${path})` : ''}: ${issue?.message ?? ''}`.trim());
  }
  return result.output as JmapRequest;
}
