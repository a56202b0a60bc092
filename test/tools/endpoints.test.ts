import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BLOCK_ID, dashless, fileUpload, PAGE_ID, UPLOAD_ID } from '../fixtures/files.js';
import { routes, type ToolStack, startToolStack } from '../helpers/tools.js';

/** The Notion endpoints reached by the rarer ops: file upload listing and AI meeting notes. */

const NOTES_ID = '3c90c3cc-0d44-4b50-8888-8dd25736052a';
const USER = { object: 'user', id: '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d' };

/** A meeting_notes block as Notion 2026-03-11 answers (create and query). */
const meetingNotes = (status: string, title = 'Weekly sync') => ({
  object: 'block',
  id: NOTES_ID,
  type: 'meeting_notes',
  meeting_notes: {
    title: [{ type: 'text', text: { content: title, link: null }, annotations: { bold: false, italic: false, strikethrough: false, underline: false, code: false, color: 'default' }, plain_text: title, href: null }],
    status,
    children: { summary_block_id: '4d5e6f70-8192-4a3b-8c4d-5e6f70819203', notes_block_id: '5e6f7081-9203-4b4c-9d5e-6f7081920314', transcript_block_id: '6f708192-0314-4c5d-8e6f-708192031425' },
    recording: { start_time: '2026-11-02T09:00:00.000Z', end_time: '2026-11-02T09:30:00.000Z' },
  },
  created_time: '2026-11-02T09:31:00.000Z',
  last_edited_time: '2026-11-02T09:31:00.000Z',
  created_by: USER,
  last_edited_by: USER,
  has_children: true,
  in_trash: false,
  request_id: 'req-notes',
});

describe('file upload listing and meeting notes', () => {
  let ts: ToolStack;
  beforeAll(async () => {
    ts = await startToolStack();
  });
  afterAll(() => ts.close());

  it('list_file_uploads: GET with the status filter and paging; summaries without pre-signed URLs', async () => {
    const pending = fileUpload();
    ts.answer(
      routes({
        'GET /v1/file_uploads': {
          body: { object: 'list', results: [pending], next_cursor: 'cursor-2', has_more: true, type: 'file_upload', file_upload: {}, request_id: 'req-list' },
        },
      }),
    );
    const res = await ts.call('more', { op: 'list_file_uploads', args: { status: 'pending', page_size: 1, start_cursor: 'cursor-1' } });
    expect(res.isError).toBe(false);
    ts.oneCall('GET', '/v1/file_uploads', { status: 'pending', page_size: '1', start_cursor: 'cursor-1' });
    expect(res.data).toEqual({
      results: [{ object: 'file_upload', id: UPLOAD_ID, status: 'pending', filename: 'notes.txt', content_type: 'text/plain', expiry_time: pending.expiry_time }],
      has_more: true,
      next_cursor: 'cursor-2',
    });
    expect(JSON.stringify(res.data)).not.toContain('upload_url');
  });

  it('list_file_uploads refuses an unknown status before Notion', async () => {
    ts.answer(routes({}));
    const res = await ts.call('list_file_uploads', { status: 'done' });
    expect(res.isError).toBe(true);
    expect(res.data.error.code).toBe('invalid_arguments');
    ts.upstream(0);
  });

  it('create_meeting_notes from a file upload: POST /v1/blocks/meeting_notes with source, parent, title and options', async () => {
    ts.answer(routes({ 'POST /v1/blocks/meeting_notes': { body: meetingNotes('transcription_in_progress') } }));
    const res = await ts.call('create_meeting_notes', {
      file_upload_id: dashless(UPLOAD_ID),
      page_id: `https://www.notion.so/acme/Standups-${dashless(PAGE_ID)}`,
      title: 'Weekly sync',
      summarize: false,
    });
    expect(res.isError).toBe(false);
    const req = ts.oneCall('POST', '/v1/blocks/meeting_notes');
    expect(req.body).toEqual({
      source: { type: 'file_upload', file_upload_id: UPLOAD_ID },
      parent: { type: 'page_id', page_id: PAGE_ID },
      title: 'Weekly sync',
      options: { kickoff_summary: false },
    });
    expect(res.data).toMatchObject({ object: 'block', id: NOTES_ID, type: 'meeting_notes' });
    expect(JSON.stringify(res.data)).toContain('transcription_in_progress');
    expect(JSON.stringify(res.data)).not.toContain('request_id');
  });

  it('create_meeting_notes from an audio block sends no parent', async () => {
    ts.answer(routes({ 'POST /v1/blocks/meeting_notes': { body: { object: 'block', id: NOTES_ID, request_id: 'r' } } }));
    const res = await ts.call('create_meeting_notes', { block_id: BLOCK_ID });
    expect(res.isError).toBe(false);
    expect(ts.oneCall('POST', '/v1/blocks/meeting_notes').body).toEqual({ source: { type: 'block', block_id: BLOCK_ID } });
    expect(res.data).toEqual({ object: 'block', id: NOTES_ID });
  });

  it('create_meeting_notes refuses a wrong mix of source and parent before Notion', async () => {
    ts.answer(routes({}));
    for (const [args, field] of [
      [{}, 'file_upload_id'],
      [{ file_upload_id: UPLOAD_ID, block_id: BLOCK_ID, page_id: PAGE_ID }, 'file_upload_id'],
      [{ file_upload_id: UPLOAD_ID }, 'page_id'],
      [{ block_id: BLOCK_ID, page_id: PAGE_ID }, 'page_id'],
    ] as const) {
      const res = await ts.call('create_meeting_notes', args);
      expect(res.isError, JSON.stringify(args)).toBe(true);
      expect(res.data.error.code).toBe('invalid_arguments');
      expect(res.data.error.message).toContain(`${field}:`);
    }
    ts.upstream(0);
    await ts.expectWritesRefused([['create_meeting_notes', { block_id: BLOCK_ID }]] as const);
  });

  it('query_meeting_notes: POST /v1/blocks/meeting_notes/query with filter, sort and limit, also on a read-only connection', async () => {
    const filter = { property: 'attendees', filter: { operator: 'is_not_empty' } };
    const sort = [{ property: 'created_time', direction: 'descending' }];
    ts.answer(routes({ 'POST /v1/blocks/meeting_notes/query': { body: { results: [meetingNotes('notes_ready')], has_more: false, request_id: 'q' } } }));
    const res = await ts.call('more', { op: 'query_meeting_notes', args: { filter: JSON.stringify(filter), sort, limit: 5 } }, ts.readOnlyToken);
    expect(res.isError).toBe(false);
    const req = ts.oneCall('POST', '/v1/blocks/meeting_notes/query', {}, { token: ts.readOnlyNotionToken });
    expect(req.body).toEqual({ filter, sort, limit: 5 });
    expect(res.data.has_more).toBe(false);
    expect(res.data.results).toHaveLength(1);
    expect(JSON.stringify(res.data.results[0])).toContain('notes_ready');
  });

  it('query_meeting_notes: title becomes a string_contains filter, and-ed with a given filter', async () => {
    const byTitle = { property: 'title', filter: { operator: 'string_contains', value: { type: 'exact', value: 'sync' } } };
    const attendees = { property: 'attendees', filter: { operator: 'is_not_empty' } };
    ts.answer(routes({ 'POST /v1/blocks/meeting_notes/query': { body: { results: [], has_more: false } } }));
    expect((await ts.call('query_meeting_notes', { title: 'sync' })).isError).toBe(false);
    expect((await ts.call('query_meeting_notes', { title: 'sync', filter: attendees })).isError).toBe(false);
    expect((await ts.call('query_meeting_notes', {})).isError).toBe(false);
    const [one, both, none] = ts.upstream(3);
    expect(one!.body).toEqual({ filter: byTitle });
    expect(both!.body).toEqual({ filter: { operator: 'and', filters: [byTitle, attendees] } });
    expect(none!.body).toEqual({});
  });
});
