type Obj = Record<string, unknown>;

/**
 * What a write answers: the object's id and url, and what changed, never the whole object. The
 * model already knows what it sent; echoing the page back cost thousands of tokens per edit.
 * `fetch` reads the object when it is needed.
 */
export function confirmation(res: unknown, extra: Obj = {}): Obj {
  const o = (typeof res === 'object' && res !== null ? res : {}) as Obj;
  const id = String(o.id ?? '');
  const out: Obj = { id };
  const url = typeof o.url === 'string' && o.url ? o.url : o.object === 'page' || o.object === 'database' ? notionUrl(id) : undefined;
  if (url) out.url = url;
  return { ...out, ...extra };
}

/** Notion's address for an ID (pages and databases open at notion.so/<id without dashes>). */
export const notionUrl = (id: string): string => `https://www.notion.so/${id.replace(/-/g, '')}`;

/** The names of the fields a write set, for `changed`. */
export const setFields = (args: Obj, fields: readonly string[]): string[] => fields.filter((k) => args[k] !== undefined);
