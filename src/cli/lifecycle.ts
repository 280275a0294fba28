import type { CredentialKind } from '../db/store.js';
import { MAX_GRACE_SECONDS, parseGrace } from '../credentials/rotate.js';
import { isPlainObject, type JsonObject } from '../jmap/types.js';
import type { JmapClient } from './client.js';
import { UsageError } from './errors.js';
import type { ObjectSpec } from './objects.js';
import { formatSetError, json, renderRecord, type Output } from './output.js';

/** `rotate` and `revoke-all`: the credential lifecycle commands beside the plain verbs. */

/** `--grace 30m|1h|7d|90s|0` → seconds (a usage error otherwise). */
export function graceFlag(value: string | undefined): number {
  if (value === undefined) return 0;
  const seconds = parseGrace(value);
  if (seconds === undefined) throw new UsageError(`--grace ${value}: a duration such as 30m, 1h or 7d (s, m, h, d), at most 7d (${MAX_GRACE_SECONDS} s)`);
  return seconds;
}

/** `jmap-keys rotate api-key ID --grace 1h`: x:ApiKey/rotate (or x:AppPassword/rotate) on the server. */
export async function rotateRecord(client: JmapClient, spec: ObjectSpec, id: string, graceSeconds: number, asJson: boolean, out: Output): Promise<void> {
  const r = await client.call(`${spec.type}/rotate`, { id, graceSeconds });
  if (asJson) {
    out.out(json(r));
    return;
  }
  out.out(`Rotated ${spec.name} ${id}: the new one is ${String(r.id)}`);
  out.out(renderRecord({ id: r.id ?? null, secret: r.secret ?? null, expiresAt: r.expiresAt ?? null }, ['id', 'secret', 'expiresAt']));
  out.out(graceSeconds > 0 ? `The old secret keeps working until ${String(r.previousExpiresAt)}.` : 'The old secret no longer works.');
  out.err('The secret is shown only once: store it now.');
}

/** `api-keys`, `app-password`, `x:AppPassword`, … → the kind and its JMAP type. */
export function parseKinds(name: string): { kind: CredentialKind; type: string; noun: string } {
  const n = name.toLowerCase().replace(/^x:/, '').replace(/[-_]/g, '').replace(/s$/, '');
  if (n === 'apikey') return { kind: 'apiKey', type: 'x:ApiKey', noun: 'API key' };
  if (n === 'apppassword') return { kind: 'appPassword', type: 'x:AppPassword', noun: 'app password' };
  throw new UsageError(`"${name}": api-keys or app-passwords`);
}

export const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** Remote: every credential of the type in the authenticated account (x:…/revokeAll), except the one in use unless asked. */
export async function revokeAllRemote(client: JmapClient, kinds: string, includeCurrent: boolean, asJson: boolean, out: Output): Promise<number> {
  const { type, noun } = parseKinds(kinds);
  const r = await client.call(`${type}/revokeAll`, { includeCurrent });
  const destroyed = Array.isArray(r.destroyed) ? r.destroyed.filter((x): x is string => typeof x === 'string') : [];
  const kept: JsonObject = isPlainObject(r.notDestroyed) ? r.notDestroyed : {};
  if (asJson) {
    out.out(json({ destroyed, notDestroyed: kept }));
    return 0;
  }
  for (const id of destroyed) out.out(`${id} revoked`);
  for (const [id, why] of Object.entries(kept)) out.out(`${id} kept: ${formatSetError(why)}`);
  out.out(`Revoked ${plural(destroyed.length, noun)}${Object.keys(kept).length > 0 ? `, kept ${Object.keys(kept).length}` : ''}`);
  return 0;
}
