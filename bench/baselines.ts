/**
 * The two baselines every scenario is compared with, run as child processes like the server under test
 * (`node --import tsx bench/baselines.ts raw|hono|hono-node`, prints `listening <port>` on stdout):
 *
 * - raw: a bare `node:http` server — the ceiling of Node itself on this machine;
 * - hono: the same work on bare Hono with @hono/node-server, the body read the standard way (`c.req.text()`);
 * - hono-node: the same on bare Hono, the body read straight from Node's IncomingMessage as the server does
 *   (src/http/body.ts) — the ceiling of the stack the server is built on.
 *
 * Both do the same work for any method and path: read the whole body, parse it (JSON, or a form body for the
 * introspection scenario), and answer a small JSON object. No auth, no database. With BENCH_BASELINE_FLOOR,
 * hono-node also does the product's required per-request work (bench/floor.ts): the scenarios' floor.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createFloor, floorPieces } from './floor.js';

export type BaselineKind = 'raw' | 'hono' | 'hono-node';
export const BASELINES: readonly BaselineKind[] = ['raw', 'hono', 'hono-node'];

/** Parses a request body the way the server would have to: JSON, or application/x-www-form-urlencoded. */
function parseBody(text: string, contentType: string | undefined): number {
  if (text.length === 0) return 0;
  if (contentType?.startsWith('application/x-www-form-urlencoded')) return [...new URLSearchParams(text).keys()].length;
  const parsed: unknown = JSON.parse(text);
  return typeof parsed === 'object' && parsed !== null ? Object.keys(parsed).length : 1;
}

/**
 * BENCH_BASELINE_SPIN_US: busy CPU added to every answer (bench/latency-tax.ts), so a baseline answers as late as
 * the server does while doing no more system calls. 0 (default) for the baselines every scenario is compared with.
 */
const SPIN_MS = Number(process.env.BENCH_BASELINE_SPIN_US ?? 0) / 1000;
function spin(): void {
  if (SPIN_MS <= 0) return;
  const until = performance.now() + SPIN_MS;
  while (performance.now() < until) { /* busy: user CPU only */ }
}

/** The small JSON object both baselines answer with. */
function answer(members: number) {
  spin();
  return { methodResponses: [['Core/echo', { members }, 'c0']], sessionState: 'baseline' };
}

function readBytes(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const readBody = (req: IncomingMessage): Promise<string> => readBytes(req).then((b) => b.toString('utf8'));

export function createRawServer(): Server {
  return createServer((req, res) => {
    readBody(req).then((text) => {
      let body: string;
      let status = 200;
      try {
        body = JSON.stringify(answer(parseBody(text, req.headers['content-type'])));
      } catch {
        status = 400;
        body = '{"type":"urn:ietf:params:jmap:error:notJSON"}';
      }
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    }, () => res.destroy());
  });
}

export function createHonoApp(fromNode = false): Hono<{ Bindings: { incoming?: IncomingMessage; outgoing?: ServerResponse } }> {
  const app = new Hono<{ Bindings: { incoming?: IncomingMessage; outgoing?: ServerResponse } }>();
  const pieces = floorPieces();
  if (fromNode && pieces.size > 0) {
    // bench/floor.ts: the product's required per-request work on top of this baseline.
    const floor = createFloor(pieces);
    app.all('*', async (c) => {
      const incoming = c.env.incoming as IncomingMessage;
      const { status, members, data } = await (await floor).handle(incoming, c.env.outgoing as ServerResponse, await readBytes(incoming));
      return status === 200 ? c.json({ ...answer(members), data }) : c.json({ type: 'about:blank', status }, 401);
    });
    return app;
  }
  app.all('*', async (c) => {
    const incoming = fromNode ? c.env.incoming : undefined;
    const text = incoming ? await readBody(incoming) : await c.req.text();
    try {
      const contentType = incoming ? incoming.headers['content-type'] : c.req.header('content-type');
      return c.json(answer(parseBody(text, contentType)));
    } catch {
      return c.json({ type: 'urn:ietf:params:jmap:error:notJSON' }, 400);
    }
  });
  return app;
}

/** Starts one baseline on 127.0.0.1 (port 0 = any free port) and resolves with the port. */
export function startBaseline(kind: BaselineKind, port = 0): Promise<{ port: number; close(): void }> {
  return new Promise((resolve) => {
    if (kind === 'raw') {
      const server = createRawServer();
      server.listen(port, '127.0.0.1', () => resolve({ port: (server.address() as AddressInfo).port, close: () => server.close() }));
    } else {
      const server = serve({ fetch: createHonoApp(kind === 'hono-node').fetch, hostname: '127.0.0.1', port }, (info) => {
        resolve({ port: info.port, close: () => server.close() });
      });
    }
  });
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const kind = process.argv[2];
  if (!BASELINES.includes(kind as BaselineKind)) {
    console.error('usage: baselines.ts raw|hono|hono-node [port]');
    process.exit(2);
  }
  const running = await startBaseline(kind as BaselineKind, Number(process.argv[3] ?? 0));
  console.log(`listening ${running.port}`);
  const stop = () => {
    running.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
