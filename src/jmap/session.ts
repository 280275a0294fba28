import { createHash } from 'node:crypto';
import type { JsonObject } from './types.js';

export interface SessionAccount {
  id: string;
  name: string;
  isPersonal: boolean;
  isReadOnly: boolean;
  accountCapabilities: JsonObject;
}

export interface SessionInput {
  capabilities: Record<string, JsonObject>;
  accounts: SessionAccount[];
  primaryAccounts: Record<string, string>;
  username: string;
  baseUrl: string;
  apiPath: string;
}

/** The session state changes whenever anything else in the Session would (RFC 8620 §2). */
export function sessionState(input: Omit<SessionInput, 'baseUrl' | 'apiPath'>): string {
  return createHash('sha256').update(JSON.stringify(input)).digest('base64url').slice(0, 16);
}

/** The Session resource (RFC 8620 §2) with absolute URLs (fetch-based clients need them). */
export function buildSession(input: SessionInput): JsonObject {
  const { baseUrl, apiPath, ...stateInput } = input;
  return {
    capabilities: input.capabilities,
    accounts: Object.fromEntries(input.accounts.map(({ id, ...rest }) => [id, { ...rest }])),
    primaryAccounts: input.primaryAccounts,
    username: input.username,
    apiUrl: `${baseUrl}${apiPath}`,
    downloadUrl: `${baseUrl}/jmap/download/{accountId}/{blobId}/{name}?accept={type}`,
    uploadUrl: `${baseUrl}/jmap/upload/{accountId}/`,
    eventSourceUrl: `${baseUrl}/jmap/eventsource/?types={types}&closeafter={closeafter}&ping={ping}`,
    state: sessionState(stateInput),
  };
}
