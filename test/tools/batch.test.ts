import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BATCH_ITEMS } from '../../src/tools/batch.js';
import { startToolStack, type ToolStack } from '../helpers/tools.js';
import { IDS, rowPage } from '../fixtures/pages.js';

const rowId = (i: number) => `a0a0a0a0-a0a0-4a0a-8a0a-${String(i).padStart(12, '0')}`;
const notionError = (status: number, code: string, message: string) => ({ status, body: { object: 'error', status, code, message } });

describe('save_pages: many creates and updates in one call', () => {
  let ts: ToolStack;
  beforeAll(async () => {
    ts = await startToolStack();
  });
  afterAll(async () => ts.close());

  it('creates under the shared parent and updates by page_id, in order, each with its own outcome', async () => {
    let n = 0;
    ts.answer((req) => {
      if (req.method === 'POST' && req.path === '/v1/pages') {
        n++;
        // The second create is refused by Notion: the others still go through.
        if (n === 2) return notionError(400, 'validation_error', 'Tags is not a property that exists.');
        return { body: rowPage({ id: rowId(n), url: `https://www.notion.so/Row-${rowId(n).replace(/-/g, '')}` }) };
      }
      if (req.method === 'PATCH') return { body: rowPage() };
      return undefined;
    });
    const res = await ts.call('save_pages', {
      parent: { data_source_id: IDS.dataSource },
      items: [
        { title: 'One' },
        { title: 'Two', properties: { Tags: { multi_select: [{ name: 'x' }] } } },
        { page_id: IDS.row, properties: { Done: { checkbox: true } } },
        { title: 'Four', parent: { page_id: IDS.parentPage } },
        { page_id: 'not an id' },
      ],
    });
    expect(res.isError).toBe(false);
    const calls = ts.upstream(4);
    expect(calls.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /v1/pages', 'POST /v1/pages', `PATCH /v1/pages/${IDS.row}`, 'POST /v1/pages']);
    expect(calls[0]!.body).toEqual({ parent: { data_source_id: IDS.dataSource }, properties: { title: { title: [{ text: { content: 'One' } }] } } });
    expect(calls[2]!.body).toEqual({ properties: { Done: { checkbox: true } } });
    // An item's own parent wins over the shared one.
    expect((calls[3]!.body as { parent: unknown }).parent).toEqual({ page_id: IDS.parentPage });
    expect(res.data.saved).toEqual([
      { index: 0, action: 'created', id: rowId(1), url: expect.stringContaining(rowId(1).replace(/-/g, '')) },
      { index: 2, action: 'updated', id: IDS.row, url: rowPage().url },
      { index: 3, action: 'created', id: rowId(3), url: expect.any(String) },
    ]);
    expect(res.data.failed).toEqual([
      { index: 1, error: 'validation_error', message: 'Tags is not a property that exists.' },
      { index: 4, error: 'invalid_arguments', message: expect.stringContaining('page_id') },
    ]);
    expect(res.data.resume).toMatch(/failed/);
  });

  it('stops at a rate limit and lists the items that did not run, so the call can be resumed', async () => {
    let n = 0;
    ts.answer((req) => {
      if (req.method !== 'POST') return undefined;
      n++;
      return n === 3 ? { status: 429, body: { object: 'error', status: 429, code: 'rate_limited', message: 'Slow down.' }, headers: { 'retry-after': '30' } } : { body: rowPage({ id: rowId(n) }) };
    });
    const items = Array.from({ length: 6 }, (_, i) => ({ title: `Row ${i}` }));
    const res = await ts.call('save_pages', { parent: IDS.dataSource, items });
    expect(res.data.saved.map((s: { index: number }) => s.index)).toEqual([0, 1]);
    expect(res.data.failed).toEqual([{ index: 2, error: 'rate_limited', message: 'Slow down.' }]);
    expect(res.data.not_run).toEqual([3, 4, 5]);
    expect(ts.apiRequests().filter((r) => r.method === 'POST')).toHaveLength(3);
  });

  it(`takes 1 to ${MAX_BATCH_ITEMS} items, and is refused on a read-only connection without a Notion call`, async () => {
    ts.answer(() => ({ body: rowPage() }));
    for (const items of [[], Array.from({ length: MAX_BATCH_ITEMS + 1 }, () => ({ title: 'x' }))]) {
      const res = await ts.call('save_pages', { parent: IDS.dataSource, items });
      expect(res.data.error.code).toBe('invalid_arguments');
    }
    const ro = await ts.call('save_pages', { parent: IDS.dataSource, items: [{ title: 'x' }] }, ts.readOnlyToken);
    expect(ro.data.error.code).toBe('read_only_connection');
    expect(ts.apiRequests()).toHaveLength(0);
  });

  it('update_page with a parent moves the page first, then updates it, and says both changed', async () => {
    ts.answer((req) => (req.path.endsWith('/move') ? { body: rowPage({ parent: { type: 'page_id', page_id: IDS.parentPage } }) } : { body: rowPage() }));
    const res = await ts.call('update_page', { page_id: IDS.row, parent: IDS.parentPage, is_locked: true });
    expect(res.isError).toBe(false);
    const calls = ts.upstream(2);
    expect(calls.map((r) => `${r.method} ${r.path}`)).toEqual([`POST /v1/pages/${IDS.row}/move`, `PATCH /v1/pages/${IDS.row}`]);
    expect(calls[0]!.body).toEqual({ parent: { page_id: IDS.parentPage } });
    expect(calls[1]!.body).toEqual({ is_locked: true });
    expect(res.data).toEqual({ id: IDS.row, url: rowPage().url, changed: ['parent', 'is_locked'], parent: { page_id: IDS.parentPage } });
  });
});
