import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { STRUCTURED_AS_TEXT, stringifyReply } from '../../src/lib/json-reply.js';

/** A result as the registry builds it: the text is the structured content's JSON, and it says so. */
function marked(structured: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { content: [{ type: 'text', text: JSON.stringify(structured) }], structuredContent: structured, ...extra, [STRUCTURED_AS_TEXT]: true as const };
}

describe('stringifyReply', () => {
  it('writes the same JSON value as JSON.stringify for marked results, with and without 2026-07-28 result fields', () => {
    const json = fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 6 });
    fc.assert(
      fc.property(json, fc.oneof(fc.string(), fc.integer()), fc.boolean(), (structured, id, modern) => {
        const reply = { jsonrpc: '2.0', id, result: marked(structured, modern ? { resultType: 'complete', _meta: { a: 1 } } : {}) };
        const text = stringifyReply(reply);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(reply)));
        // The structured content is written once as the tool's text, not serialized again.
        expect(text).toContain(`"structuredContent":${reply.result.content[0]!.text}}`);
      }),
      { numRuns: 300 },
    );
  });

  it('is JSON.stringify for anything unmarked: errors, batches, refusals, unmarked results', () => {
    const bodies = [
      { jsonrpc: '2.0', id: 1, error: { code: -32600, message: 'x' } },
      [{ jsonrpc: '2.0', id: 1, result: marked({ a: 1 }) }],
      { error: 'invalid_token' },
      { jsonrpc: '2.0', id: 2, result: { content: [{ type: 'text', text: '{"a":2}' }], structuredContent: { a: 1 } } },
      null,
    ];
    for (const b of bodies) expect(stringifyReply(b)).toBe(JSON.stringify(b));
  });
});
