import type { Client, QueryMeetingNotesParameters } from '@notionhq/client';
import { z } from 'zod';
import { ToolError } from '../errors.js';
import { shape } from '../notion/shape.js';
import { annotations, notionId, READ } from './args.js';
import { provenance } from './provenance.js';
import { defineTool } from './registry.js';

type CreateMeetingNote = Parameters<Client['blocks']['meetingNotes']['create']>[0];

const bad = (field: string, message: string) => new ToolError('invalid_arguments', `Invalid arguments. ${field}: ${message}`);

export const meetingNotesTools = [
  defineTool({
    name: 'create_meeting_notes',
    description:
      'Have Notion AI transcribe and summarize a recording into a meeting notes block: an uploaded file (file_upload_id, status uploaded) on page_id, or an audio/video block (block_id). Returns the block; processing continues, so read it later (status notes_ready).',
    input: {
      file_upload_id: notionId('file upload').optional(),
      page_id: notionId('page').optional(),
      block_id: notionId('block').optional(),
      title: z.string().optional(),
      summarize: z.boolean().optional().describe('Default true'),
    },
    // Not idempotent: Notion makes a new block on every call.
    annotations: annotations('Create meeting notes'),
    run: async (args, { notion }) => {
      if (!args.file_upload_id === !args.block_id) throw bad('file_upload_id', 'give exactly one of file_upload_id or block_id');
      if (args.file_upload_id && !args.page_id) throw bad('page_id', 'a file_upload_id needs the page_id the notes go on');
      if (args.block_id && args.page_id) throw bad('page_id', 'goes with file_upload_id, not block_id (the notes go next to the block)');
      const source = args.file_upload_id
        ? { source: { type: 'file_upload', file_upload_id: args.file_upload_id }, parent: { type: 'page_id', page_id: args.page_id } }
        : { source: { type: 'block', block_id: args.block_id } };
      const body = {
        ...source,
        ...(args.title !== undefined ? { title: args.title } : {}),
        ...(args.summarize !== undefined ? { options: { kickoff_summary: args.summarize } } : {}),
      };
      return shape(await notion.write((n, auth) => n.blocks.meetingNotes.create({ ...body, auth } as CreateMeetingNote)));
    },
  }),
  defineTool({
    name: 'query_meeting_notes',
    description:
      'Find AI meeting notes blocks. title: text the title contains; filter (and-ed with it): Notion\'s meeting-notes filter, e.g. {"property":"attendees","filter":{"operator":"is_not_empty"}}; sort: [{"property":"created_time","direction":"descending"}].',
    input: {
      title: z.string().optional(),
      filter: z.record(z.string(), z.unknown()).optional(),
      sort: z.array(z.record(z.string(), z.unknown())).optional(),
      limit: z
        .number()
        .refine((n) => Number.isInteger(n) && n >= 1, 'expected a whole number from 1')
        .optional(),
    },
    annotations: annotations('Query meeting notes', READ),
    run: async ({ title, filter, sort, limit }, ctx) => {
      const byTitle = title === undefined ? undefined : { property: 'title', filter: { operator: 'string_contains', value: { type: 'exact', value: title } } };
      const where = byTitle && filter ? { operator: 'and', filters: [byTitle, filter] } : (byTitle ?? filter);
      const body = { ...(where ? { filter: where } : {}), ...(sort ? { sort } : {}), ...(limit ? { limit } : {}) } as QueryMeetingNotesParameters;
      const raw = await ctx.notion.read((n, auth) => n.blocks.meetingNotes.query({ ...body, auth }));
      // Whoever recorded or last edited a meeting's notes wrote its title and summary.
      return (await provenance(ctx)).vetResults(raw, shape(raw) as Record<string, unknown>);
    },
  }),
];
