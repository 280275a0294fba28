import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';

/** Node's request when @hono/node-server serves the app; undefined under app.request() in tests. */
export function incomingOf(c: Context): IncomingMessage | undefined {
  return (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
}

/**
 * A request header by lower-case name. Under @hono/node-server it is read from Node's parsed header object:
 * c.req.header() builds a WHATWG Headers object for the request (undici's validation of every header), which
 * costs more than the rest of an authenticated Core/echo. Node keeps the first of duplicated singleton headers
 * (Authorization, Content-Type, Content-Length) and joins the others with ", ", as Headers does.
 */
export function header(c: Context, name: string): string | undefined {
  const incoming = incomingOf(c);
  if (!incoming) return c.req.header(name);
  const value = incoming.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * Sets a response header that every answer carries. Under @hono/node-server it goes on Node's ServerResponse (which
 * merges it with the answer's own headers): c.header() would make the answer build a WHATWG Headers object.
 */
export function setResponseHeader(c: Context, name: string, value: string): void {
  const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
  if (outgoing) outgoing.setHeader(name, value);
  else c.header(name, value);
}
