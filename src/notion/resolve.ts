/**
 * Database vs data source resolution (Notion 2025-09-03 and later).
 *
 * A database is a container of one or more data sources; schemas, rows and queries belong to a
 * data source. Models often hold the other kind of ID (search returns data sources, URLs name
 * databases), so tools resolve explicitly and at most once:
 * - from a database: GET /v1/databases/{id}; exactly one data source is used, several are an
 *   `ambiguous_database` error that lists them;
 * - from a data source ID that Notion does not know: check once whether it is a database.
 */
import type { GetDatabaseResponse, GetDataSourceResponse } from '@notionhq/client';
import { ToolError } from '../errors.js';
import { richText } from './shape.js';
import type { NotionSession } from './session.js';

export interface DataSourceRef {
  id: string;
  name: string;
}

export const isNotFound = (err: unknown): err is ToolError => err instanceof ToolError && err.code === 'object_not_found';

/** A lookup that failed because the ID is not that kind of object (404, or 400 "is a page"). */
export const isWrongKind = (err: unknown): boolean =>
  err instanceof ToolError && (err.code === 'object_not_found' || err.code === 'validation_error' || err.extra.status === 400);

export function getDatabase(notion: NotionSession, databaseId: string): Promise<GetDatabaseResponse> {
  return notion.get<GetDatabaseResponse>(`databases/${databaseId}`);
}

export function getDataSource(notion: NotionSession, dataSourceId: string): Promise<GetDataSourceResponse> {
  return notion.get<GetDataSourceResponse>(`data_sources/${dataSourceId}`);
}

/** The data sources a database lists, as `{ id, name }`. */
export function dataSourcesOf(db: GetDatabaseResponse): DataSourceRef[] {
  return 'data_sources' in db ? db.data_sources.map((s) => ({ id: s.id, name: s.name })) : [];
}

/**
 * The one data source of a database. Several: `ambiguous_database`, naming each so the model can
 * pick; none: `no_data_source`.
 * @param how what the model should do with its choice, e.g. 'Pass its ID as data_source_id.'
 */
export function soleDataSource(db: GetDatabaseResponse, how = 'Call again with its ID as data_source_id.'): string {
  const sources = dataSourcesOf(db);
  if (sources.length === 1) return sources[0]!.id;
  const title = 'title' in db ? richText(db.title) : '';
  const name = title ? `Database "${title}"` : `Database ${db.id}`;
  if (sources.length === 0) {
    throw new ToolError('no_data_source', `${name} has no data source shared with this connection.`, { database_id: db.id });
  }
  const list = sources.map((s) => `"${s.name}" (${s.id})`).join(', ');
  throw new ToolError('ambiguous_database', `${name} has ${sources.length} data sources: ${list}. Which one? ${how}`, {
    database_id: db.id,
    data_sources: sources,
  });
}

/** GET the database and return its one data source (see `soleDataSource`). */
export async function dataSourceOfDatabase(notion: NotionSession, databaseId: string, how?: string): Promise<string> {
  return soleDataSource(await getDatabase(notion, databaseId), how);
}

export interface Resolved<T> {
  value: T;
  /** Set when the ID given was a database and the call ran on its data source instead. */
  resolvedDataSourceId?: string;
}

/**
 * Runs `call` on a data source ID. Only if Notion answers 404 does it check, once, whether the ID
 * is a database: with one data source the call runs again on that; with several the model gets
 * `ambiguous_database`; if it is no database either, the original 404 stands.
 * With a correct data source ID this is exactly one upstream call.
 */
export async function onDataSource<T>(notion: NotionSession, id: string, call: (dataSourceId: string) => Promise<T>): Promise<Resolved<T>> {
  try {
    return { value: await call(id) };
  } catch (err) {
    if (!isNotFound(err)) throw err;
    let db: GetDatabaseResponse;
    try {
      db = await getDatabase(notion, id);
    } catch (lookup) {
      throw isWrongKind(lookup) ? err : lookup;
    }
    const dataSourceId = soleDataSource(db);
    return { value: await call(dataSourceId), resolvedDataSourceId: dataSourceId };
  }
}

/**
 * The data source an ID names: a database's only one (several: `ambiguous_database`, with `how`),
 * or the data source itself. Null when Notion says it is neither.
 */
async function dataSourceNamedBy(notion: NotionSession, id: string, how: string): Promise<string | null> {
  try {
    return soleDataSource(await getDatabase(notion, id), how);
  } catch (err) {
    if (!isWrongKind(err)) throw err;
  }
  try {
    await getDataSource(notion, id);
    return id;
  } catch (err) {
    if (!isWrongKind(err)) throw err;
  }
  return null;
}

/**
 * Runs `write` under a parent ID whose kind the model did not say (a bare ID or URL, which may
 * name a page, a database or a data source). It goes as a page first; only if Notion refuses it
 * (404, or 400 for the wrong kind, so nothing was written) is the ID looked up, once as a database
 * (its one data source is used) and once as a data source, and the write sent again under that.
 * If it is neither, Notion's first answer stands. A page ID costs exactly one call.
 */
export async function underUntypedParent<T>(
  notion: NotionSession,
  id: string,
  write: (parent: { page_id: string } | { data_source_id: string }) => Promise<T>,
  how: string,
): Promise<T> {
  try {
    return await write({ page_id: id });
  } catch (err) {
    if (!isWrongKind(err)) throw err;
    const dataSourceId = await dataSourceNamedBy(notion, id, how);
    if (!dataSourceId) throw err;
    return write({ data_source_id: dataSourceId });
  }
}

/** Adds `resolved_data_source_id` to a shaped result when resolution happened. */
export function withResolved(shaped: unknown, resolvedDataSourceId: string | undefined): unknown {
  if (!resolvedDataSourceId || typeof shaped !== 'object' || shaped === null) return shaped;
  return { resolved_data_source_id: resolvedDataSourceId, ...(shaped as Record<string, unknown>) };
}
