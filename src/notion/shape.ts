/**
 * Output shaping: what a model reads. Compact JSON without nulls and request ids; `object`, `id`,
 * `url`, `parent`, `has_more` and `next_cursor` always stay so pages, databases and data sources
 * can be told apart and followed.
 */
export function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shape);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === null || v === undefined || key === 'request_id') continue;
    out[key] = shape(v);
  }
  return out;
}
