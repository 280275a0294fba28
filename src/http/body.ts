import type { Context } from 'hono';
import { incomingOf } from './headers.js';

/**
 * A request body, or undefined when it is larger than `maxSize` bytes. When @hono/node-server serves the app it
 * is read straight from Node's IncomingMessage: building the WHATWG Request behind c.req.arrayBuffer() / text()
 * (undici Request, web stream, AbortSignal; hono/body-limit builds it too, just to test `c.req.raw.body`) costs
 * more than the rest of a small call. Elsewhere (app.request() in tests) it takes the standard path.
 */
export async function readBody(c: Context, maxSize: number): Promise<Uint8Array | undefined> {
  const incoming = incomingOf(c);
  if (!incoming || incoming.readableDidRead) {
    const body = new Uint8Array(await c.req.arrayBuffer());
    return body.byteLength > maxSize ? undefined : body;
  }
  const declared = incoming.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxSize) return undefined;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxSize) {
        chunks.push(chunk);
        return;
      }
      incoming.off('data', onData); // @hono/node-server drains the rest once the answer is sent
      resolve(undefined);
    };
    incoming.on('data', onData);
    incoming.once('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    incoming.once('error', reject);
  });
}
