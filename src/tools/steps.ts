import type { ToolContext } from './registry.js';

/**
 * Runs `step` on each item in order for a long operation: reports progress after each (items
 * done, of all) and stops before the next once the call is cancelled (`ctx.signal`), or when a
 * step returns false. Returns how many items ran: the rest did not, and the result should say so.
 */
export async function eachStep<T>(items: readonly T[], ctx: ToolContext, step: (item: T, index: number) => Promise<boolean | void>): Promise<number> {
  for (const [index, item] of items.entries()) {
    if (ctx.signal?.aborted) return index;
    const more = await step(item, index);
    ctx.progress?.(index + 1, items.length);
    if (more === false) return index + 1;
  }
  return items.length;
}
