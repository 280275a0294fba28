/** RFC 8620 wire types shared by the protocol machinery. Knows nothing about any object type. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject { [key: string]: JsonValue }

/** [name, arguments, callId] (RFC 8620 §3.2). */
export type Invocation = [string, JsonObject, string];

export const CORE_CAPABILITY = 'urn:ietf:params:jmap:core';

export interface CoreLimits {
  maxSizeUpload: number;
  maxConcurrentUpload: number;
  maxSizeRequest: number;
  maxConcurrentRequests: number;
  maxCallsInRequest: number;
  maxObjectsInGet: number;
  maxObjectsInSet: number;
  collationAlgorithms: string[];
}

/** Who is calling, as the protocol layer needs to know it. */
export interface Caller {
  accountId: string;
  username: string;
  permissions: ReadonlySet<string>;
  /**
   * The limits of the credential the caller presented, which anything it creates or edits must stay within
   * (undefined: unrestricted). The protocol layer passes them through to the object types.
   */
  restrictions?: CallerRestrictions;
  /** Where the call came from, for what the object types record (an audit trail); opaque to the protocol layer. */
  origin?: CallerOrigin;
}

export interface CallerOrigin {
  /** The credential the request was authenticated with (null: a password or a session). */
  credentialId: number | null;
  clientIp: string | null;
  /** The face the request came through (jmap, web, …). */
  via: string;
}

export interface CallerRestrictions {
  /** Unix seconds, or null for none. */
  expiresAt: number | null;
  /** IP masks; empty for none. */
  allowedIps: readonly string[];
  /** Whether the caller holds the mail servers' `internal` right (to mint, rotate or revoke such credentials). */
  internal: boolean;
}

export function isPlainObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
