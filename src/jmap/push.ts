/**
 * RFC 8620 §7 push over an event source (§7.3): the query parameters, the StateChange object and the
 * text/event-stream framing. Knows nothing about which object types exist or how their states are read.
 */

/** Type name → state string, for one account. */
export type TypeStates = Record<string, string>;

export interface EventSourceParams {
  /** The type names asked for, or '*' for every type the caller may read. */
  types: '*' | string[];
  /** `closeafter=state`: the stream ends after the first state event. */
  closeAfterState: boolean;
  /** Seconds between pings as the server will send them (0: none), after clamping. */
  ping: number;
}

/**
 * Pings are clamped to this range: a client cannot make the server wake every second per stream, and the RFC
 * lets servers impose a minimum of at most 30 s and a maximum of at least 300 s.
 */
export const MIN_PING_SECONDS = 5;
export const MAX_PING_SECONDS = 3600;
/** Type names as RFC 8620 spells them (`Mailbox`, `x:ApiKey`); anything else is refused before any lookup. */
const TYPE_NAME = /^[A-Za-z][A-Za-z0-9:_-]{0,99}$/;
const MAX_TYPES = 50;

/**
 * The §7.3 query parameters (`types`, `closeafter`, `ping`). Each may be missing (defaults `*`, `no`, 0), so a
 * client that fills the template with empty values still connects; a value that is present must be valid. Returns
 * the parsed parameters or a message naming the bad one.
 */
export function parseEventSourceParams(query: { get(name: string): string | null }): EventSourceParams | { error: string } {
  const rawTypes = query.get('types') ?? '';
  let types: EventSourceParams['types'];
  if (rawTypes === '' || rawTypes === '*') {
    types = '*';
  } else {
    const names = rawTypes.split(',').map((t) => t.trim());
    if (names.length > MAX_TYPES || names.some((t) => !TYPE_NAME.test(t))) {
      return { error: 'types must be "*" or a comma-separated list of type names, such as types=x:ApiKey,x:AppPassword' };
    }
    types = [...new Set(names)];
  }
  const closeafter = query.get('closeafter') ?? '';
  if (closeafter !== '' && closeafter !== 'state' && closeafter !== 'no') return { error: 'closeafter must be "state" or "no"' };
  const rawPing = query.get('ping') ?? '';
  if (rawPing !== '' && !/^\d{1,9}$/.test(rawPing)) return { error: 'ping must be a whole number of seconds (0 for no pings)' };
  const asked = rawPing === '' ? 0 : Number(rawPing);
  const ping = asked === 0 ? 0 : Math.min(MAX_PING_SECONDS, Math.max(MIN_PING_SECONDS, asked));
  return { types, closeAfterState: closeafter === 'state', ping };
}

/** The StateChange object (§7.1) for the accounts whose types changed. */
export function stateChange(changed: Record<string, TypeStates>): { '@type': 'StateChange'; changed: Record<string, TypeStates> } {
  return { '@type': 'StateChange', changed };
}

/** The types whose state in `now` differs from `before` (a type missing from `before` counts as changed). */
export function changedTypes(before: TypeStates, now: TypeStates): TypeStates {
  const out: TypeStates = {};
  for (const [type, state] of Object.entries(now)) if (before[type] !== state) out[type] = state;
  return out;
}

/**
 * One event in text/event-stream framing: `event:`, optional `id:`, and the JSON `data:` on one line (JSON has no
 * raw newlines, so it never needs splitting). `id` must not contain line breaks.
 */
export function sseEvent(event: string, data: unknown, id?: string): string {
  return `event: ${event}\n${id === undefined ? '' : `id: ${id}\n`}data: ${JSON.stringify(data)}\n\n`;
}

/**
 * The event id of a state event: the account's states, so a client that reconnects with `Last-Event-ID` (browsers
 * do it on their own) is told at once what changed while it was away.
 */
export function stateEventId(states: TypeStates): string {
  return Buffer.from(JSON.stringify(states)).toString('base64url');
}

/** The states a `Last-Event-ID` carried, or undefined when it is not one of ours (then it is ignored). */
export function statesFromEventId(id: string | undefined): TypeStates | undefined {
  if (!id || id.length > 4096 || !/^[A-Za-z0-9_-]+$/.test(id)) return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(id, 'base64url').toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    const entries = Object.entries(parsed as Record<string, unknown>);
    if (!entries.every(([k, v]) => TYPE_NAME.test(k) && typeof v === 'string' && v.length <= 100)) return undefined;
    return Object.fromEntries(entries) as TypeStates;
  } catch {
    return undefined;
  }
}
