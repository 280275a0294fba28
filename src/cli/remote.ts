import { readFileSync } from 'node:fs';
import { isPlainObject, type Invocation, type JsonObject, type JsonValue } from '../jmap/types.js';
import { expectResponse, type ConnectOptions, type JmapClient } from './client.js';
import { CliError, EXIT, UsageError } from './errors.js';
import { checkObject, parseFields, parseJsonText, type Mode } from './fields.js';
import type { ObjectSpec } from './objects.js';
import { formatSetError, json, renderRecord, renderTable, type Output } from './output.js';

/** The remote verbs: get, create, update, delete and query over JMAP, as stalwart-cli has them. */

export interface RemoteFlags {
  url?: string;
  apiKey?: string;
  user?: string;
  password?: string;
}

export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** Where to connect and how to authenticate: flags first, then JMAP_KEYS_URL / JMAP_KEYS_TOKEN. */
export function connectOptions(flags: RemoteFlags, env: NodeJS.ProcessEnv): ConnectOptions {
  const url = flags.url || env.JMAP_KEYS_URL || DEFAULT_URL;
  const basic = flags.user !== undefined || flags.password !== undefined;
  if (flags.apiKey !== undefined && basic) throw new UsageError('give either --api-key or --user/--password, not both');
  if (flags.apiKey !== undefined) {
    if (flags.apiKey === '') throw new UsageError('--api-key is empty');
    return { url, auth: { scheme: 'bearer', token: flags.apiKey } };
  }
  if (basic) {
    if (!flags.user || flags.password === undefined) throw new UsageError('--user and --password go together');
    return { url, auth: { scheme: 'basic', user: flags.user, password: flags.password } };
  }
  if (env.JMAP_KEYS_TOKEN) return { url, auth: { scheme: 'bearer', token: env.JMAP_KEYS_TOKEN } };
  throw new UsageError('no credentials: set JMAP_KEYS_TOKEN or give --api-key, or --user with --password');
}

/** Where create/update take their object from: --field (repeatable), --json '{…}', --file F or --stdin. */
export interface InputFlags {
  field?: string[];
  json?: string | boolean;
  file?: string;
  stdin?: boolean;
}

export type ReadStdin = () => Promise<string>;

export const readProcessStdin: ReadStdin = async () => {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

/** True when --json was given bare: JSON output rather than JSON input. */
export const wantsJson = (flags: InputFlags) => flags.json === true;

export async function readInput(spec: ObjectSpec, flags: InputFlags, mode: Mode, readStdin: ReadStdin): Promise<JsonObject> {
  const jsonText = typeof flags.json === 'string' ? flags.json : undefined;
  const sources = [flags.field && flags.field.length > 0, jsonText !== undefined, flags.file !== undefined, flags.stdin === true].filter(Boolean).length;
  if (sources > 1) throw new UsageError('--field, --json, --file and --stdin are alternatives: use one');
  let value: JsonObject;
  if (jsonText !== undefined) {
    if (!jsonText.trimStart().startsWith('{')) {
      throw new UsageError(`--json takes a JSON object ('{"description":"…"}'); for JSON output put a bare --json after the other arguments`);
    }
    value = checkObject(spec, parseJsonText(jsonText, '--json'), mode, '--json');
  } else if (flags.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(flags.file, 'utf8');
    } catch (err) {
      throw new UsageError(`--file ${flags.file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    value = checkObject(spec, parseJsonText(text, `--file ${flags.file}`), mode, `--file ${flags.file}`);
  } else if (flags.stdin) {
    value = checkObject(spec, parseJsonText(await readStdin(), '--stdin'), mode, '--stdin');
  } else {
    value = parseFields(spec, flags.field ?? [], mode);
  }
  if (Object.keys(value).length === 0) throw new UsageError(`nothing to ${mode}: give --field name=value, --json '{…}', --file F or --stdin`);
  return value;
}

const method = (spec: ObjectSpec, verb: string) => `${spec.type}/${verb}`;

function setFailure(spec: ObjectSpec, verb: string, id: string, error: JsonValue | undefined): CliError {
  return new CliError(`${formatSetError(error)} (${verb} ${spec.name} ${id})`, EXIT.failed);
}

/** Properties in the type's order, then any others the server sent. */
function displayOrder(spec: ObjectSpec, record: JsonObject): string[] {
  const known = Object.keys(spec.properties).filter((p) => p in record);
  return [...known, ...Object.keys(record).filter((k) => !(k in spec.properties))];
}

export async function getRecord(client: JmapClient, spec: ObjectSpec, id: string, fields: string[] | undefined, asJson: boolean, out: Output): Promise<void> {
  const result = await client.call(method(spec, 'get'), { ids: [id], properties: fields ?? null });
  const list = Array.isArray(result.list) ? result.list : [];
  const record = list.find((r): r is JsonObject => isPlainObject(r) && r.id === id) ?? list.find(isPlainObject);
  if (!record) throw new CliError(`${spec.name} ${id} not found`, EXIT.failed);
  out.out(asJson ? json(record) : renderRecord(record, fields ?? displayOrder(spec, record)));
}

export async function createRecord(client: JmapClient, spec: ObjectSpec, input: JsonObject, asJson: boolean, out: Output): Promise<void> {
  const result = await client.call(method(spec, 'set'), { create: { n0: input } });
  const created = isPlainObject(result.created) ? result.created.n0 : undefined;
  if (!isPlainObject(created) || typeof created.id !== 'string') {
    throw setFailure(spec, 'create', 'n0', isPlainObject(result.notCreated) ? result.notCreated.n0 : undefined);
  }
  if (asJson) {
    out.out(json(created));
    return;
  }
  const { id, ...rest } = created;
  out.out(`Created ${spec.name} ${id}`);
  if (Object.keys(rest).length > 0) out.out(renderRecord(rest, displayOrder(spec, rest)));
  if (typeof rest.secret === 'string') out.err('The secret is shown only once: store it now.');
}

export async function updateRecord(client: JmapClient, spec: ObjectSpec, id: string, patch: JsonObject, asJson: boolean, out: Output): Promise<void> {
  const result = await client.call(method(spec, 'set'), { update: { [id]: patch } });
  const updated = isPlainObject(result.updated) && Object.hasOwn(result.updated, id) ? result.updated[id] : undefined;
  if (updated === undefined) {
    const notUpdated = isPlainObject(result.notUpdated) ? result.notUpdated[id] : undefined;
    throw setFailure(spec, 'update', id, notUpdated ?? { type: 'serverFail', description: 'the server did not report the update' });
  }
  if (asJson) {
    out.out(json({ id, ...(isPlainObject(updated) ? updated : {}) }));
    return;
  }
  out.out(`Updated ${spec.name} ${id}`);
  if (isPlainObject(updated) && Object.keys(updated).length > 0) out.out(renderRecord(updated, displayOrder(spec, updated)));
}

/** Destroys in batches of maxObjectsInSet; one line per id and a count. Resolves to the number that failed. */
export async function deleteRecords(client: JmapClient, spec: ObjectSpec, ids: string[], asJson: boolean, out: Output): Promise<number> {
  const destroyed: string[] = [];
  const notDestroyed: JsonObject = {};
  for (let i = 0; i < ids.length; i += client.limits.maxObjectsInSet) {
    const chunk = ids.slice(i, i + client.limits.maxObjectsInSet);
    const result = await client.call(method(spec, 'set'), { destroy: chunk });
    const done = new Set(Array.isArray(result.destroyed) ? result.destroyed.filter((x): x is string => typeof x === 'string') : []);
    const failed = isPlainObject(result.notDestroyed) ? result.notDestroyed : {};
    for (const id of chunk) {
      if (done.has(id)) {
        destroyed.push(id);
        if (!asJson) out.out(`${id} deleted`);
      } else {
        const error = failed[id] ?? { type: 'serverFail', description: 'the server did not report this id' };
        notDestroyed[id] = error;
        if (!asJson) out.out(`${id} failed: ${formatSetError(error)}`);
      }
    }
  }
  const failures = Object.keys(notDestroyed).length;
  out.out(asJson ? json({ destroyed, notDestroyed }) : `${destroyed.length} deleted, ${failures} failed`);
  return failures;
}

export interface QueryFlags {
  filter?: JsonObject;
  sort?: JsonObject[];
  /** Properties to fetch; undefined means ids only with --json, the default columns otherwise. */
  fields?: string[];
  asJson: boolean;
}

/**
 * Pages through every result: limit = maxObjectsInGet, calculateTotal on the first page, then anchor = last id
 * with anchorOffset 1. When properties are wanted, each page's /get rides in the same request via a #ids reference.
 */
export async function queryRecords(client: JmapClient, spec: ObjectSpec, flags: QueryFlags, out: Output): Promise<void> {
  const columns = flags.fields ?? (flags.asJson ? undefined : [...spec.listColumns]);
  const pageSize = client.limits.maxObjectsInGet;
  const ids: string[] = [];
  const records: JsonObject[] = [];
  let anchor: string | undefined;
  let total: number | undefined;
  for (;;) {
    const args: JsonObject = { limit: pageSize };
    if (flags.filter) args.filter = flags.filter;
    if (flags.sort) args.sort = flags.sort;
    if (anchor === undefined) args.calculateTotal = true;
    else Object.assign(args, { anchor, anchorOffset: 1 });
    const calls: Invocation[] = [[method(spec, 'query'), args, 'c0']];
    if (columns) {
      calls.push([method(spec, 'get'), { '#ids': { resultOf: 'c0', name: method(spec, 'query'), path: '/ids' }, properties: columns }, 'c1']);
    }
    const responses = await client.request(calls);
    const query = expectResponse(responses[0] as Invocation, method(spec, 'query'));
    const page = Array.isArray(query.ids) ? query.ids.filter((x): x is string => typeof x === 'string') : [];
    if (typeof query.total === 'number') total = query.total;
    ids.push(...page);
    if (columns && page.length > 0) {
      const got = expectResponse(responses[1] as Invocation, method(spec, 'get'));
      const byId = new Map((Array.isArray(got.list) ? got.list.filter(isPlainObject) : []).map((r) => [r.id, r]));
      for (const id of page) {
        const record = byId.get(id);
        if (record) records.push(record);
      }
    }
    const effectiveLimit = typeof query.limit === 'number' && query.limit > 0 ? query.limit : pageSize;
    const last = page[page.length - 1];
    if (last === undefined || page.length < effectiveLimit || last === anchor || (total !== undefined && ids.length >= total)) break;
    anchor = last;
  }
  if (flags.asJson) {
    out.out(json(columns ? records : ids));
    return;
  }
  if (records.length === 0) {
    out.out(`No ${spec.name} records found.`);
    return;
  }
  out.out(renderTable(columns ?? [...spec.listColumns], records, out.isTty));
  out.out(`\n${records.length} ${spec.name} record${records.length === 1 ? '' : 's'}`);
}
