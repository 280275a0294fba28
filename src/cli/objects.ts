import { CREDENTIAL_PROPERTIES, propertiesOf, type PropertyContract, type PropertyType } from '../credentials/contract.js';
import { UsageError } from './errors.js';

export type { PropertyType };

export interface PropertySpec {
  type: PropertyType;
  /** Accepts JSON null. */
  nullable: boolean;
  /** Set by the server only: rejected in create and update. */
  readOnly: boolean;
  /** Usable in --where (as `name`, `nameIsGreaterThan`, …). */
  filterable: boolean;
  /** Usable in --sort. */
  sortable: boolean;
}

export interface ObjectSpec {
  /** Display name, as in "Created ApiKey b". */
  name: string;
  /** JMAP type name: methods are `${type}/get` and so on. */
  type: string;
  properties: Readonly<Record<string, PropertySpec>>;
  /** Table columns for `query` when --fields is not given. */
  listColumns: readonly string[];
}

/** The credential contract (src/credentials/contract.ts) as the command line uses it. */
function credentialProperties(withScopes: boolean): Record<string, PropertySpec> {
  const out: Record<string, PropertySpec> = {};
  for (const name of propertiesOf(withScopes)) {
    const p = CREDENTIAL_PROPERTIES[name] as PropertyContract;
    out[name] = { type: p.type, nullable: p.nullable, readOnly: p.serverSet, filterable: p.filterable, sortable: p.sortable };
  }
  return out;
}
/** A query's default table: what a credential is, and its last use (when, for what, from where). */
const LIST_COLUMNS = ['id', 'description', 'expiresAt', 'lastUsedAt', 'lastUsedService', 'lastUsedFrom'];

/**
 * The object types the remote commands know, one table entry each. Names are matched as stalwart-cli does:
 * case-insensitive, `x:` prefix optional; dashes and underscores are ignored too, so `api-key`, `ApiKey`,
 * `apikey` and `x:ApiKey` all name the same type.
 */
export const OBJECTS: readonly ObjectSpec[] = [
  { name: 'ApiKey', type: 'x:ApiKey', properties: credentialProperties(false), listColumns: LIST_COLUMNS },
  { name: 'AppPassword', type: 'x:AppPassword', properties: credentialProperties(true), listColumns: LIST_COLUMNS },
];

const normalizeName = (name: string) => name.toLowerCase().replace(/^x:/, '').replace(/[-_]/g, '');

/** The object type a command-line name refers to; a usage error listing the known names otherwise. */
export function resolveObject(name: string): ObjectSpec {
  const wanted = normalizeName(name);
  const found = OBJECTS.find((o) => normalizeName(o.name) === wanted);
  if (!found) {
    const known = OBJECTS.map((o) => `${o.name} (${kebab(o.name)})`).join(', ');
    throw new UsageError(`unknown object type "${name}"; known types: ${known}`);
  }
  return found;
}

/** `ApiKey` → `api-key`: the spelling used in help texts. */
export function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

/** The canonical spelling of a property name (case-insensitive match), or undefined when the type has none. */
export function findProperty(spec: ObjectSpec, name: string): string | undefined {
  if (Object.hasOwn(spec.properties, name)) return name;
  const lower = name.toLowerCase();
  return Object.keys(spec.properties).find((p) => p.toLowerCase() === lower);
}

export function propertySpec(spec: ObjectSpec, canonical: string): PropertySpec {
  const found = spec.properties[canonical];
  if (!found) throw new Error(`no property ${canonical} on ${spec.name}`);
  return found;
}

export function unknownProperty(spec: ObjectSpec, name: string, what = 'property'): UsageError {
  return new UsageError(`unknown ${what} "${name}" for ${spec.name}; known: ${Object.keys(spec.properties).join(', ')}`);
}
