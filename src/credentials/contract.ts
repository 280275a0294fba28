/**
 * The credential object's contract, in one place: which properties x:ApiKey and x:AppPassword have, which the server
 * sets, which filter and sort, and the limits of what clients send. The JMAP type (jmap-type.ts), the validation
 * (validate.ts), the REST face, the CLI (src/cli/objects.ts) and the web page read it from here;
 * test/contract.test.ts holds spec/x-apikey.json to it.
 */
export type PropertyType = 'id' | 'string' | 'utcDate' | 'object' | 'set';

export interface PropertyContract {
  type: PropertyType;
  /** Accepts JSON null. */
  nullable: boolean;
  /** Set by the server only: a create may not send it; an update may only repeat it unchanged. */
  serverSet: boolean;
  /** Usable in /query filters (as `name`, `nameIsGreaterThan`, …). */
  filterable: boolean;
  sortable: boolean;
  /** Only x:AppPassword has it. */
  appPasswordOnly?: boolean;
}

const prop = (type: PropertyType, o: Partial<Omit<PropertyContract, 'type'>> = {}): PropertyContract => ({
  type, nullable: false, serverSet: false, filterable: false, sortable: false, ...o,
});

export const CREDENTIAL_PROPERTIES: Readonly<Record<string, PropertyContract>> = {
  id: prop('id', { serverSet: true, sortable: true }),
  description: prop('string', { sortable: true }),
  secret: prop('string', { serverSet: true }),
  createdAt: prop('utcDate', { serverSet: true, filterable: true, sortable: true }),
  expiresAt: prop('utcDate', { nullable: true, filterable: true, sortable: true }),
  permissions: prop('object', { nullable: true }),
  allowedIps: prop('set', { nullable: true }),
  lastUsedAt: prop('utcDate', { nullable: true, serverSet: true }),
  /** The client address of the last use (for mail logins, the mail client's). */
  lastUsedFrom: prop('string', { nullable: true, serverSet: true }),
  /** What the last use was: jmap, rest, imap, pop3 or smtp. */
  lastUsedService: prop('string', { nullable: true, serverSet: true }),
  scopes: prop('set', { nullable: true, appPasswordOnly: true }),
};

/** What clients may send. */
export const LIMITS = {
  /** Characters of a credential's description (the REST face's `name` is the same property). */
  descriptionMax: 1000,
  /** A REST `name` (the seed page's limit). */
  restNameMax: 100,
  allowedIpsMax: 100,
  deviceIdMax: 200,
} as const;

/** The properties of one object type, in wire order. */
export function propertiesOf(withScopes: boolean): string[] {
  return Object.entries(CREDENTIAL_PROPERTIES).filter(([, p]) => withScopes || !p.appPasswordOnly).map(([name]) => name);
}

/** The server-set properties of one object type (`id` aside: the standard methods treat it themselves). */
export function serverSetOf(withScopes: boolean): string[] {
  return propertiesOf(withScopes).filter((name) => name !== 'id' && CREDENTIAL_PROPERTIES[name]?.serverSet);
}
