import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { ipAllowed, parseClientAddress } from '../auth/ipmask.js';
import { header } from './headers.js';

/**
 * The client address: the socket's peer, or — only when that peer is a trusted proxy — the right-most
 * X-Forwarded-For entry that is not itself a trusted proxy.
 */
export function clientIp(c: Context, trustedProxies: readonly string[]): string | undefined {
  let peer: string | undefined;
  try {
    peer = getConnInfo(c).remote.address;
  } catch {
    peer = undefined; // app.request() in tests has no socket
  }
  if (!peer || trustedProxies.length === 0 || !ipAllowed(trustedProxies, peer)) return peer;
  const forwarded = header(c, 'x-forwarded-for');
  if (!forwarded) return peer;
  const hops = forwarded.split(',').map((h) => h.trim()).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i] as string;
    if (!parseClientAddress(hop)) return peer;
    if (!ipAllowed(trustedProxies, hop)) return hop;
  }
  return hops[0] ?? peer;
}
