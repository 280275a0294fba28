import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import type { Role } from '../db/store.js';
import { JmapClient } from './client.js';
import { CliError, EXIT, UsageError } from './errors.js';
import { parseIds, parsePropertyList, parseSort, parseWhere } from './fields.js';
import type { LocalFlags } from './local.js';
import type { AuditFlags } from './operations.js';
import { OBJECTS, kebab, resolveObject } from './objects.js';
import { stdio, type Output } from './output.js';
import {
  connectOptions, createRecord, deleteRecords, getRecord, queryRecords, readInput, readProcessStdin, updateRecord, wantsJson,
  type InputFlags, type ReadStdin, type RemoteFlags,
} from './remote.js';

/** The `jmap-keys` command line: remote verbs over JMAP (like stalwart-cli) and local admin commands. */
export interface RunContext {
  env: NodeJS.ProcessEnv;
  out: Output;
  readStdin: ReadStdin;
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** The local commands pull in the server and SQLite: loaded only when one of them runs. */
const local = () => import('./local.js');
const operations = () => import('./operations.js');
const lifecycle = () => import('./lifecycle.js');

function parseRole(value: string): Role {
  if (value !== 'admin' && value !== 'user') throw new UsageError(`--role ${value}: must be admin or user`);
  return value;
}

const OBJECT_HELP = `object type: ${OBJECTS.map((o) => kebab(o.name)).join(' or ')} (also ${OBJECTS[0]?.name}, ${OBJECTS[0]?.name.toLowerCase()}, ${OBJECTS[0]?.type})`;

const REMOTE_HELP = `
Connection:
  --url defaults to $JMAP_KEYS_URL, then http://127.0.0.1:8080.
  Credentials: --api-key (or $JMAP_KEYS_TOKEN), sent as Bearer; or --user with --password (Basic).

Exit codes: 0 ok, 1 refused by the server, 2 usage error, 3 server unreachable or authentication failed.`;

function remoteOptions(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'server URL (env JMAP_KEYS_URL, default http://127.0.0.1:8080)')
    .option('--api-key <key>', 'API key, sent as Bearer (env JMAP_KEYS_TOKEN)')
    .option('--user <login>', 'login for Basic authentication')
    .option('--password <password>', 'password for Basic authentication');
}

function localOptions(cmd: Command): Command {
  return cmd
    .option('--data <dir>', 'data folder (env JMAP_KEYS_DATA, default ./data)')
    .option('--db <file>', 'SQLite file (env JMAP_KEYS_DB, default <data>/jmap-keys.db)');
}

function inputOptions(cmd: Command): Command {
  return cmd
    .option('--field <name=value>', 'a property; repeatable. Object and set values are JSON; null clears a nullable property', collect)
    .option('--json [object]', 'the whole object as JSON; bare --json (last) prints JSON output instead')
    .option('--file <path>', 'read the object as JSON from a file')
    .option('--stdin', 'read the object as JSON from standard input');
}

export function buildProgram(ctx: RunContext, setExit: (code: number) => void): Command {
  const { env, out } = ctx;
  const program = new Command('jmap-keys');
  program
    .description('Manage jmap-keys credentials: remote commands over JMAP (like stalwart-cli), local commands on the database.')
    .version(version(), '-V, --version')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) })
    .showSuggestionAfterError(true);
  remoteOptions(program);
  program.addHelpText('after', `
Examples:
  export JMAP_KEYS_URL=http://127.0.0.1:8080 JMAP_KEYS_TOKEN=API_...
  jmap-keys query api-key
  jmap-keys create api-key --field description=Example --field expiresAt=2026-01-01T00:00:00Z
  jmap-keys get api-key b --json
  jmap-keys account create alice --role admin
  jmap-keys key create --login alice
${REMOTE_HELP}`);

  /** Connection flags given before the command, overridden by those given after it. */
  const remoteFlags = (cmd: Command): RemoteFlags => ({ ...program.opts<RemoteFlags>(), ...cmd.opts<RemoteFlags>() });
  const connect = (cmd: Command) => JmapClient.connect(connectOptions(remoteFlags(cmd), env));

  remoteOptions(program.command('get')
    .description('show one record')
    .argument('<object>', OBJECT_HELP)
    .argument('<id>', 'record id')
    .option('--fields <list>', 'comma-separated properties to show')
    .option('--json', 'print JSON'))
    .addHelpText('after', REMOTE_HELP)
    .action(async (object: string, id: string, opts: { fields?: string; json?: boolean }, cmd: Command) => {
      const spec = resolveObject(object);
      const fields = opts.fields === undefined ? undefined : parsePropertyList(spec, opts.fields);
      await getRecord(await connect(cmd), spec, id, fields, opts.json === true, out);
    });

  remoteOptions(inputOptions(program.command('create')
    .description('create a record; prints its id and, once, its secret')
    .argument('<object>', OBJECT_HELP)))
    .addHelpText('after', `
Examples:
  jmap-keys create api-key --field description=Example --field expiresAt=2026-01-01T00:00:00Z \\
    --field 'permissions={"@type":"Inherit"}' --field 'allowedIps=[]'
  jmap-keys create api-key --json '{"description":"CI","allowedIps":["10.0.0.0/8"]}'
  echo '{"description":"CI"}' | jmap-keys create api-key --stdin --json
${REMOTE_HELP}`)
    .action(async (object: string, opts: InputFlags, cmd: Command) => {
      const spec = resolveObject(object);
      const input = await readInput(spec, opts, 'create', ctx.readStdin);
      await createRecord(await connect(cmd), spec, input, wantsJson(opts), out);
    });

  remoteOptions(inputOptions(program.command('update')
    .description('change a record; keys may be JSON pointers (allowedIps/10.0.0.1=true)')
    .argument('<object>', OBJECT_HELP)
    .argument('<id>', 'record id')))
    .addHelpText('after', `
Examples:
  jmap-keys update api-key b --field description='Updated'
  jmap-keys update api-key b --field expiresAt=null --field allowedIps/10.0.0.1=true
  (in a JSON-pointer key, / inside a name is written ~1: allowedIps/10.0.0.0~18=true)
${REMOTE_HELP}`)
    .action(async (object: string, id: string, opts: InputFlags, cmd: Command) => {
      const spec = resolveObject(object);
      const patch = await readInput(spec, opts, 'update', ctx.readStdin);
      await updateRecord(await connect(cmd), spec, id, patch, wantsJson(opts), out);
    });

  remoteOptions(program.command('delete')
    .description('destroy records, in batches of the server\'s maxObjectsInSet; one line per id, then a count')
    .argument('<object>', OBJECT_HELP)
    .option('--ids <list>', 'comma-separated ids')
    .option('--stdin', 'read ids from standard input (JSON array, or separated by commas, spaces or newlines)')
    .option('--json', 'print JSON'))
    .addHelpText('after', REMOTE_HELP)
    .action(async (object: string, opts: { ids?: string; stdin?: boolean; json?: boolean }, cmd: Command) => {
      const spec = resolveObject(object);
      if ((opts.ids === undefined) === (opts.stdin !== true)) throw new CliError('give the ids with either --ids or --stdin', EXIT.usage);
      const ids = opts.ids !== undefined ? parseIds(opts.ids, '--ids') : parseIds(await ctx.readStdin(), '--stdin');
      const failed = await deleteRecords(await connect(cmd), spec, ids, opts.json === true, out);
      if (failed > 0) setExit(EXIT.failed);
    });

  remoteOptions(program.command('query')
    .description('list records, paging through all results')
    .argument('<object>', OBJECT_HELP)
    .option('--where <condition>', 'filter: name=value, name<value, name<=value, name>value or name>=value; repeatable (ANDed)', collect)
    .option('--fields <list>', 'comma-separated properties to show (default: id, description, expiresAt)')
    .option('--sort <list>', 'comma-separated properties to sort by; a leading - sorts descending')
    .option('--json', 'print JSON: an array of ids, or of records with --fields'))
    .addHelpText('after', `
Examples:
  jmap-keys query api-key
  jmap-keys query api-key --where expiresAt=2026-01-01T00:00:00Z
  jmap-keys query api-key --where 'expiresAt<2026-01-01T00:00:00Z' --fields id,description,lastUsedAt --json
${REMOTE_HELP}`)
    .action(async (object: string, opts: { where?: string[]; fields?: string; sort?: string; json?: boolean }, cmd: Command) => {
      const spec = resolveObject(object);
      const filter = parseWhere(spec, opts.where ?? []);
      const fields = opts.fields === undefined ? undefined : parsePropertyList(spec, opts.fields);
      const sort = opts.sort === undefined ? undefined : parseSort(spec, opts.sort);
      await queryRecords(await connect(cmd), spec, { filter, sort, fields, asJson: opts.json === true }, out);
    });

  remoteOptions(program.command('rotate')
    .description('issue a new secret for a credential (same description, rights and limits); the old one is revoked, or kept for --grace')
    .argument('<object>', OBJECT_HELP)
    .argument('<id>', 'record id')
    .option('--grace <duration>', 'keep the old secret working this long (never past its own expiry): 30m, 1h, 7d; at most 7d', '0')
    .option('--json', 'print JSON'))
    .addHelpText('after', `
Examples:
  jmap-keys rotate api-key b --grace 1h
  jmap-keys rotate app-password c
${REMOTE_HELP}`)
    .action(async (object: string, id: string, opts: { grace?: string; json?: boolean }, cmd: Command) => {
      const spec = resolveObject(object);
      const { graceFlag, rotateRecord } = await lifecycle();
      const grace = graceFlag(opts.grace);
      await rotateRecord(await connect(cmd), spec, id, grace, opts.json === true, out);
    });

  localOptions(remoteOptions(program.command('revoke-all')
    .description('revoke every API key or app password of an account: with --login on the database (no server needed), else over JMAP on the authenticated account')
    .argument('<kind>', 'api-keys or app-passwords')
    .option('--login <login>', 'the account, on the database itself (local; internal credentials too)')
    .option('--include-current', 'remote: revoke the API key this command authenticates with too (kept otherwise)')
    .option('--json', 'print JSON')))
    .addHelpText('after', `
Examples:
  jmap-keys revoke-all app-passwords --login alice
  jmap-keys revoke-all api-keys --url https://keys.example.com --api-key API_...
${REMOTE_HELP}`)
    .action(async (kind: string, opts: LocalFlags & RemoteFlags & { login?: string; includeCurrent?: boolean; json?: boolean }, cmd: Command) => {
      const { parseKinds, revokeAllRemote } = await lifecycle();
      parseKinds(kind);
      if (opts.login !== undefined) {
        const remote = remoteFlags(cmd);
        if (remote.url !== undefined || remote.apiKey !== undefined || remote.user !== undefined || opts.includeCurrent) {
          throw new UsageError('--login works on the database itself: it takes no --url, --api-key, --user or --include-current');
        }
        await (await local()).revokeAllLocal(env, { ...opts, login: opts.login }, kind, out);
        return;
      }
      if (opts.data !== undefined || opts.db !== undefined) throw new UsageError('--data and --db go with --login (the local form)');
      await revokeAllRemote(await connect(cmd), kind, opts.includeCurrent === true, opts.json === true, out);
    });

  // Local commands: the database itself, no server needed.
  program.command('serve')
    .description('start the server (as npm start); any setting as --name value, e.g. --port 8080 --data ./data')
    .allowUnknownOption()
    .allowExcessArguments()
    .addHelpText('after', '\nSettings: every JMAP_KEYS_* variable as a flag, e.g. JMAP_KEYS_MAX_KEYS_PER_ACCOUNT → --max-keys-per-account.')
    .action(async (_opts: unknown, cmd: Command) => {
      await (await local()).serve(env, cmd.args, out);
    });

  const account = program.command('account').description('manage accounts in the database (no server needed)');
  localOptions(account.command('create')
    .description('create an account; without --password one is generated and printed once')
    .argument('<login>', 'login name')
    .addOption(new Option('--role <role>', 'admin or user').default('user').argParser(parseRole))
    .option('--email <address>', 'the account\'s mail address: mail clients may log in with it too')
    .option('--password <password>', `the password (at least 8 characters)`))
    .action(async (login: string, opts: LocalFlags & { role: Role; password?: string; email?: string }) => {
      await (await local()).accountCreate(env, opts, login, out);
    });
  localOptions(account.command('list')
    .description('list accounts with their credential counts')
    .option('--json', 'print JSON'))
    .action(async (opts: LocalFlags & { json?: boolean }) => {
      await (await local()).accountList(env, opts, out);
    });
  localOptions(account.command('email')
    .description('set the account\'s mail address (its mail user name); without an address, remove it')
    .argument('<login>', 'login name')
    .argument('[address]', 'e.g. alice@example.com'))
    .action(async (login: string, address: string | undefined, opts: LocalFlags) => {
      await (await local()).accountEmail(env, opts, login, address, out);
    });
  localOptions(account.command('passwd')
    .description('set an account password; without --password one is generated and printed once')
    .argument('<login>', 'login name')
    .option('--password <password>', 'the new password (at least 8 characters)')
    .option('--revoke-credentials', 'also revoke every API key and app password of the account (internal ones too), in the same transaction'))
    .action(async (login: string, opts: LocalFlags & { password?: string; revokeCredentials?: boolean }) => {
      await (await local()).accountPasswd(env, opts, login, out);
    });
  localOptions(account.command('delete')
    .description('delete an account and all its credentials')
    .argument('<login>', 'login name')
    .option('--force', 'also delete the last admin account'))
    .action(async (login: string, opts: LocalFlags & { force?: boolean }) => {
      await (await local()).accountDelete(env, opts, login, out);
    });

  const key = program.command('key').description('API keys in the database (no server needed)');
  localOptions(key.command('create')
    .description('create an API key for an account (e.g. a first or lost admin key); prints the secret once')
    .requiredOption('--login <login>', 'the account that owns the key')
    .option('--description <text>', 'description', 'Created with jmap-keys key create')
    .option('--expires-at <date>', 'expiry as a UTCDate, e.g. 2026-01-01T00:00:00Z (default: never)')
    .option('--json', 'print JSON'))
    .action(async (opts: LocalFlags & { login: string; description: string; expiresAt?: string; json?: boolean }) => {
      await (await local()).keyCreate(env, opts, out);
    });

  localOptions(program.command('audit')
    .description('show the audit trail from the database, newest last (no server needed)')
    .option('--since <date>', 'events at or after this UTCDate')
    .option('--until <date>', 'events before this UTCDate')
    .option('--login <login>', 'events about this account')
    .option('--credential <id>', 'events about this credential id')
    .option('--type <type>', 'event type, e.g. credential.destroyed; repeatable', collect)
    .option('--limit <n>', 'at most this many of the newest events', '100')
    .option('--json', 'print JSON (x:AuditEvent objects)'))
    .addHelpText('after', `
Examples:
  jmap-keys audit --type credential.destroyed --since 2026-01-01T00:00:00Z
  jmap-keys audit --login alice --json`)
    .action(async (opts: AuditFlags) => {
      await (await operations()).auditList(env, opts, out);
    });

  localOptions(program.command('backup')
    .description('copy the database consistently while the server runs; keep server-secret with the copy')
    .requiredOption('--out <file>', 'the new file to write'))
    .action(async (opts: LocalFlags & { out: string }) => {
      await (await operations()).backup(env, opts, out);
    });

  return program;
}

/** Runs one command line; resolves to the exit code (a started `serve` keeps running after). */
export async function run(argv: readonly string[], ctx: RunContext = { env: process.env, out: stdio, readStdin: readProcessStdin }): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(ctx, (c) => { code = c; });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (err instanceof CliError) {
      ctx.out.err(`error: ${err.message}`);
      return err.exitCode;
    }
    ctx.out.err(`error: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT.failed;
  }
}
