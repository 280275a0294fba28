import { networkInterfaces } from 'node:os';
import * as v from 'valibot';
import { normalizeMask } from './auth/ipmask.js';
import { LOG_LEVELS } from './log.js';

const PREFIX = 'JMAP_KEYS_';

const intFrom = (min: number, max: number) =>
  v.pipe(v.string(), v.regex(/^\d+$/, 'must be a whole number'), v.transform(Number), v.minValue(min), v.maxValue(max));

const HostName = v.pipe(v.string(), v.regex(/^[A-Za-z0-9.-]+$/, 'must be a host name'));

const Bool = v.pipe(v.picklist(['true', 'false', '1', '0', 'yes', 'no']), v.transform((b) => b === 'true' || b === '1' || b === 'yes'));

/** Host, ports and on/off switch of one mail protocol, as the REST connectionInfo shows them. */
function protocolSettings<P extends string>(p: P, port: string, securePort: string) {
  return {
    [`${p}_HOST`]: v.optional(HostName),
    [`${p}_PORT`]: v.optional(intFrom(1, 65535), port),
    [`${p}_SECURE_PORT`]: v.optional(intFrom(1, 65535), securePort),
    [`${p}_ENABLED`]: v.optional(Bool, 'true'),
  } as Record<`${P}_HOST`, v.OptionalSchema<v.GenericSchema<string, string>, undefined>>
    & Record<`${P}_PORT` | `${P}_SECURE_PORT`, v.OptionalSchema<v.GenericSchema<string, number>, string>>
    & Record<`${P}_ENABLED`, v.OptionalSchema<v.GenericSchema<string, boolean>, string>>;
}

/** Every setting, from JMAP_KEYS_* variables or the matching --flags (flags win). */
const ConfigSchema = v.strictObject({
  HOST: v.optional(v.pipe(v.string(), v.minLength(1)), '127.0.0.1'),
  PORT: v.optional(intFrom(0, 65535), '8080'),
  DATA: v.optional(v.pipe(v.string(), v.minLength(1)), './data'),
  DB: v.optional(v.pipe(v.string(), v.minLength(1))),
  DATABASE_URL: v.optional(v.pipe(v.string(), v.regex(/^postgres(ql)?:\/\/[^\s]+$/, 'must be a postgres://user:password@host:port/database URL'))),
  ADMIN_PASSWORD: v.optional(v.pipe(v.string(), v.minLength(8, 'must be at least 8 characters'))),
  PUBLIC_URL: v.optional(v.pipe(v.string(), v.url('must be an absolute URL'), v.regex(/^https?:\/\//, 'must be http(s)'))),
  SECRET: v.optional(v.pipe(v.string(), v.regex(/^[0-9a-fA-F]{64,}$/, 'must be at least 64 hex characters (32 bytes)'))),
  TRUSTED_PROXIES: v.optional(v.pipe(v.string(), v.check((s) => s === '' || s.split(',').every((m) => normalizeMask(m) !== undefined), 'must be a comma-separated list of IP masks')), ''),
  MAX_KEYS_PER_ACCOUNT: v.optional(intFrom(1, 100_000_000), '100'),
  MAX_APP_PASSWORDS_PER_ACCOUNT: v.optional(intFrom(1, 100_000_000), '100'),
  AUTH_MAX_FAILURES: v.optional(intFrom(1, 1_000_000), '10'),
  AUTH_WINDOW_SECONDS: v.optional(intFrom(1, 86_400), '60'),
  AUTH_IPV6_PREFIX: v.optional(intFrom(16, 128), '64'),
  MAX_SIZE_REQUEST: v.optional(intFrom(1024, 100_000_000), '10000000'),
  MAX_CALLS_IN_REQUEST: v.optional(intFrom(1, 1000), '16'),
  MAX_OBJECTS_IN_GET: v.optional(intFrom(1, 100_000), '500'),
  MAX_OBJECTS_IN_SET: v.optional(intFrom(1, 100_000), '500'),
  MAX_CONCURRENT_REQUESTS: v.optional(intFrom(1, 1000), '4'),
  LAST_USED_FLUSH_MS: v.optional(intFrom(10, 3_600_000), '5000'),
  REST_READS_PER_WINDOW: v.optional(intFrom(1, 1_000_000), '120'),
  REST_WRITES_PER_WINDOW: v.optional(intFrom(1, 1_000_000), '30'),
  REST_WINDOW_SECONDS: v.optional(intFrom(1, 86_400), '60'),
  LEAK_REPORTS_PER_WINDOW: v.optional(intFrom(1, 1_000_000), '30'),
  MAIL_HOSTNAME: v.optional(HostName),
  LOG_LEVEL: v.optional(v.picklist(LOG_LEVELS, `must be one of ${LOG_LEVELS.join(', ')}`), 'info'),
  LOG_FORMAT: v.optional(v.picklist(['auto', 'json', 'pretty'], 'must be auto, json or pretty'), 'auto'),
  AUDIT_RETENTION_DAYS: v.optional(intFrom(1, 36_500), '180'),
  SQLITE_SYNCHRONOUS: v.optional(v.picklist(['FULL', 'NORMAL'], 'must be FULL or NORMAL'), 'FULL'),
  SHUTDOWN_TIMEOUT_SECONDS: v.optional(intFrom(1, 3600), '10'),
  WEBHOOK_URL: v.optional(v.pipe(v.string(), v.url('must be an absolute URL'), v.regex(/^https?:\/\//, 'must be http(s)'))),
  // Standard Webhooks' form: whsec_ and the base64 of 24 to 64 random bytes (e.g. whsec_$(openssl rand -base64 32)).
  WEBHOOK_SECRET: v.optional(v.pipe(v.string(), v.regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, 'must be whsec_ followed by base64 (make one with: echo whsec_$(openssl rand -base64 32))'),
    v.check((s) => { const n = Buffer.from(s.slice(6), 'base64').length; return n >= 24 && n <= 64; }, 'must hold 24 to 64 bytes after whsec_ (make one with: echo whsec_$(openssl rand -base64 32))'))),
  WEBHOOK_POLL_MS: v.optional(intFrom(50, 60_000), '2000'),
  WEBHOOK_RETRY_SECONDS: v.optional(intFrom(1, 3600), '5'),
  ...protocolSettings('SMTP', '587', '465'),
  ...protocolSettings('IMAP', '143', '993'),
  ...protocolSettings('POP3', '110', '995'),
  // Read by the command line, not the server; accepted here so one environment serves both.
  URL: v.optional(v.string()),
  TOKEN: v.optional(v.string()),
});

export type Config = ReturnType<typeof toConfig>;

const UNSPECIFIED = new Set(['0.0.0.0', '::', '[::]', '']);
const isLoopback = (host: string) => /^127\./.test(host) || host === '::1' || host === '[::1]' || host.toLowerCase() === 'localhost';

/**
 * The host generated links name when JMAP_KEYS_PUBLIC_URL is not set: the listen address, except that an
 * unspecified one (0.0.0.0, ::) is no address at all for a client, so this machine's first non-loopback IPv4
 * address is named instead (the start-up warning says to set the public URL).
 */
function defaultPublicHost(host: string): string {
  if (!UNSPECIFIED.has(host)) return host;
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/** Warnings for generated URLs and mail host names that other devices (a phone, a mail client) cannot reach. */
export function reachabilityWarnings(config: Config): string[] {
  const out: string[] = [];
  const host = new URL(config.publicUrl).hostname;
  if (UNSPECIFIED.has(host) || isLoopback(host)) {
    out.push(`generated links (the session's apiUrl, phone QR codes, autoconfig, profile links) name ${host}, which no other device reaches: set JMAP_KEYS_PUBLIC_URL to the address phones and mail clients use`);
  } else if (!config.publicUrlExplicit && UNSPECIFIED.has(config.host)) {
    out.push(`generated links name ${config.publicUrl} (a guess from this machine's addresses): set JMAP_KEYS_PUBLIC_URL to the address phones and mail clients use`);
  }
  const mailHosts = [...new Set(Object.values(config.mail).filter((p) => p.enabled).map((p) => p.serverName))];
  const bad = mailHosts.filter((h) => UNSPECIFIED.has(h) || isLoopback(h));
  if (bad.length > 0) out.push(`mail clients are told to connect to ${bad.join(', ')}: set JMAP_KEYS_MAIL_HOSTNAME to your IMAP/SMTP server's name`);
  return out;
}

function toConfig(raw: v.InferOutput<typeof ConfigSchema>) {
  const data = raw.DATA;
  const mailHost = (p: 'SMTP' | 'IMAP' | 'POP3') => ({
    serverName: raw[`${p}_HOST`] ?? raw.MAIL_HOSTNAME ?? new URL(publicUrl).hostname,
    port: raw[`${p}_PORT`],
    securePort: raw[`${p}_SECURE_PORT`],
    enabled: raw[`${p}_ENABLED`],
  });
  const publicHost = defaultPublicHost(raw.HOST);
  const publicUrl = (raw.PUBLIC_URL ?? `http://${publicHost.includes(':') ? `[${publicHost}]` : publicHost}:${raw.PORT}`).replace(/\/+$/, '');
  return {
    host: raw.HOST,
    port: raw.PORT,
    dataDir: data,
    dbFile: raw.DB ?? `${data}/jmap-keys.db`,
    /** PostgreSQL instead of the SQLite file: many nodes may share it. */
    databaseUrl: raw.DATABASE_URL,
    adminPassword: raw.ADMIN_PASSWORD,
    publicUrl,
    publicUrlExplicit: raw.PUBLIC_URL !== undefined,
    secretHex: raw.SECRET,
    trustedProxies: raw.TRUSTED_PROXIES ? raw.TRUSTED_PROXIES.split(',').map((m) => normalizeMask(m) as string) : [],
    maxKeysPerAccount: raw.MAX_KEYS_PER_ACCOUNT,
    maxAppPasswordsPerAccount: raw.MAX_APP_PASSWORDS_PER_ACCOUNT,
    authMaxFailures: raw.AUTH_MAX_FAILURES,
    authWindowSeconds: raw.AUTH_WINDOW_SECONDS,
    authIpv6Prefix: raw.AUTH_IPV6_PREFIX,
    lastUsedFlushMs: raw.LAST_USED_FLUSH_MS,
    logLevel: raw.LOG_LEVEL,
    logFormat: raw.LOG_FORMAT,
    auditRetentionDays: raw.AUDIT_RETENTION_DAYS,
    sqliteSynchronous: raw.SQLITE_SYNCHRONOUS,
    shutdownTimeoutSeconds: raw.SHUTDOWN_TIMEOUT_SECONDS,
    rest: { readsPerWindow: raw.REST_READS_PER_WINDOW, writesPerWindow: raw.REST_WRITES_PER_WINDOW, windowSeconds: raw.REST_WINDOW_SECONDS },
    /** Where and how change notifications are sent (src/webhooks/); undefined: none are. */
    webhook: raw.WEBHOOK_URL === undefined || raw.WEBHOOK_SECRET === undefined ? undefined : {
      url: raw.WEBHOOK_URL, secret: raw.WEBHOOK_SECRET, pollMs: raw.WEBHOOK_POLL_MS, retrySeconds: raw.WEBHOOK_RETRY_SECONDS,
    },
    /** Leak reports (POST /api/leaked-credentials) per client address in each REST window. */
    leakReportsPerWindow: raw.LEAK_REPORTS_PER_WINDOW,
    mail: { smtp: mailHost('SMTP'), pop3: mailHost('POP3'), imap: mailHost('IMAP') },
    limits: {
      maxSizeUpload: 50_000_000,
      maxConcurrentUpload: 4,
      maxSizeRequest: raw.MAX_SIZE_REQUEST,
      maxConcurrentRequests: raw.MAX_CONCURRENT_REQUESTS,
      maxCallsInRequest: raw.MAX_CALLS_IN_REQUEST,
      maxObjectsInGet: raw.MAX_OBJECTS_IN_GET,
      maxObjectsInSet: raw.MAX_OBJECTS_IN_SET,
      collationAlgorithms: ['i;ascii-casemap', 'i;octet'],
    },
  };
}

export class ConfigError extends Error {}

/** Reads JMAP_KEYS_* variables and `--name value` / `--name=value` flags; throws ConfigError naming the bad setting. */
export function loadConfig(env: NodeJS.ProcessEnv, argv: readonly string[] = []): Config {
  const raw: Record<string, string> = {};
  for (const [k, val] of Object.entries(env)) {
    if (k.startsWith(PREFIX) && val !== undefined && val !== '') raw[k.slice(PREFIX.length)] = val;
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(arg);
    if (!m) throw new ConfigError(`Unexpected argument ${arg}`);
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new ConfigError(`--${m[1]} needs a value`);
    raw[(m[1] as string).toUpperCase().replace(/-/g, '_')] = value;
  }
  const result = v.safeParse(ConfigSchema, raw);
  if (!result.success) {
    const lines = result.issues.map((issue) => {
      const key = v.getDotPath(issue) ?? '';
      const name = issue.type === 'strict_object' ? String(issue.input) : key;
      return `  ${PREFIX}${name} (--${name.toLowerCase().replace(/_/g, '-')}): ${issue.type === 'strict_object' ? 'unknown setting' : issue.message}`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  if (result.output.DATABASE_URL && !result.output.SECRET) {
    // A secret generated into one node's data folder would make every other node's hashes differ.
    throw new ConfigError('Invalid configuration:\n  JMAP_KEYS_SECRET (--secret): required with JMAP_KEYS_DATABASE_URL: every node sharing the database needs the same secret (make one with: openssl rand -hex 32)');
  }
  if ((result.output.WEBHOOK_URL === undefined) !== (result.output.WEBHOOK_SECRET === undefined)) {
    const missing = result.output.WEBHOOK_URL === undefined ? 'WEBHOOK_URL (--webhook-url)' : 'WEBHOOK_SECRET (--webhook-secret)';
    throw new ConfigError(`Invalid configuration:\n  JMAP_KEYS_${missing}: JMAP_KEYS_WEBHOOK_URL and JMAP_KEYS_WEBHOOK_SECRET go together: notifications are always signed`);
  }
  return toConfig(result.output);
}
