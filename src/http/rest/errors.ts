import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** REST errors are JSON `{ "error": code, "message": text }` (plus `field` for bad input). */
export function restError(c: Context, status: ContentfulStatusCode, error: string, message: string, extra: Record<string, string> = {}): Response {
  return c.json({ error, message, ...extra }, status);
}
