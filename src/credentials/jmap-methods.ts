import * as v from 'valibot';
import { callerActor } from '../audit/record.js';
import { MethodError, type SetError } from '../jmap/errors.js';
import type { JmapServer } from '../jmap/server.js';
import { AccountIdArg, parseArgs } from '../jmap/standard/args.js';
import { requirePermission } from '../jmap/standard/permission.js';
import type { JsonObject } from '../jmap/types.js';
import { decodeId, encodeId } from '../util/ids.js';
import { formatUtcDate } from '../util/utcdate.js';
import { STALWART_CAPABILITY, type CredentialTypeOptions } from './jmap-type.js';
import { UNRESTRICTED } from './policy.js';
import { revokeAll } from './revoke-all.js';
import { MAX_GRACE_SECONDS, rotateCredential } from './rotate.js';

/** The same options as the object type's (without its wire-only switch). */
export type CredentialMethodOptions = Omit<CredentialTypeOptions, 'withScopes'>;

const RotateArgs = v.strictObject({
  accountId: AccountIdArg,
  id: v.string('must be an Id'),
  graceSeconds: v.optional(v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(MAX_GRACE_SECONDS, `must be from 0 to ${MAX_GRACE_SECONDS} (7 days)`)), 0),
});

const RevokeAllArgs = v.strictObject({
  accountId: AccountIdArg,
  includeCurrent: v.optional(v.boolean(), false),
});

/**
 * Two methods beside the standard ones, for each credential type:
 * - `x:ApiKey/rotate` (and `x:AppPassword/rotate`) `{accountId?, id, graceSeconds?}`: a new secret for the credential,
 *   the old one revoked at once or kept until the grace ends; needs the type's Create and Destroy permissions.
 * - `x:ApiKey/revokeAll` `{accountId?, includeCurrent?}`: every credential of the type in the account, in one
 *   transaction; the one the request authenticated with is kept unless includeCurrent; needs Destroy.
 */
export function registerCredentialMethods(jmap: JmapServer, o: CredentialMethodOptions): void {
  const { store, kind } = o;
  const state = async (accountId: string) => String(await store.state(decodeId(accountId) ?? -1, kind));

  jmap.register(`${o.name}/rotate`, {
    capability: STALWART_CAPABILITY,
    async handler(args, ctx) {
      requirePermission(ctx, `${o.permissionPrefix}Create`);
      requirePermission(ctx, `${o.permissionPrefix}Destroy`);
      const a = parseArgs(RotateArgs, args);
      const accountId = await ctx.resolveAccount(a.accountId);
      const id = decodeId(a.id);
      if (id === undefined) throw new MethodError('notFound', `No ${o.name} with id ${a.id.slice(0, 64)}`);
      const oldState = await state(accountId);
      const done = await store.transaction((tx) => rotateCredential(tx, {
        hasher: o.hasher, quota: o.quota, noun: o.noun, accountId: decodeId(accountId) ?? -1, kind, id, graceSeconds: a.graceSeconds,
        caller: { permissions: ctx.caller.permissions, restrictions: ctx.caller.restrictions ?? UNRESTRICTED }, actor: callerActor(ctx.caller),
      }));
      if ('refused' in done) throw new MethodError(done.refused, done.refused === 'notFound' ? `No ${o.name} with id ${a.id.slice(0, 64)}` : done.description);
      return {
        accountId, oldState, newState: await state(accountId),
        id: encodeId(done.row.id), secret: done.token, expiresAt: done.row.expiresAt === null ? null : formatUtcDate(done.row.expiresAt),
        previousId: encodeId(done.previousId), previousExpiresAt: formatUtcDate(done.previousExpiresAt),
      };
    },
  });

  jmap.register(`${o.name}/revokeAll`, {
    capability: STALWART_CAPABILITY,
    async handler(args, ctx) {
      requirePermission(ctx, `${o.permissionPrefix}Destroy`);
      const a = parseArgs(RevokeAllArgs, args);
      const accountId = await ctx.resolveAccount(a.accountId);
      const accountNum = decodeId(accountId) ?? -1;
      // The credential this request came with (none for a password or the page's cookie): kept unless asked.
      const current = ctx.caller.origin?.credentialId ?? null;
      const oldState = await state(accountId);
      const done = await store.transaction((tx) => revokeAll(tx, {
        accountId: accountNum, kind, reason: 'revokeAll', internal: (ctx.caller.restrictions ?? UNRESTRICTED).internal,
        spare: a.includeCurrent ? null : current, actor: callerActor(ctx.caller),
      }));
      const notDestroyed: Record<string, SetError> = {};
      for (const { row, why } of done.kept) {
        notDestroyed[encodeId(row.id)] = why === 'current'
          ? { type: 'forbidden', description: 'This request is authenticated with it; send includeCurrent: true to revoke it too' }
          : { type: 'forbidden', description: 'Only a credential that holds the internal scope may revoke an internal credential' };
      }
      return {
        accountId, oldState, newState: await state(accountId),
        destroyed: done.revoked.map((r) => encodeId(r.id)), notDestroyed: notDestroyed as unknown as JsonObject,
      };
    },
  });
}
