import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  413: 'Payload Too Large', 429: 'Too Many Requests', 500: 'Internal Server Error', 501: 'Not Implemented',
  503: 'Service Unavailable',
};

/** An RFC 7807 problem+json response. */
export function problem(c: Context, status: ContentfulStatusCode, detail: string, type = 'about:blank', extra: Record<string, unknown> = {}): Response {
  const body = JSON.stringify({ type, status, title: TITLES[status] ?? 'Error', detail, ...extra });
  return c.body(body, status, { 'Content-Type': 'application/problem+json' });
}
