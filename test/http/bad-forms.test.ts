/**
 * Bad request bodies on the form endpoints get a 4xx in the endpoint's own format (OAuth JSON on
 * /token and /revoke, our HTML page on /authorize and /connections/*), never a 500, and nothing
 * is logged at error level: a client's mistake is not the operator's alarm.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../helpers/stack.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
/** 60 fields: over the parser's limit of 50. */
const SIXTY_FIELDS = new URLSearchParams(Array.from({ length: 60 }, (_, i): [string, string] => [`f${i}`, 'x'])).toString();

const OAUTH_ROUTES = ['/token', '/revoke'];
const PAGE_ROUTES = ['/authorize', '/connections/disconnect', '/connections/logout'];

describe('form bodies the parser refuses', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack.close());

  /** Log lines at error level (pino: 50) or above, and any line carrying a stack. */
  const alarming = () => stack.logs.filter((l) => (JSON.parse(l) as { level: number }).level >= 50 || l.includes('"stack"'));

  it.each(OAUTH_ROUTES)('POST %s with 60 fields: 413 invalid_request JSON', async (path) => {
    const res = await fetch(`${stack.baseUrl}${path}`, { method: 'POST', headers: FORM, body: SIXTY_FIELDS });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({ error: 'invalid_request', error_description: 'Request body has too many form fields' });
  });

  it.each(PAGE_ROUTES)('POST %s with 60 fields: 413 HTML error page', async (path) => {
    const res = await fetch(`${stack.baseUrl}${path}`, { method: 'POST', headers: { ...FORM, accept: 'text/html' }, body: SIXTY_FIELDS });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('Something was wrong with that form');
    expect(html).toContain('Request body has too many form fields');
  });

  it('an unsupported charset or content encoding is a 415 in the same formats', async () => {
    const charset = await fetch(`${stack.baseUrl}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-7' }, body: 'a=b' });
    expect(charset.status).toBe(415);
    expect(((await charset.json()) as { error: string }).error).toBe('invalid_request');
    const encoding = await fetch(`${stack.baseUrl}/authorize`, { method: 'POST', headers: { ...FORM, 'content-encoding': 'compress' }, body: 'a=b' });
    expect(encoding.status).toBe(415);
    expect(await encoding.text()).toContain('Request body encoding or charset is not supported');
  });

  it('logged without error level or stack, as one info line per refusal', async () => {
    // Runs after the cases above, on the same server and log.
    await new Promise((r) => setTimeout(r, 20));
    expect(alarming()).toEqual([]);
    const refused = stack.logs.map((l) => JSON.parse(l) as { msg: string; level: number; type?: string }).filter((l) => l.msg === 'request body refused');
    expect(refused).toHaveLength(OAUTH_ROUTES.length + PAGE_ROUTES.length + 2);
    expect(refused.every((l) => l.level === 30)).toBe(true);
    expect(refused.filter((l) => l.type === 'parameters.too.many')).toHaveLength(OAUTH_ROUTES.length + PAGE_ROUTES.length);
  });
});
