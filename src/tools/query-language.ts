/**
 * The compact query language of query_data_source, compiled to Notion's filter and sort JSON
 * with the data source's schema: conditions by property name with plain values (options by name,
 * people by name or email, dates as ISO days, Notion's relative values and ranges or "past N
 * days"), `order_by` by name. Notion's own filter and sort objects pass through unchanged.
 */
import { extractNotionId, type GetDataSourceResponse, type ListUsersResponse } from '@notionhq/client';
import { ToolError } from '../errors.js';
import type { NotionSession } from '../notion/session.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const bad = (message: string, extra: Obj = {}) => new ToolError('invalid_arguments', message, extra);
const quoted = (names: readonly string[], max = 40) =>
  names.slice(0, max).map((n) => JSON.stringify(n)).join(', ') + (names.length > max ? `, … (${names.length - max} more)` : '');

/** Users read to resolve people by name or email (10 calls of 100). */
const USERS_CAP = 1000;
const USERS_PAGE_SIZE = 100;

// ---------------------------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------------------------

interface Property {
  name: string;
  id: string;
  type: string;
  /** Option names of a select, status or multi_select. */
  options?: string[];
}

export class Schema {
  readonly props: Property[];
  constructor(ds: GetDataSourceResponse) {
    const raw = 'properties' in ds && isObj(ds.properties) ? ds.properties : {};
    this.props = Object.entries(raw).map(([name, p]) => {
      const o = p as Obj;
      const type = String(o.type);
      const config = o[type] as Obj | undefined;
      const options = Array.isArray(config?.options) ? (config.options as Obj[]).map((x) => String(x.name)) : undefined;
      return { name, id: String(o.id), type, ...(options ? { options } : {}) };
    });
  }

  /** A property by name (exact, else ignoring case) or ID (as Notion gives it, or decoded). */
  private find(name: string): Property | undefined {
    return (
      this.props.find((p) => p.name === name) ??
      this.props.find((p) => p.name.toLowerCase() === name.toLowerCase()) ??
      this.props.find((p) => p.id === name || safeDecode(p.id) === name)
    );
  }

  /** `find`, else an error listing the names. */
  get(name: string): Property {
    const hit = this.find(name);
    if (hit) return hit;
    const names = this.props.map((p) => p.name);
    throw bad(`No property ${JSON.stringify(name)} in this data source. Properties: ${quoted(names)}.`, { property: name, valid: names });
  }

  has(name: string): boolean {
    return this.find(name) !== undefined;
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** An option by name (exact, else ignoring case); else an error listing the options. */
function option(prop: Property, value: unknown): string {
  if (typeof value !== 'string') throw bad(`${prop.name}: expected an option name, got ${JSON.stringify(value)}.`);
  const options = prop.options ?? [];
  const hit = options.find((o) => o === value) ?? options.find((o) => o.toLowerCase() === value.toLowerCase());
  if (hit !== undefined) return hit;
  throw bad(`${prop.name} has no option ${JSON.stringify(value)}. Options: ${quoted(options)}.`, { property: prop.name, valid: options });
}

// ---------------------------------------------------------------------------------------------
// People: "me", a user ID, an email or a name, resolved once per call through GET /v1/users
// ---------------------------------------------------------------------------------------------

interface Person {
  id: string;
  name: string;
  email?: string;
}

class People {
  private list: Promise<Person[]> | undefined;
  constructor(private readonly notion: NotionSession) {}

  private load(): Promise<Person[]> {
    this.list ??= (async () => {
      const out: Person[] = [];
      let cursor: string | undefined;
      do {
        const page = await this.notion.get<ListUsersResponse>('users', { page_size: USERS_PAGE_SIZE, ...(cursor ? { start_cursor: cursor } : {}) });
        for (const u of page.results as Obj[]) {
          const email = (u.person as Obj | undefined)?.email;
          out.push({ id: String(u.id), name: typeof u.name === 'string' ? u.name : '', ...(typeof email === 'string' ? { email } : {}) });
        }
        cursor = page.has_more && page.next_cursor ? page.next_cursor : undefined;
      } while (cursor && out.length < USERS_CAP);
      return out;
    })();
    return this.list;
  }

  async id(prop: Property, value: unknown): Promise<string> {
    if (typeof value !== 'string' || !value.trim()) throw bad(`${prop.name}: expected a person's name, email or user ID, or "me".`);
    const v = value.trim();
    if (v.toLowerCase() === 'me') return 'me';
    const id = /^[0-9a-f-]{32,36}$/i.test(v) ? extractNotionId(v) : null;
    if (id) return id;
    let users: Person[];
    try {
      users = await this.load();
    } catch (err) {
      // Without the "read user information" capability Notion refuses the list (403).
      if (!(err instanceof ToolError && err.extra.status === 403)) throw err;
      throw bad(`${prop.name}: this connection may not list the workspace's users to find ${JSON.stringify(v)}. Give the user ID instead.`);
    }
    const lower = v.toLowerCase();
    const byEmail = users.filter((u) => u.email?.toLowerCase() === lower);
    const matches = byEmail.length ? byEmail : users.filter((u) => u.name.toLowerCase() === lower);
    if (matches.length === 1) return matches[0]!.id;
    const who = (us: Person[]) => us.map((u) => (u.email ? `${u.name} <${u.email}>` : u.name || u.id));
    if (matches.length > 1) throw bad(`${prop.name}: ${JSON.stringify(v)} names ${matches.length} people: ${quoted(who(matches))}. Use the email or user ID.`);
    throw bad(`${prop.name}: no user ${JSON.stringify(v)}. Users: ${quoted(who(users), 20)}.`, { property: prop.name });
  }
}

// ---------------------------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------------------------

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
/** Notion's relative date values, accepted wherever a date is. */
const RELATIVE_DATES = ['today', 'tomorrow', 'yesterday', 'one_week_ago', 'one_week_from_now', 'one_month_ago', 'one_month_from_now'];
/** Notion's date conditions that take no value (`{"this_week":{}}`). */
const DATE_RANGES = ['this_week', 'past_week', 'past_month', 'past_year', 'next_week', 'next_month', 'next_year'];
const N_DAYS = /^(past|last|next)_(\d{1,4})_days?$/;
const DATE_FORMS = `an ISO date (2026-12-31), ${RELATIVE_DATES.slice(0, 3).join(', ')}, ${DATE_RANGES.join(', ')}, "past 7 days" or "next 30 days"`;

const words = (s: string) => s.trim().toLowerCase().replace(/[\s-]+/g, '_');
const isoDay = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);

/** A date operand: an ISO date or time, or one of Notion's relative values. */
function dateOperand(prop: Property, value: unknown): string {
  if (typeof value === 'string') {
    if (ISO_DATE.test(value.trim()) && !Number.isNaN(Date.parse(value.trim().slice(0, 10)))) return value.trim();
    const w = words(value);
    if (RELATIVE_DATES.includes(w)) return w;
  }
  throw bad(`${prop.name}: ${JSON.stringify(value)} is not a date. Use an ISO date (2026-12-31) or ${RELATIVE_DATES.join(', ')}.`);
}

/**
 * A plain date value: a day or relative value (equals), one of Notion's ranges (this_week…), or
 * "past N days" / "next N days" (N counted in UTC days from today).
 */
function datePlain(prop: Property, value: unknown): Obj[] {
  if (typeof value === 'string') {
    const w = words(value);
    if (DATE_RANGES.includes(w)) return [{ [w]: {} }];
    const n = N_DAYS.exec(w);
    if (n) {
      const days = Number(n[2]);
      return n[1] === 'next' ? [{ on_or_after: 'today' }, { on_or_before: isoDay(days) }] : [{ on_or_after: isoDay(-days) }, { on_or_before: 'today' }];
    }
    if (ISO_DATE.test(value.trim()) || RELATIVE_DATES.includes(w)) return [{ equals: dateOperand(prop, value) }];
  }
  throw bad(`${prop.name}: ${JSON.stringify(value)} is not a date. Use ${DATE_FORMS}, or {"before":…}, {"after":…}.`);
}

// ---------------------------------------------------------------------------------------------
// where → Notion filter
// ---------------------------------------------------------------------------------------------

const TEXT = new Set(['title', 'rich_text', 'url', 'email', 'phone_number']);
const DATE = new Set(['date', 'created_time', 'last_edited_time']);
const PEOPLE = new Set(['people', 'created_by', 'last_edited_by']);
const NUMBER = new Set(['number', 'unique_id']);

/** Short operator names → the condition each type calls it. */
const ALIASES: Record<string, { number: string; date: string; other?: string }> = {
  '>': { number: 'greater_than', date: 'after' },
  '>=': { number: 'greater_than_or_equal_to', date: 'on_or_after' },
  '<': { number: 'less_than', date: 'before' },
  '<=': { number: 'less_than_or_equal_to', date: 'on_or_before' },
  '=': { number: 'equals', date: 'equals', other: 'equals' },
  '!=': { number: 'does_not_equal', date: 'does_not_equal', other: 'not' },
};
const NUMBER_OPS = ['equals', 'does_not_equal', 'greater_than', 'less_than', 'greater_than_or_equal_to', 'less_than_or_equal_to'];
const DATE_OPS = ['equals', 'before', 'after', 'on_or_before', 'on_or_after'];
const TEXT_OPS = ['equals', 'does_not_equal', 'contains', 'does_not_contain', 'starts_with', 'ends_with'];
const EXISTENCE = ['is_empty', 'is_not_empty'];

/** Whether an object is Notion's own filter JSON (a property or timestamp condition). */
const isNotionCondition = (o: Obj) => (typeof o.property === 'string' && Object.keys(o).length >= 2) || typeof o.timestamp === 'string';

/** Whether a `where` needs the schema: any condition by name rather than Notion's filter JSON. */
export function whereNeedsSchema(where: unknown): boolean {
  if (!isObj(where) || isNotionCondition(where)) return false;
  return Object.entries(where).some(([k, v]) => !((k === 'and' || k === 'or') && Array.isArray(v)) || v.some(whereNeedsSchema));
}

/**
 * Conditions joined by `and` / `or`; a nested group of the same kind is spliced in, since Notion
 * takes compound filters only two levels deep.
 */
const join = (kind: 'and' | 'or', parts: Obj[]): Obj => {
  const flat = parts.flatMap((p) => (Object.keys(p).length === 1 && Array.isArray(p[kind]) ? (p[kind] as Obj[]) : [p]));
  return flat.length === 1 ? flat[0]! : { [kind]: flat };
};
const allOf = (parts: Obj[]) => join('and', parts);
const anyOf = (parts: Obj[]) => join('or', parts);
/** One Notion condition; `as` nests it under a formula's or rollup's value type. */
interface Cond {
  cond: Obj;
  as?: string;
}

class WhereCompiler {
  private readonly people: People;
  constructor(
    private readonly schema: Schema | undefined,
    notion: NotionSession,
  ) {
    this.people = new People(notion);
  }

  /** `where` → one Notion filter. Keys are ANDed; `and` / `or` take lists of either form. */
  async filter(where: Obj): Promise<Obj> {
    if (isNotionCondition(where)) return where;
    const parts: Obj[] = [];
    for (const [key, value] of Object.entries(where)) {
      if ((key === 'and' || key === 'or') && Array.isArray(value)) {
        const inner: Obj[] = [];
        for (const v of value) {
          if (!isObj(v)) throw bad(`where.${key}: expected a list of conditions (objects), got ${JSON.stringify(v)}.`);
          inner.push(await this.filter(v));
        }
        parts.push(join(key, inner));
      } else parts.push(await this.condition(key, value));
    }
    if (parts.length === 0) throw bad('where: give at least one condition, e.g. {"Status":"Done"}.');
    return allOf(parts);
  }

  private async condition(name: string, value: unknown): Promise<Obj> {
    const prop = this.schema!.get(name);
    if (Array.isArray(value)) {
      if (value.length === 0) throw bad(`${prop.name}: an empty list matches nothing; give values, or null for empty.`);
      return anyOf(await Promise.all(value.map((v) => this.condition(name, v))));
    }
    const conds = isObj(value) ? await this.operators(prop, value) : await this.plain(prop, value);
    return allOf(conds.map(({ cond, as }) => ({ property: prop.name, [prop.type]: as ? { [as]: cond } : cond })));
  }

  /** A plain value: the equality or containment that type means. */
  private async plain(prop: Property, v: unknown): Promise<Cond[]> {
    const t = prop.type;
    if (v === null) return [this.existence(prop, 'is_empty')];
    if (TEXT.has(t)) return [{ cond: { contains: text(prop, v) } }];
    if (NUMBER.has(t)) return [{ cond: { equals: number(prop, v) } }];
    if (t === 'checkbox') return [{ cond: { equals: bool(prop, v) } }];
    if (t === 'select' || t === 'status') return [{ cond: { equals: option(prop, v) } }];
    if (t === 'multi_select') return [{ cond: { contains: option(prop, v) } }];
    if (DATE.has(t)) return datePlain(prop, v).map((cond) => ({ cond }));
    if (PEOPLE.has(t)) return [{ cond: { contains: await this.people.id(prop, v) } }];
    if (t === 'relation') return [{ cond: { contains: pageId(prop, v) } }];
    if (t === 'files') return [this.existence(prop, bool(prop, v) ? 'is_not_empty' : 'is_empty')];
    if (t === 'verification') return [{ cond: { status: verification(prop, v) } }];
    if (t === 'formula' || t === 'rollup') {
      if (typeof v === 'number') return [{ cond: { equals: v }, as: 'number' }];
      if (t === 'formula' && typeof v === 'boolean') return [{ cond: { equals: v }, as: 'checkbox' }];
      if (t === 'formula' && typeof v === 'string') return [{ cond: { contains: v }, as: 'string' }];
    }
    throw bad(`${prop.name} (${t}) cannot be filtered by ${JSON.stringify(v)} here; use Notion's filter JSON.`);
  }

  private existence(prop: Property, op: 'is_empty' | 'is_not_empty'): Cond {
    if (prop.type === 'formula' || prop.type === 'rollup' || prop.type === 'checkbox' || prop.type === 'verification') {
      throw bad(`${prop.name} (${prop.type}) has no "${op}" condition.`);
    }
    return { cond: { [op]: true } };
  }

  /** `{op: value, …}`: each operator one condition, all ANDed. */
  private async operators(prop: Property, ops: Obj): Promise<Cond[]> {
    const out: Cond[] = [];
    const t = prop.type;
    const kind = DATE.has(t) ? 'date' : NUMBER.has(t) ? 'number' : 'other';
    for (const [rawOp, v] of Object.entries(ops)) {
      const alias = ALIASES[rawOp];
      let op = alias ? (kind === 'other' ? (alias.other ?? rawOp) : alias[kind]) : rawOp.toLowerCase();
      if (op === 'between') {
        if (!Array.isArray(v) || v.length !== 2) throw bad(`${prop.name}: between takes [from, to].`);
        const [lo, hi] = kind === 'date' ? ['on_or_after', 'on_or_before'] : ['greater_than_or_equal_to', 'less_than_or_equal_to'];
        out.push(...(await this.operators(prop, { [lo]: v[0] })), ...(await this.operators(prop, { [hi]: v[1] })));
        continue;
      }
      if (EXISTENCE.includes(op)) {
        out.push(this.existence(prop, (v === false ? (op === 'is_empty' ? 'is_not_empty' : 'is_empty') : op) as 'is_empty'));
        continue;
      }
      if (op === 'not') op = t === 'multi_select' || TEXT.has(t) || PEOPLE.has(t) || t === 'relation' ? 'does_not_contain' : 'does_not_equal';
      if (Array.isArray(v)) {
        // {"not":["A","B"]}: none of them, each condition ANDed; "any of" is a plain list.
        if (!op.startsWith('does_not')) throw bad(`${prop.name}: for any of several values give a plain list, e.g. {${JSON.stringify(prop.name)}:["A","B"]}.`);
        for (const x of v) out.push(await this.operator(prop, op, x));
        continue;
      }
      out.push(await this.operator(prop, op, v));
    }
    if (out.length === 0) throw bad(`${prop.name}: give an operator, e.g. {"not":…}.`);
    return out;
  }

  private async operator(prop: Property, op: string, v: unknown): Promise<Cond> {
    const t = prop.type;
    const refuse = (valid: string[]) =>
      bad(`${prop.name} (${t}) has no operator ${JSON.stringify(op)}. Use ${quoted([...valid, ...EXISTENCE])}, or a plain value.`);
    if (NUMBER.has(t)) {
      if (!NUMBER_OPS.includes(op)) throw refuse([...NUMBER_OPS, '>', '<', 'between']);
      return { cond: { [op]: number(prop, v) } };
    }
    if (DATE.has(t)) {
      if (DATE_RANGES.includes(op)) return { cond: { [op]: {} } };
      if (!DATE_OPS.includes(op)) throw refuse([...DATE_OPS, ...DATE_RANGES, 'between']);
      return { cond: { [op]: dateOperand(prop, v) } };
    }
    if (TEXT.has(t)) {
      if (!TEXT_OPS.includes(op)) throw refuse([...TEXT_OPS, 'not']);
      return { cond: { [op]: text(prop, v) } };
    }
    if (t === 'checkbox') {
      if (op !== 'equals' && op !== 'does_not_equal') throw refuse(['equals', 'does_not_equal']);
      return { cond: { [op]: bool(prop, v) } };
    }
    if (t === 'select' || t === 'status') {
      if (op !== 'equals' && op !== 'does_not_equal') throw refuse(['equals', 'not']);
      return { cond: { [op]: option(prop, v) } };
    }
    if (t === 'multi_select') {
      if (op !== 'contains' && op !== 'does_not_contain') throw refuse(['contains', 'not']);
      return { cond: { [op]: option(prop, v) } };
    }
    if (PEOPLE.has(t) || t === 'relation') {
      if (op !== 'contains' && op !== 'does_not_contain') throw refuse(['contains', 'not']);
      return { cond: { [op]: t === 'relation' ? pageId(prop, v) : await this.people.id(prop, v) } };
    }
    if (t === 'verification' && op === 'does_not_equal') return { cond: { does_not_equal: verification(prop, v) } };
    if (t === 'formula' || t === 'rollup') {
      if (NUMBER_OPS.includes(op) && typeof v === 'number') return { cond: { [op]: v }, as: 'number' };
      if (DATE_OPS.includes(op) || DATE_RANGES.includes(op)) return { cond: { [op]: DATE_RANGES.includes(op) ? {} : dateOperand(prop, v) }, as: 'date' };
      if (t === 'formula' && TEXT_OPS.includes(op)) return { cond: { [op]: text(prop, v) }, as: 'string' };
    }
    throw bad(`${prop.name} (${t}) cannot be filtered with ${JSON.stringify(op)} here; use Notion's filter JSON.`);
  }
}

const text = (prop: Property, v: unknown): string => {
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  throw bad(`${prop.name}: expected text, got ${JSON.stringify(v)}.`);
};
function number(prop: Property, v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    // unique_id: "TASK-42" → 42
    const m = /^(?:[A-Za-z]+-)?(-?\d+(?:\.\d+)?)$/.exec(v.trim());
    if (m) return Number(m[1]);
  }
  throw bad(`${prop.name}: expected a number, got ${JSON.stringify(v)}.`);
}
function bool(prop: Property, v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw bad(`${prop.name}: expected true or false, got ${JSON.stringify(v)}.`);
}
function pageId(prop: Property, v: unknown): string {
  const id = typeof v === 'string' ? extractNotionId(v) : null;
  if (!id) throw bad(`${prop.name}: expected a page ID or URL, got ${JSON.stringify(v)}.`);
  return id;
}
function verification(prop: Property, v: unknown): string {
  if (v === 'verified' || v === 'expired' || v === 'none') return v;
  throw bad(`${prop.name}: expected "verified", "expired" or "none".`);
}

/** `where` → Notion filter, reading people through GET /v1/users only when a name or email is given. */
export async function compileWhere(where: Obj, schema: Schema | undefined, notion: NotionSession): Promise<Obj> {
  return new WhereCompiler(schema, notion).filter(where);
}

// ---------------------------------------------------------------------------------------------
// order_by, properties
// ---------------------------------------------------------------------------------------------

const TIMESTAMPS = ['created_time', 'last_edited_time'];

/** `["Due", "-Priority", "Name desc"]` → Notion sorts; Notion's sort objects pass through. */
export function compileOrderBy(orderBy: (string | Obj)[], schema: Schema | undefined): Obj[] {
  return orderBy.map((item) => {
    if (isObj(item)) return item;
    let name = item.trim();
    let direction = 'ascending';
    if (name.startsWith('-') || name.startsWith('+')) {
      direction = name.startsWith('-') ? 'descending' : 'ascending';
      name = name.slice(1).trim();
    }
    const m = /^(.*\S)\s+(asc|desc|ascending|descending)$/i.exec(name);
    if (m && !schema?.has(name)) {
      name = m[1]!;
      direction = m[2]!.toLowerCase().startsWith('desc') ? 'descending' : 'ascending';
    }
    if (!schema?.has(name) && TIMESTAMPS.includes(name)) return { timestamp: name, direction };
    return { property: schema!.get(name).name, direction };
  });
}

/** Whether `order_by` names properties (so the schema is read). */
export const orderByNeedsSchema = (orderBy: (string | Obj)[] | undefined): boolean => !!orderBy?.some((o) => typeof o === 'string');

