import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeDatabase, fakeWorkspace } from '../helpers/fake-notion.js';
import { childPage, IDS } from '../fixtures/pages.js';
import { type ToolStack, startToolStack } from '../helpers/tools.js';

const dashless = (id: string) => id.replace(/-/g, '');
const EMOJI_ID = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
const dataSource = { object: 'data_source', id: IDS.dataSource, title: [], properties: {} };
const database = { object: 'database', id: IDS.database, title: [], data_sources: [] };

describe('icons', () => {
  let ts: ToolStack;
  beforeAll(async () => {
    ts = await startToolStack();
  });
  afterAll(async () => ts.close());

  it('sends emoji (sequences, flags, keycaps), URLs and custom emoji IDs as Notion\'s icon objects', async () => {
    ts.answer(() => ({ body: childPage() }));
    const cases: [string, unknown][] = [
      ['👨‍👩‍👧', { type: 'emoji', emoji: '👨‍👩‍👧' }],
      ['👍🏽', { type: 'emoji', emoji: '👍🏽' }],
      ['🇫🇷', { type: 'emoji', emoji: '🇫🇷' }],
      ['1️⃣', { type: 'emoji', emoji: '1️⃣' }],
      [' ❤️ ', { type: 'emoji', emoji: '❤️' }],
      ['https://example.com/i.png', { type: 'external', external: { url: 'https://example.com/i.png' } }],
      [dashless(EMOJI_ID), { type: 'custom_emoji', custom_emoji: { id: EMOJI_ID } }],
    ];
    for (const [icon] of cases) expect((await ts.call('update_page', { page_id: IDS.page, icon })).isError, icon).toBe(false);
    expect(ts.upstream(cases.length).map((r) => r.body)).toEqual(cases.map(([, icon]) => ({ icon })));
  });

  it('refuses shortcodes, words and several emoji in every tool that takes an icon, before calling Notion', async () => {
    ts.answer(() => ({ body: childPage() }));
    const calls: [string, Record<string, unknown>][] = [
      ['create_page', { parent: { page_id: IDS.parentPage }, title: 'x' }],
      ['update_page', { page_id: IDS.page }],
      ['create_database', { parent: IDS.parentPage }],
      ['update_database', { database_id: IDS.database }],
      ['create_data_source', { database_id: IDS.database, properties: { Name: { title: {} } } }],
      ['update_data_source', { data_source_id: IDS.dataSource }],
    ];
    for (const [name, args] of calls) {
      for (const icon of [':rocket:', 'rocket', '🚀 Launch', '🚀🚀', 'ftp://example.com/i.png']) {
        const res = await ts.call(name, { ...args, icon });
        expect(res.isError, `${name} ${icon}`).toBe(true);
        expect(res.data.error.code).toBe('invalid_arguments');
        expect(res.data.error.message).toBe(
          `icon: ${JSON.stringify(icon)} is not an icon; expected one emoji character (e.g. 🚀), an image URL (https://…), a custom emoji ID (list_custom_emojis) or an icon object`,
        );
      }
    }
    const obj = await ts.call('update_page', { page_id: IDS.page, icon: { type: 'emoji', emoji: ':rocket:' } });
    expect(obj.data.error.message).toMatch(/^icon\.emoji: expected one emoji character/);
    ts.upstream(0);
  });

  it('update_data_source and update_database take icon null (and update_database cover null) to clear it', async () => {
    ts.answer(() => ({ body: dataSource }));
    const ds = await ts.call('update_data_source', { data_source_id: IDS.dataSource, icon: null });
    expect(ds.isError).toBe(false);
    expect(ts.oneCall('PATCH', `/v1/data_sources/${IDS.dataSource}`).body).toEqual({ icon: null });

    ts.answer(() => ({ body: database }));
    const db = await ts.call('update_database', { database_id: IDS.database, icon: null, cover: null });
    expect(db.isError).toBe(false);
    expect(ts.oneCall('PATCH', `/v1/databases/${IDS.database}`).body).toEqual({ icon: null, cover: null });
  });

  it('create_database and create_data_source send a custom emoji ID as custom_emoji', async () => {
    ts.answer(() => ({ body: database }));
    await ts.call('create_database', { parent: IDS.parentPage, icon: EMOJI_ID });
    expect(ts.oneCall('POST', '/v1/databases').body).toMatchObject({ icon: { type: 'custom_emoji', custom_emoji: { id: EMOJI_ID } } });
    ts.answer(() => ({ body: dataSource }));
    await ts.call('create_data_source', { database_id: IDS.database, properties: { Name: { title: {} } }, icon: EMOJI_ID });
    expect(ts.oneCall('POST', '/v1/data_sources').body).toMatchObject({ icon: { type: 'custom_emoji', custom_emoji: { id: EMOJI_ID } } });
  });
});

describe('a parent given as a bare ID or URL', () => {
  let ts: ToolStack;
  const ws = fakeWorkspace('A');
  const { databaseId, dataSourceId } = fakeDatabase(ws);
  beforeAll(async () => {
    ts = await startToolStack();
  });
  afterAll(async () => ts.close());

  /** The fake's own answers (it tells pages, databases and data sources apart as Notion does). */
  const useFakeNotion = () => ts.answer(() => undefined);
  const calls = () => ts.apiRequests().map((r) => `${r.method} ${r.path}`);

  it('a page ID is sent as page_id, in one call', async () => {
    useFakeNotion();
    const res = await ts.call('create_page', { parent: dashless(IDS.parentPage), title: 'Hi' });
    expect(res.isError).toBe(false);
    expect(ts.oneCall('POST', '/v1/pages').body).toEqual({ parent: { page_id: IDS.parentPage }, properties: { title: { title: [{ text: { content: 'Hi' } }] } } });
  });

  it('a database URL: Notion refuses it as a page, the database is looked up, and the page goes into its data source', async () => {
    useFakeNotion();
    const res = await ts.call('create_page', { parent: `https://www.notion.so/${dashless(databaseId)}?v=${dashless(IDS.page)}`, title: 'Row' });
    expect(res.isError).toBe(false);
    expect(res.data.parent).toMatchObject({ data_source_id: dataSourceId });
    expect(calls()).toEqual(['POST /v1/pages', `GET /v1/databases/${databaseId}`, 'POST /v1/pages']);
    const [first, , second] = ts.upstream(3);
    expect(first!.body).toEqual({ parent: { page_id: databaseId }, properties: { title: { title: [{ text: { content: 'Row' } }] } } });
    expect(second!.body).toEqual({ parent: { data_source_id: dataSourceId }, properties: { title: { title: [{ text: { content: 'Row' } }] } } });
  });

  it('a data source ID: tried as a page, then as a database, then found as a data source', async () => {
    useFakeNotion();
    const res = await ts.call('create_page', { parent: dataSourceId, title: 'Row' });
    expect(res.isError).toBe(false);
    expect(calls()).toEqual(['POST /v1/pages', `GET /v1/databases/${dataSourceId}`, `GET /v1/data_sources/${dataSourceId}`, 'POST /v1/pages']);
    expect(ts.upstream(4)[3]!.body).toMatchObject({ parent: { data_source_id: dataSourceId } });
  });

  it('move_page resolves the same way', async () => {
    useFakeNotion();
    const res = await ts.call('move_page', { page_id: IDS.page, parent: databaseId });
    expect(res.isError).toBe(false);
    expect(calls()).toEqual([`POST /v1/pages/${IDS.page}/move`, `GET /v1/databases/${databaseId}`, `POST /v1/pages/${IDS.page}/move`]);
    expect(ts.upstream(3).map((r) => r.body)).toEqual([{ parent: { page_id: databaseId } }, undefined, { parent: { data_source_id: dataSourceId } }]);
  });

  it('an ID that is nothing Notion knows keeps Notion\'s first answer', async () => {
    useFakeNotion();
    const missing = '00000000-1111-4222-8333-444444444444';
    const res = await ts.call('create_page', { parent: missing, title: 'x' });
    expect(res.isError).toBe(true);
    expect(res.data.error.code).toBe('object_not_found');
    expect(res.data.error.message).toContain(`Could not find page with ID: ${missing}`);
    expect(calls()).toEqual(['POST /v1/pages', `GET /v1/databases/${missing}`, `GET /v1/data_sources/${missing}`]);
  });
});
