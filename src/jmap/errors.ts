import type { JsonObject } from './types.js';

/** Method-level error types: RFC 8620 §3.6.2's general ones, then those of the standard methods (§5.1–§5.6). */
export type MethodErrorType =
  | 'serverUnavailable' | 'serverFail' | 'serverPartialFail' | 'unknownMethod' | 'invalidArguments'
  | 'invalidResultReference' | 'forbidden' | 'accountNotFound' | 'accountNotSupportedByMethod' | 'accountReadOnly'
  | 'requestTooLarge' | 'stateMismatch' | 'cannotCalculateChanges' | 'tooManyChanges'
  | 'anchorNotFound' | 'unsupportedFilter' | 'unsupportedSort'
  | 'fromAccountNotFound' | 'fromAccountNotSupportedByMethod'
  // Of methods that act on one record outside /set (RFC 8620 §3.6.2 lets a method define its own).
  | 'notFound' | 'overQuota';

/** A method-level error (RFC 8620 §3.6.2): becomes ["error", {type, description}, callId]. */
export class MethodError extends Error {
  constructor(readonly type: MethodErrorType, readonly description?: string, readonly extra: JsonObject = {}) {
    super(description ?? type);
  }
  toJSON(): JsonObject {
    const out: JsonObject = { type: this.type, ...this.extra };
    out.type = this.type; // extra members never replace the typed one
    if (this.description !== undefined) out.description = this.description;
    return out;
  }
}

/** SetError types: RFC 8620 §5.3's, and /copy's alreadyExists (§5.4). */
export type SetErrorType =
  | 'forbidden' | 'overQuota' | 'tooLarge' | 'rateLimit' | 'notFound' | 'invalidPatch' | 'willDestroy'
  | 'invalidProperties' | 'singleton' | 'alreadyExists';

/** A per-record error inside /set (RFC 8620 §5.3). */
export interface SetError {
  type: SetErrorType;
  description?: string;
  properties?: string[];
  [extra: string]: string | string[] | undefined;
}

/** Request-level error types (RFC 8620 §3.6.1). */
export type RequestErrorType = 'unknownCapability' | 'notJSON' | 'notRequest' | 'limit';

/** A request-level error (RFC 8620 §3.6.1), sent as application/problem+json. */
export class RequestError extends Error {
  constructor(
    readonly errorType: RequestErrorType,
    readonly status: number,
    readonly detail: string,
    readonly extra: JsonObject = {},
  ) {
    super(detail);
  }
  toJSON(): JsonObject {
    return { type: `urn:ietf:params:jmap:error:${this.errorType}`, status: this.status, detail: this.detail, ...this.extra };
  }
}

/** Shortens client-supplied text before it goes into an error description (never echo unbounded input). */
export function clip(text: string, max = 100): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
