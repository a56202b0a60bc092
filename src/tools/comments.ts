import { type CreateCommentParameters, extractNotionId, type GetCommentResponse, type ListCommentsResponse, type UpdateCommentParameters } from '@notionhq/client';
import { z } from 'zod';
import { ToolError } from '../errors.js';
import { defineTool } from './registry.js';
import { annotations, idArg, notionId, OVERWRITE, pageSize, READ, startCursor } from './args.js';
import { fitBody } from './limits.js';
import { shape } from '../notion/shape.js';
import { provenance, withheldNote } from './provenance.js';

type RichText = Extract<CreateCommentParameters, { rich_text: unknown }>['rich_text'];

const richTextArg = z
  .union([z.string(), z.array(z.record(z.string(), z.unknown()))])
  .optional()
  .describe('Plain string or rich text array');
const markdownArg = z.string().optional().describe('Text as Markdown (instead of rich_text)');

/** A plain string becomes one text item; `fitBody` splits it at Notion's 2,000-character limit. */
function toRichText(value: string | Record<string, unknown>[]): RichText {
  return (typeof value === 'string' ? [{ text: { content: value } }] : value) as RichText;
}

/** Exactly one of rich_text and markdown, as the body Notion takes. */
function commentText(rich_text: string | Record<string, unknown>[] | undefined, markdown: string | undefined): { rich_text: RichText } | { markdown: string } {
  if (rich_text !== undefined && markdown !== undefined) throw new ToolError('invalid_arguments', 'rich_text: give rich_text or markdown, not both');
  if (markdown !== undefined) {
    if (!markdown.trim()) throw new ToolError('invalid_arguments', 'markdown: empty');
    return { markdown };
  }
  if (rich_text === undefined) throw new ToolError('invalid_arguments', 'rich_text: required (or give markdown)');
  if (rich_text.length === 0 || (typeof rich_text === 'string' && !rich_text.trim())) throw new ToolError('invalid_arguments', 'rich_text: empty');
  return { rich_text: toRichText(rich_text) };
}

const blockId = notionId('block');

type Parent = { page_id: string } | { block_id: string };

/**
 * A comment's parent: a page ID or URL (a URL's `#<block id>` fragment names a block), or
 * `{page_id}` / `{block_id}`, with or without `type`.
 */
function commentParent(value: string | Record<string, unknown>): Parent {
  const bad = () => new ToolError('invalid_arguments', 'parent: expected a page ID or URL, {"page_id":…} or {"block_id":…}');
  if (typeof value === 'string') {
    const trimmed = value.trim();
    const id = blockId.safeParse(trimmed).data;
    if (!id) throw bad();
    const pageId = extractNotionId(trimmed);
    return pageId && pageId !== id ? { block_id: id } : { page_id: id };
  }
  const key = typeof value.page_id === 'string' ? 'page_id' : typeof value.block_id === 'string' ? 'block_id' : undefined;
  // A page_id names the page even in a URL with a #block fragment; a block_id honours the fragment.
  const id = key === 'page_id' ? extractNotionId(value.page_id as string) : key === 'block_id' ? blockId.safeParse(value.block_id).data : undefined;
  if (!key || !id) throw bad();
  return key === 'page_id' ? { page_id: id } : { block_id: id };
}

/** A discussion id, also from a `?d=<id>` comment link or `discussion://<id>`. */
const discussionId = idArg(
  'Discussion ID to reply in a thread',
  (value) => {
    const v = value.trim();
    return extractNotionId(/[?&]d=([0-9a-f]{32})/i.exec(v)?.[1] ?? v.replace(/^discussion:\/\//i, ''));
  },
  'expected a discussion ID (UUID, with or without dashes)',
);

export const commentsTools = [
  defineTool({
    name: 'create_comment',
    description:
      'Comment on a page or block (parent), or reply in a thread (discussion_id). Text as markdown or rich_text.',
    input: {
      parent: z
        .union([z.string(), z.record(z.string(), z.unknown())])
        .optional()
        .describe('Page ID/URL, {"page_id":…} or {"block_id":…}'),
      rich_text: richTextArg,
      markdown: markdownArg,
      discussion_id: discussionId.optional(),
    },
    annotations: annotations('Add comment'),
    run: async ({ parent, rich_text, markdown, discussion_id }, { notion }) => {
      const text = commentText(rich_text, markdown);
      // A reply needs only its thread; a parent sent along as well would be refused by Notion.
      let target: { discussion_id: string } | { parent: Parent };
      if (discussion_id) target = { discussion_id };
      else if (parent !== undefined) target = { parent: commentParent(parent) };
      else throw new ToolError('invalid_arguments', 'parent: required (or give discussion_id)');
      const params = fitBody({ ...target, ...text }) as CreateCommentParameters;
      const c = await notion.write((n, auth) => n.comments.create({ ...params, auth }));
      return { id: c.id, ...('discussion_id' in c ? { discussion_id: c.discussion_id } : {}) };
    },
  }),
  defineTool({
    name: 'get_comments',
    description: 'List the open comments on a page or block, oldest first (more: start_cursor = next_cursor).',
    input: { block_id: notionId('block', 'Page or block ID or URL'), start_cursor: startCursor, page_size: pageSize },
    annotations: annotations('Get comments', READ),
    paging: 'list',
    run: async (query, ctx) => {
      const raw = await ctx.notion.get<ListCommentsResponse>('comments', query);
      const who = await provenance(ctx);
      const list = shape(raw) as Record<string, unknown>;
      const { kept, withheld } = who.vetList(raw.results, list.results as unknown[]);
      return { ...list, results: kept, ...withheldNote(withheld) };
    },
  }),
  defineTool({
    name: 'get_comment',
    description: 'Retrieve one comment by its ID.',
    input: { comment_id: notionId('comment') },
    annotations: annotations('Get comment', READ),
    run: async ({ comment_id }, ctx) => {
      const comment = await ctx.notion.get<GetCommentResponse>(`comments/${comment_id}`);
      const who = await provenance(ctx);
      return who.vetOne(comment, shape(comment), 'comment');
    },
  }),
  defineTool({
    name: 'update_comment',
    description: "Replace a comment's text with markdown or rich_text.",
    input: { comment_id: notionId('comment'), rich_text: richTextArg, markdown: markdownArg },
    annotations: annotations('Update comment', OVERWRITE),
    run: async ({ comment_id, rich_text, markdown }, { notion }) => {
      const params = { comment_id, ...fitBody(commentText(rich_text, markdown)) } as UpdateCommentParameters;
      const c = await notion.write((n, auth) => n.comments.update({ ...params, auth }));
      return { id: c.id, updated: true };
    },
  }),
  defineTool({
    name: 'delete_comment',
    description: 'Delete a comment by its ID.',
    input: { comment_id: notionId('comment') },
    annotations: annotations('Delete comment', OVERWRITE),
    run: async ({ comment_id }, ctx) => {
      const comment = await ctx.notion.write((n, auth) => n.comments.delete({ comment_id, auth }));
      return (await provenance(ctx)).vetEcho(comment, shape(comment), 'comment');
    },
  }),
];
