/**
 * Errors the command line reports, each with its exit code:
 * 1 the server refused (method error, SetError, not found), 2 usage, 3 cannot reach or authenticate to the server.
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;

export class CliError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

/** Bad flags, bad JSON in --field, unknown object name or property. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}

/** The server answered, and said no: shown as "type: description". */
export class ServerError extends CliError {
  constructor(readonly type: string, readonly description?: string) {
    super(description ? `${type}: ${description}` : type, EXIT.failed);
  }
}

/** Connection refused, timed out, not a JMAP server, or authentication refused (401/403/429). */
export class ConnectionError extends CliError {
  constructor(message: string) {
    super(message, EXIT.unreachable);
  }
}
