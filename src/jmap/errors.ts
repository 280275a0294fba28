import type { JsonObject } from './types.js';

/** A method-level error (RFC 8620 §3.6.2): becomes ["error", {type, description}, callId]. */
export class MethodError extends Error {
  constructor(readonly type: string, readonly description?: string, readonly extra: JsonObject = {}) {
    super(description ?? type);
  }
  toJSON(): JsonObject {
    const out: JsonObject = { type: this.type, ...this.extra };
    if (this.description !== undefined) out.description = this.description;
    return out;
  }
}

/** A per-record error inside /set (RFC 8620 §5.3). */
export interface SetError {
  type: string;
  description?: string;
  properties?: string[];
  [extra: string]: string | string[] | undefined;
}

/** A request-level error (RFC 8620 §3.6.1), sent as application/problem+json. */
export class RequestError extends Error {
  constructor(
    readonly errorType: string,
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
