import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childPage, IDS, pageMarkdown, pageUrl } from '../fixtures/pages.js';
import { type ToolStack, routes, startToolStack } from '../helpers/tools.js';

const TEMPLATE_ID = '1861c1cc-e3f3-80bf-8823-f701d4e7a2c1';
const TASK_ID = 'task_abc123';
const dashless = (id: string) => id.replace(/-/g, '');
const titleProp = (content: string) => ({ title: [{ text: { content } }] });

/** An async_task as Notion answers it (retrieve-async-task reference): queued, running, succeeded or failed. */
function task(status: string, operation: string, extra: Record<string, unknown> = {}) {
  return {
    object: 'async_task',
    id: TASK_ID,
    status,
    status_url: `https://api.notion.com/v1/async_tasks/${TASK_ID}`,
    created_time: '2026-06-29T12:00:00.000Z',
    operation: { surface: 'rest', name: operation },
    ...extra,
  };
}

describe('templates and asynchronous writes', () => {
  let ts: ToolStack;
  beforeAll(async () => {
    ts = await startToolStack();
  });
  afterAll(async () => ts.close());

  describe('create_page with a template', () => {
    it('sends the default template with the properties only, and says Notion applies it in the background', async () => {
      ts.answer(routes({ 'POST /v1/pages': { body: childPage({ parent: { type: 'data_source_id', data_source_id: IDS.dataSource, database_id: IDS.database } }) } }));
      const res = await ts.call('create_page', { parent: { data_source_id: IDS.dataSource }, title: 'Bug 7', template: 'default' });
      expect(res.isError).toBe(false);
      const [req] = ts.upstream(1);
      expect(req!.body).toEqual({ parent: { data_source_id: IDS.dataSource }, properties: { title: titleProp('Bug 7') }, template: { type: 'default' } });
      expect(res.data).toEqual({
        id: IDS.page,
        url: pageUrl('Meeting notes', IDS.page),
        parent: { data_source_id: IDS.dataSource, database_id: IDS.database },
        template: 'Notion applies the template in the background: the page fills in within moments.',
      });
    });

    it('takes a template ID as a URL or dashless ID and sends it dashed', async () => {
      ts.answer(routes({ 'POST /v1/pages': { body: childPage() } }));
      for (const given of [dashless(TEMPLATE_ID), `https://www.notion.so/acme/Album-${dashless(TEMPLATE_ID)}`]) {
        const res = await ts.call('create_page', { parent: { data_source_id: IDS.dataSource }, title: 'x', template: given });
        expect(res.isError).toBe(false);
      }
      for (const req of ts.upstream(2)) expect((req.body as { template: unknown }).template).toEqual({ type: 'template_id', template_id: TEMPLATE_ID });
    });

    it('refuses content next to a template without calling Notion, but takes it with template "none"', async () => {
      ts.answer(routes({ 'POST /v1/pages': { body: childPage() } }));
      const withMarkdown = await ts.call('create_page', { parent: { data_source_id: IDS.dataSource }, template: 'default', markdown: '# Notes' });
      const withChildren = await ts.call('create_page', { parent: { data_source_id: IDS.dataSource }, template: TEMPLATE_ID, children: [{ type: 'divider', divider: {} }] });
      for (const res of [withMarkdown, withChildren]) {
        expect(res.isError).toBe(true);
        expect(res.data.error.code).toBe('invalid_arguments');
        expect(res.data.error.message).toContain('template');
      }
      const badId = await ts.call('create_page', { parent: { data_source_id: IDS.dataSource }, template: 'Album' });
      expect(badId.data.error.message).toContain('list_data_source_templates');
      ts.upstream(0);
      const none = await ts.call('create_page', { parent: IDS.parentPage, title: 'Plain', template: 'none', markdown: '# Notes' });
      expect(none.isError).toBe(false);
      expect(none.data.template).toBeUndefined();
      expect(ts.upstream(1)[0]!.body).toEqual({ parent: { page_id: IDS.parentPage }, properties: { title: titleProp('Plain') }, markdown: '# Notes', template: { type: 'none' } });
    });
  });

  describe('update_page with a template', () => {
    it('applies a template to an existing page, erasing its content first when asked', async () => {
      ts.answer(routes({ [`PATCH /v1/pages/${IDS.page}`]: { body: childPage() } }));
      const res = await ts.call('update_page', { page_id: IDS.page, template: TEMPLATE_ID, erase_content: true });
      expect(res.isError).toBe(false);
      expect(ts.upstream(1)[0]!.body).toEqual({ template: { type: 'template_id', template_id: TEMPLATE_ID }, erase_content: true });
      expect(res.data.changed).toEqual(['erase_content', 'template']);
      expect(res.data.template).toMatch(/background/);
      const byDefault = await ts.call('update_page', { page_id: IDS.page, template: 'default' });
      expect(byDefault.isError).toBe(false);
      expect(ts.apiRequests()[1]!.body).toEqual({ template: { type: 'default' } });
    });

    it('refuses template "none", which Notion does not take on an update', async () => {
      ts.answer(routes({}));
      const res = await ts.call('update_page', { page_id: IDS.page, template: 'none' });
      expect(res.isError).toBe(true);
      expect(res.data.error.code).toBe('invalid_arguments');
      ts.upstream(0);
    });
  });

  describe('allow_async', () => {
    it('create_page sends allow_async with markdown and answers the task to poll', async () => {
      ts.answer(routes({ 'POST /v1/pages': { status: 202, body: task('queued', 'POST /v1/pages', { poll_after_seconds: 2 }) } }));
      const res = await ts.call('create_page', { parent: IDS.parentPage, title: 'Long', markdown: '# Long\n\nText', allow_async: true });
      expect(res.isError).toBe(false);
      expect(ts.upstream(1)[0]!.body).toEqual({ parent: { page_id: IDS.parentPage }, properties: { title: titleProp('Long') }, markdown: '# Long\n\nText', allow_async: true });
      expect(res.data).toEqual({ task_id: TASK_ID, status: 'queued', poll_after_seconds: 2, next: 'Poll with get_async_task (in more) and this task_id.' });
    });

    it('create_page refuses allow_async without markdown, which Notion only runs in the background', async () => {
      ts.answer(routes({}));
      const res = await ts.call('create_page', { parent: IDS.parentPage, title: 'x', allow_async: true });
      expect(res.isError).toBe(true);
      expect(res.data.error.message).toContain('markdown');
      ts.upstream(0);
    });

    it('create_page still answers id and url when Notion finishes at once despite allow_async', async () => {
      ts.answer(routes({ 'POST /v1/pages': { body: childPage() } }));
      const res = await ts.call('create_page', { parent: IDS.parentPage, markdown: 'x', allow_async: true });
      expect(res.data).toMatchObject({ id: IDS.page, url: pageUrl('Meeting notes', IDS.page) });
    });

    it('update_page_markdown sends allow_async with the edit and answers the task', async () => {
      ts.answer(routes({ [`PATCH /v1/pages/${IDS.page}/markdown`]: { status: 202, body: task('running', 'PATCH /v1/pages/:page_id/markdown', { poll_after_seconds: 1 }) } }));
      const res = await ts.call('update_page_markdown', { page_id: IDS.page, markdown: '# New', allow_async: true });
      expect(res.isError).toBe(false);
      expect(ts.upstream(1)[0]!.body).toEqual({ type: 'replace_content', replace_content: { new_str: '# New' }, allow_async: true });
      expect(res.data).toMatchObject({ task_id: TASK_ID, status: 'running', poll_after_seconds: 1 });
    });

    it('update_page_markdown without allow_async sends none and answers as before', async () => {
      ts.answer(routes({ [`PATCH /v1/pages/${IDS.page}/markdown`]: { body: pageMarkdown('# New') } }));
      const res = await ts.call('update_page_markdown', { page_id: IDS.page, markdown: '# New' });
      expect(ts.upstream(1)[0]!.body).toEqual({ type: 'replace_content', replace_content: { new_str: '# New' } });
      expect(res.data).toMatchObject({ id: IDS.page, replaced: true });
    });
  });

  describe('get_async_task (in more)', () => {
    const path = `/v1/async_tasks/${TASK_ID}`;
    const poll = () => ts.call('more', { op: 'get_async_task', args: { task_id: TASK_ID } });

    it('says a pending task is still running and when to poll again', async () => {
      ts.answer(routes({ [`GET ${path}`]: { body: task('retrying', 'POST /v1/pages', { poll_after_seconds: 5 }) } }));
      const res = await poll();
      ts.oneCall('GET', path);
      expect(res.data).toEqual({ task_id: TASK_ID, status: 'retrying', operation: 'POST /v1/pages', poll_after_seconds: 5 });
    });

    it('answers only the id and url of what a succeeded task wrote', async () => {
      ts.answer(routes({ [`GET ${path}`]: { body: task('succeeded', 'POST /v1/pages', { result: childPage() }) } }));
      const res = await poll();
      expect(res.data).toEqual({ task_id: TASK_ID, status: 'succeeded', operation: 'POST /v1/pages', result: { id: IDS.page, url: pageUrl('Meeting notes', IDS.page) } });
    });

    it("gives a Markdown edit's result the page's url", async () => {
      ts.answer(routes({ [`GET ${path}`]: { body: task('succeeded', 'PATCH /v1/pages/:page_id/markdown', { result: pageMarkdown('# New') }) } }));
      const res = await poll();
      expect(res.data.result).toEqual({ id: IDS.page, url: `https://www.notion.so/${dashless(IDS.page)}` });
    });

    it("passes on a failed task's error", async () => {
      const error = { object: 'error', status: 409, code: 'conflict_error', message: 'Conflict occurred while saving. Please try again.' };
      ts.answer(routes({ [`GET ${path}`]: { body: task('failed', 'PATCH /v1/pages/:page_id/markdown', { error }) } }));
      const res = await poll();
      expect(res.isError).toBe(false);
      expect(res.data).toEqual({ task_id: TASK_ID, status: 'failed', operation: 'PATCH /v1/pages/:page_id/markdown', error: { code: 'conflict_error', message: error.message } });
    });

    it('reports an expired or unknown task as Notion does', async () => {
      ts.answer(routes({ [`GET ${path}`]: { status: 404, body: { object: 'error', status: 404, code: 'object_not_found', message: `Could not find async task with ID: ${TASK_ID}.` } } }));
      const res = await poll();
      expect(res.isError).toBe(true);
      expect(res.data.error.code).toBe('object_not_found');
    });
  });
});
