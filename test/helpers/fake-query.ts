/**
 * The fake Notion's data source query (POST /v1/data_sources/{id}/query, Notion-Version
 * 2026-03-11), on the rows of a data source a test registered: page_size 1–100 (default 100),
 * start_cursor / next_cursor / has_more, the `filter_properties` query parameter, sorts, and the
 * filter language: and/or, timestamp conditions, and the property conditions of each type
 * (text, number, checkbox, select, status, multi_select, date with Notion's relative values and
 * ranges, people, relation, files, unique_id, formula). Anything it does not know is a 400
 * validation_error, as Notion answers, so a test sees exactly what the product sent.
 */

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A data source the fake answers for: its GET body (with `properties`) and its rows (page objects). */
export interface FakeDataSource {
  schema: Obj;
  rows: Obj[];
}

export class QueryError extends Error {}
const fail = (message: string): never => {
  throw new QueryError(message);
};

const MAX_PAGE_SIZE = 100;
const DAY_MS = 86_400_000;

interface SchemaProp {
  name: string;
  id: string;
  type: string;
  options: string[];
}

function schemaProps(ds: FakeDataSource): SchemaProp[] {
  const props = isObj(ds.schema.properties) ? ds.schema.properties : {};
  return Object.entries(props).map(([name, p]) => {
    const o = p as Obj;
    const config = o[String(o.type)] as Obj | undefined;
    const options = Array.isArray(config?.options) ? (config.options as Obj[]).map((x) => String(x.name)) : [];
    return { name, id: String(o.id), type: String(o.type), options };
  });
}

/** Notion's filter `property` is a name or an ID (as the schema gives it, or decoded). */
function findProp(props: SchemaProp[], key: unknown): SchemaProp {
  if (typeof key !== 'string') return fail('body failed validation: body.filter.property should be a string.');
  return props.find((p) => p.name === key || p.id === key || safeDecode(p.id) === key) ?? fail(`Could not find property with name or id: ${key}`);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

const plain = (rich: unknown): string => (Array.isArray(rich) ? rich.map((r) => String((r as Obj).plain_text ?? '')).join('') : '');

/** A row's value of a property, as the condition of its type compares it. */
function valueOf(row: Obj, prop: SchemaProp): unknown {
  const pv = (row.properties as Obj)[prop.name] as Obj | undefined;
  if (!pv) return null;
  return typed(prop.type, pv[prop.type]);
}

function typed(type: string, v: unknown): unknown {
  switch (type) {
    case 'title':
    case 'rich_text':
      return plain(v);
    case 'select':
    case 'status':
      return isObj(v) ? v.name : null;
    case 'multi_select':
      return Array.isArray(v) ? v.map((o) => (o as Obj).name) : [];
    case 'people':
    case 'relation':
    case 'files':
      return Array.isArray(v) ? v.map((o) => ((o as Obj).id ?? (o as Obj).name) as string) : [];
    case 'created_by':
    case 'last_edited_by':
      return isObj(v) ? [v.id] : [];
    case 'date':
      return isObj(v) ? v.start : null;
    case 'unique_id':
      return isObj(v) ? v.number : null;
    case 'formula':
      return isObj(v) ? { type: v.type, value: v.type === 'date' ? ((v.date as Obj | null)?.start ?? null) : v[String(v.type)] } : null;
    default:
      return v ?? null;
  }
}

// ---------------------------------------------------------------------------------------------
// Conditions
// ---------------------------------------------------------------------------------------------

const today = () => new Date(new Date().toISOString().slice(0, 10)).getTime();
const RELATIVE: Record<string, number> = { today: 0, tomorrow: 1, yesterday: -1, one_week_ago: -7, one_week_from_now: 7, one_month_ago: -30, one_month_from_now: 30 };
const RANGES: Record<string, [number, number]> = {
  past_week: [-7, 0],
  past_month: [-30, 0],
  past_year: [-365, 0],
  next_week: [0, 7],
  next_month: [0, 30],
  next_year: [0, 365],
};

/** A date operand in ms: an ISO date or time, or a relative value. */
function dateMs(v: unknown): number {
  if (typeof v === 'string' && v in RELATIVE) return today() + RELATIVE[v]! * DAY_MS;
  const ms = typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isNaN(ms) ? fail(`body failed validation: date should be an ISO 8601 date or a relative date, instead was ${JSON.stringify(v)}.`) : ms;
}
/** A row date compared by day when the operand is a day. */
const dayOf = (ms: number) => Math.floor(ms / DAY_MS) * DAY_MS;

function dateCondition(value: unknown, op: string, operand: unknown): boolean {
  if (op === 'is_empty') return value === null;
  if (op === 'is_not_empty') return value !== null;
  if (value === null || typeof value !== 'string') return false;
  const row = Date.parse(value);
  if (op === 'this_week') {
    const t = today();
    const start = t - new Date(t).getUTCDay() * DAY_MS;
    return row >= start && row < start + 7 * DAY_MS;
  }
  const range = RANGES[op];
  if (range) return dayOf(row) >= today() + range[0] * DAY_MS && dayOf(row) <= today() + range[1] * DAY_MS;
  const byDay = typeof operand === 'string' && (operand in RELATIVE || /^\d{4}-\d{2}-\d{2}$/.test(operand));
  const a = byDay ? dayOf(row) : row;
  const b = dateMs(operand);
  switch (op) {
    case 'equals':
      return a === b;
    case 'before':
      return a < b;
    case 'after':
      return a > b;
    case 'on_or_before':
      return a <= b;
    case 'on_or_after':
      return a >= b;
    default:
      return fail(`Unknown date condition: ${op}`);
  }
}

function textCondition(value: unknown, op: string, operand: unknown): boolean {
  const s = String(value ?? '').toLowerCase();
  const o = String(operand ?? '').toLowerCase();
  switch (op) {
    case 'equals':
      return s === o;
    case 'does_not_equal':
      return s !== o;
    case 'contains':
      return s.includes(o);
    case 'does_not_contain':
      return !s.includes(o);
    case 'starts_with':
      return s.startsWith(o);
    case 'ends_with':
      return s.endsWith(o);
    case 'is_empty':
      return s === '';
    case 'is_not_empty':
      return s !== '';
    default:
      return fail(`Unknown text condition: ${op}`);
  }
}

function numberCondition(value: unknown, op: string, operand: unknown): boolean {
  if (op === 'is_empty') return value === null;
  if (op === 'is_not_empty') return value !== null;
  if (typeof operand !== 'number') return fail(`body failed validation: number condition should be a number, instead was ${JSON.stringify(operand)}.`);
  if (typeof value !== 'number') return false;
  const ops: Record<string, boolean> = {
    equals: value === operand,
    does_not_equal: value !== operand,
    greater_than: value > operand,
    less_than: value < operand,
    greater_than_or_equal_to: value >= operand,
    less_than_or_equal_to: value <= operand,
  };
  return op in ops ? ops[op]! : fail(`Unknown number condition: ${op}`);
}

function listCondition(value: unknown, op: string, operand: unknown): boolean {
  const list = Array.isArray(value) ? value : [];
  switch (op) {
    case 'contains':
      return list.includes(operand);
    case 'does_not_contain':
      return !list.includes(operand);
    case 'is_empty':
      return list.length === 0;
    case 'is_not_empty':
      return list.length > 0;
    default:
      return fail(`Unknown condition: ${op}`);
  }
}

function optionCondition(prop: SchemaProp, value: unknown, op: string, operand: unknown): boolean {
  if (op === 'is_empty') return value === null;
  if (op === 'is_not_empty') return value !== null;
  const names = Array.isArray(operand) ? operand : [operand];
  for (const n of names) if (!prop.options.includes(String(n))) fail(`Invalid ${prop.type} option: ${JSON.stringify(n)}`);
  if (op === 'equals') return names.includes(value);
  if (op === 'does_not_equal') return !names.includes(value);
  return fail(`Unknown ${prop.type} condition: ${op}`);
}

/** `{<op>: operand}` of one type, on one value. */
function condition(type: string, prop: SchemaProp, value: unknown, cond: unknown): boolean {
  if (!isObj(cond) || Object.keys(cond).length !== 1) return fail(`body failed validation: body.filter.${type} should have exactly one condition.`);
  const [op, operand] = Object.entries(cond)[0]!;
  switch (type) {
    case 'title':
    case 'rich_text':
    case 'url':
    case 'email':
    case 'phone_number':
      return textCondition(value, op, operand);
    case 'number':
    case 'unique_id':
      return numberCondition(value, op, operand);
    case 'checkbox':
      if (typeof operand !== 'boolean') return fail('body failed validation: checkbox condition should be a boolean.');
      return op === 'equals' ? value === operand : op === 'does_not_equal' ? value !== operand : fail(`Unknown checkbox condition: ${op}`);
    case 'select':
    case 'status':
      return optionCondition(prop, value, op, operand);
    case 'multi_select':
      if (op === 'contains' || op === 'does_not_contain') optionCondition(prop, null, 'equals', operand);
      return listCondition(value, op, operand);
    case 'date':
    case 'created_time':
    case 'last_edited_time':
      return dateCondition(value, op, operand);
    case 'people':
    case 'created_by':
    case 'last_edited_by':
    case 'relation':
    case 'files':
      if ((op === 'contains' || op === 'does_not_contain') && !(typeof operand === 'string' && /^[0-9a-f-]{36}$|^me$/.test(operand))) {
        return fail(`body failed validation: ${type}.${op} should be a valid uuid, instead was ${JSON.stringify(operand)}.`);
      }
      return listCondition(value, op, operand);
    case 'formula': {
      const f = value as { type: string; value: unknown } | null;
      const sub = op === 'string' ? 'rich_text' : op;
      if (!['string', 'checkbox', 'number', 'date'].includes(op)) return fail(`Unknown formula condition: ${op}`);
      return f !== null && (op === 'string' ? f.type === 'string' : f.type === op) && condition(sub, prop, f.value, operand);
    }
    default:
      return fail(`The fake does not filter ${type} properties.`);
  }
}

/** How deep `and` / `or` nest (Notion takes two levels). */
function nesting(filter: unknown): number {
  if (!isObj(filter)) return 0;
  const inner = Array.isArray(filter.and) ? filter.and : Array.isArray(filter.or) ? filter.or : undefined;
  return inner ? 1 + Math.max(0, ...inner.map(nesting)) : 0;
}

function matches(row: Obj, filter: unknown, props: SchemaProp[]): boolean {
  if (!isObj(filter)) return fail('body failed validation: body.filter should be an object.');
  if (Array.isArray(filter.and)) return filter.and.every((f) => matches(row, f, props));
  if (Array.isArray(filter.or)) return filter.or.some((f) => matches(row, f, props));
  if (typeof filter.timestamp === 'string') {
    const ts = filter.timestamp;
    return dateCondition(String(row[ts]), Object.keys(filter[ts] as Obj)[0]!, Object.values(filter[ts] as Obj)[0]);
  }
  const prop = findProp(props, filter.property);
  const types = Object.keys(filter).filter((k) => k !== 'property' && k !== 'type');
  if (types.length !== 1) return fail('body failed validation: a property filter has exactly one type key.');
  if (types[0] !== prop.type) return fail(`Property type mismatch: ${prop.name} is ${prop.type}, the filter says ${types[0]}.`);
  return condition(prop.type, prop, valueOf(row, prop), filter[prop.type]);
}

// ---------------------------------------------------------------------------------------------
// Sorts
// ---------------------------------------------------------------------------------------------

function sortKey(row: Obj, sort: Obj, props: SchemaProp[]): unknown {
  if (typeof sort.timestamp === 'string') return row[sort.timestamp];
  const prop = findProp(props, sort.property);
  const v = valueOf(row, prop);
  if (prop.type === 'select' || prop.type === 'status') return v === null ? null : prop.options.indexOf(String(v));
  if (Array.isArray(v)) return v.length ? v.join(',') : null;
  if (v === '') return null;
  return v;
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  // Empty values sort last either way, as in Notion.
  if (a === null || a === undefined) return 1;
  if (b === null || b === undefined) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean') return a ? 1 : -1;
  return String(a).localeCompare(String(b));
}

// ---------------------------------------------------------------------------------------------
// The endpoint
// ---------------------------------------------------------------------------------------------

/** A query on a registered data source: Notion's list body, or throws QueryError (a 400). */
export function runFakeQuery(ds: FakeDataSource, body: unknown, query: Record<string, string>): Obj {
  const b = isObj(body) ? body : {};
  const pageSize = b.page_size ?? MAX_PAGE_SIZE;
  if (typeof pageSize !== 'number' || !Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
    fail(`body failed validation: body.page_size should be an integer between 1 and ${MAX_PAGE_SIZE}, instead was \`${JSON.stringify(pageSize)}\`.`);
  }
  const props = schemaProps(ds);
  const inTrash = b.in_trash === true;
  let rows = ds.rows.filter((r) => (r.in_trash === true) === inTrash);
  if (b.filter !== undefined) {
    if (nesting(b.filter) > 2) fail('body failed validation: body.filter compound filters can be nested at most two levels deep.');
    rows = rows.filter((r) => matches(r, b.filter, props));
  }
  if (b.sorts !== undefined) {
    if (!Array.isArray(b.sorts)) fail('body failed validation: body.sorts should be an array.');
    const sorts = b.sorts as Obj[];
    for (const s of sorts) if (s.direction !== 'ascending' && s.direction !== 'descending') fail('body failed validation: sort direction should be "ascending" or "descending".');
    rows = rows
      .map((r, i) => ({ r, i }))
      .sort((x, y) => {
        for (const s of sorts) {
          const kx = sortKey(x.r, s, props);
          const ky = sortKey(y.r, s, props);
          const empty = kx === null || ky === null;
          const c = compare(kx, ky) * (s.direction === 'descending' && !empty ? -1 : 1);
          if (c !== 0) return c;
        }
        return x.i - y.i;
      })
      .map((x) => x.r);
  }
  let start = 0;
  if (b.start_cursor !== undefined) {
    start = rows.findIndex((r) => r.id === b.start_cursor);
    if (start < 0) fail(`body failed validation: body.start_cursor should be a valid cursor, instead was \`${JSON.stringify(b.start_cursor)}\`.`);
  }
  const wanted = query.filter_properties ? query.filter_properties.split(',') : undefined;
  if (wanted) for (const id of wanted) if (!props.some((p) => safeDecode(p.id) === id)) fail(`Could not find property with id: ${id}`);
  const page = rows.slice(start, start + (pageSize as number)).map((r) => {
    if (!wanted) return r;
    const kept = Object.entries(r.properties as Obj).filter(([, v]) => wanted.includes(safeDecode(String((v as Obj).id))));
    return { ...r, properties: Object.fromEntries(kept) };
  });
  const next = rows[start + (pageSize as number)];
  return { object: 'list', results: page, next_cursor: next ? next.id : null, has_more: next !== undefined, type: 'page_or_data_source', page_or_data_source: {} };
}
