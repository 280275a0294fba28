import type { MethodContext } from '../context.js';
import { MethodError } from '../errors.js';

export function requirePermission(ctx: MethodContext, permission: string): void {
  if (!ctx.caller.permissions.has(permission)) {
    throw new MethodError('forbidden', 'You are not authorized to perform this action');
  }
}
