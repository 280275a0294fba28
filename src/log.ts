import { destination as pinoDestination, pino, type DestinationStream, type Logger } from 'pino';
import { createRequire } from 'node:module';
import type PinoPretty from 'pino-pretty';

export type { Logger } from 'pino';
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = 'json' | 'pretty' | 'auto';

/**
 * Field names that must never reach a log line with a value, wherever they appear: the code logs chosen fields
 * only (never headers or bodies), and this is the second line of defence.
 */
const REDACT = ['authorization', 'password', 'token', 'secret', 'apiKey', 'cookie'].flatMap((k) => [k, `*.${k}`]);

/**
 * pino's isoTime, formatted once per millisecond: under load many lines share one (toISOString is ~1 µs a line).
 */
let lastMs = -1;
let lastTime = '';
function isoTimeCached(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastTime = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastTime;
}

/**
 * The one logger of a server process: JSON lines on stdout (readable lines when stdout is a terminal and the
 * format is auto). `destination` is for tests that read the lines back.
 */
export function createLogger(level: LogLevel = 'info', format: LogFormat = 'auto', destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'jmap-keys' },
    timestamp: isoTimeCached,
    redact: { paths: REDACT, censor: '[redacted]' },
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (destination) return pino(options, destination);
  const readable = format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true);
  if (readable) {
    // Only for a terminal: a server logging JSON never loads it.
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
    return pino(options, pretty({ colorize: true, sync: true, singleLine: true, translateTime: 'SYS:standard', ignore: 'pid,hostname,service' }));
  }
  // Asynchronous writes, gathered to 4 KB (or for at most a second): one write per request costs more than the
  // line itself under load. pino flushes what is pending when the process exits (a SIGKILL loses up to that buffer).
  return pino(options, pinoDestination({ fd: 1, sync: false, minLength: 4096, periodicFlush: 1000 }));
}

/** For library code run without a server (the CLI's local commands, tests): drops everything. */
export const silentLogger: Logger = pino({ level: 'silent' });

/** An error's name and message, never its stack's local values or a request's contents. */
export function errorFields(err: unknown): { error: string } {
  return { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
}
