import { Hono, type Context } from 'hono';
import {
  changedTypes, parseEventSourceParams, sseEvent, stateChange, stateEventId, statesFromEventId, type TypeStates,
} from '../jmap/push.js';
import type { JmapServer, PushableType } from '../jmap/server.js';
import type { Services } from '../services.js';
import { encodeId } from '../util/ids.js';
import { requireAuth, type AppEnv } from './auth-middleware.js';
import { header } from './headers.js';
import { problem } from './problem.js';

/** How often open streams look at the store's version (one shared timer per node, only while streams are open). */
const POLL_MS = 250;
/** Open streams per account on one node (a page per tab, a few clients), and on one node in all. */
export const MAX_STREAMS_PER_ACCOUNT = 8;
export const MAX_STREAMS = 2000;
/** What a browser's EventSource waits before reconnecting after the stream ends (ms). */
const RETRY_MS = 3000;

interface Stream {
  /** Wire id of the account (the caller's own). */
  accountId: string;
  types: readonly PushableType[];
  /** The states this stream last reported (or started from). */
  last: TypeStates;
  closeAfterState: boolean;
  pingMs: number;
  lastSentAt: number;
  send(text: string): void;
  close(): void;
}

const statesOf = async (accountId: string, types: readonly PushableType[]): Promise<TypeStates> =>
  Object.fromEntries(await Promise.all(types.map(async (t) => [t.name, await t.state(accountId)] as const)));

/**
 * The open event-source streams of this node. Every change, from any node, moves the store's version(); on a
 * short shared timer the hub compares it with the one it last saw and, when it moved, reads each watched
 * account's states once and tells the streams whose types changed. Streams live in this process only: a client
 * reconnecting elsewhere says where it was with Last-Event-ID (the states it last heard).
 */
export class PushHub {
  private readonly byAccount = new Map<string, Set<Stream>>();
  private open = 0;
  private timer: NodeJS.Timeout | undefined;
  private seenVersion = Number.NaN;
  private ticking = false;

  constructor(
    private readonly version: () => number,
    /** A failed state read (store unavailable): reported; the streams stay open and it is tried again. */
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  get size(): number {
    return this.open;
  }

  /** Adds a stream, or says which bound it would break. */
  add(stream: Stream): 'ok' | 'account' | 'node' {
    const streams = this.byAccount.get(stream.accountId) ?? new Set<Stream>();
    if (streams.size >= MAX_STREAMS_PER_ACCOUNT) return 'account';
    if (this.open >= MAX_STREAMS) return 'node';
    streams.add(stream);
    this.byAccount.set(stream.accountId, streams);
    this.open++;
    if (!this.timer) {
      this.timer = setInterval(() => { void this.tick(); }, POLL_MS);
      this.timer.unref();
    }
    return 'ok';
  }

  remove(stream: Stream): void {
    const streams = this.byAccount.get(stream.accountId);
    if (!streams?.delete(stream)) return;
    this.open--;
    if (streams.size === 0) this.byAccount.delete(stream.accountId);
    if (this.open === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** Sends the stream a state event if its types' states differ from those it last reported. */
  deliver(stream: Stream, states: TypeStates): void {
    const mine = Object.fromEntries(stream.types.map((t) => [t.name, states[t.name] ?? '']));
    const changed = changedTypes(stream.last, mine);
    if (Object.keys(changed).length === 0) return;
    stream.last = mine;
    stream.send(sseEvent('state', stateChange({ [stream.accountId]: changed }), stateEventId(mine)));
    if (stream.closeAfterState) stream.close();
  }

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const version = this.version();
      if (version !== this.seenVersion) {
        this.seenVersion = version;
        for (const [accountId, streams] of [...this.byAccount]) {
          const types = new Map<string, PushableType>();
          for (const s of streams) for (const t of s.types) types.set(t.name, t);
          let states: TypeStates;
          try {
            states = await statesOf(accountId, [...types.values()]);
          } catch (err) {
            this.seenVersion = Number.NaN; // read again on the next tick
            this.onError(err);
            continue;
          }
          for (const s of [...streams]) this.deliver(s, states);
        }
      }
      const now = Date.now();
      for (const streams of this.byAccount.values()) {
        for (const s of streams) {
          if (s.pingMs > 0 && now - s.lastSentAt >= s.pingMs) s.send(sseEvent('ping', { interval: s.pingMs / 1000 }));
        }
      }
    } finally {
      this.ticking = false;
    }
  }

  /** Ends every stream (shutdown): clients reconnect to another node, or to this one once it is back. */
  closeAll(): void {
    for (const streams of [...this.byAccount.values()]) for (const s of [...streams]) s.close();
  }
}

/**
 * RFC 8620 §7.3 on the session's eventSourceUrl, authenticated like /api (Bearer, Basic, or the web page's cookie).
 * Reports the caller's own account only (an admin's `impersonate` right does not widen it), for the types it may
 * read. The session also advertises uploadUrl and downloadUrl (RFC 8620 requires them); this server holds no
 * blobs, and both say so clearly.
 */
export function eventSourceRoutes(services: Services, hub: PushHub): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { jmap } = services;
  const auth = requireAuth(services, 'jmap');

  const handler = async (c: Context<AppEnv>) => {
    const params = parseEventSourceParams(new URL(c.req.url).searchParams);
    if ('error' in params) return problem(c, 400, params.error);
    const principal = c.get('principal');
    const readable = readableTypes(jmap, principal.permissions);
    let types: PushableType[];
    if (params.types === '*') {
      types = readable;
    } else {
      const unknown = params.types.filter((t) => !jmap.pushableTypes().has(t));
      if (unknown.length > 0) {
        return problem(c, 400, `Unknown type${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; push reports ${[...jmap.pushableTypes().keys()].join(', ')}`);
      }
      const denied = params.types.filter((t) => !readable.some((r) => r.name === t));
      if (denied.length > 0) return problem(c, 403, `You may not read ${denied.join(', ')}, so you cannot watch its state`);
      types = readable.filter((t) => (params.types as string[]).includes(t.name));
    }
    if (services.draining) return problem(c, 503, 'This server is shutting down; connect again (to another node)');

    const accountId = encodeId(principal.account.id);
    // The starting point, read before the answer starts: every change committed after the client sees the
    // response headers is reported. A reconnecting client starts from the states it last heard.
    const current = await statesOf(accountId, types);
    const heard = statesFromEventId(header(c, 'last-event-id'));
    const encoder = new TextEncoder();
    let closed = false;
    let stream!: Stream;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        stream = {
          accountId, types, closeAfterState: params.closeAfterState, pingMs: params.ping * 1000, lastSentAt: Date.now(),
          last: heard ? Object.fromEntries(types.map((t) => [t.name, heard[t.name] ?? current[t.name] ?? ''])) : current,
          send(text) {
            if (closed) return;
            controller.enqueue(encoder.encode(text));
            stream.lastSentAt = Date.now();
          },
          close() {
            if (closed) return;
            closed = true;
            hub.remove(stream);
            controller.close();
          },
        };
        // A first chunk, so the response head reaches the client now rather than with the first event.
        controller.enqueue(encoder.encode(`retry: ${RETRY_MS}\n\n`));
      },
      cancel() {
        closed = true;
        hub.remove(stream);
      },
    });
    const added = hub.add(stream);
    if (added !== 'ok') {
      closed = true;
      void body.cancel();
      return added === 'account'
        ? problem(c, 429, `At most ${MAX_STREAMS_PER_ACCOUNT} event streams per account are open on this server; close one first`)
        : problem(c, 503, 'This server holds as many event streams as it can; try again later or another node');
    }
    hub.deliver(stream, current);
    return new Response(body, {
      status: 200,
      headers: {
        'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-store',
        // Reverse proxies (nginx) pass events on as they come instead of buffering them.
        'X-Accel-Buffering': 'no',
      },
    });
  };
  app.get('/jmap/eventsource', auth, handler);
  app.get('/jmap/eventsource/', auth, handler);

  const noBlobs = (what: string, status: 404 | 501) => (c: Context) =>
    problem(c, status, `This server holds no blobs: ${what}. Credentials are created and read through the API (POST /api) alone.`);
  // Download: there is no blob of any id to find, which is what 404 says (RFC 8620 §6.2 answers a missing blob so).
  app.all('/jmap/download/*', noBlobs('no blob id names anything here, so there is nothing to download', 404));
  // Upload: storing blobs is a feature this server does not have; 501 says it is the server, not the request.
  app.all('/jmap/upload/*', noBlobs('uploads are not supported (no object here takes a blob)', 501));
  return app;
}

/** The pushable types this caller may read (the permission their /get needs). */
function readableTypes(jmap: JmapServer, permissions: ReadonlySet<string>): PushableType[] {
  return [...jmap.pushableTypes().values()].filter((t) => permissions.has(t.permission));
}
