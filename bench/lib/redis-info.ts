import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';

/**
 * What a bench reads of a redis-server without knowing the product's key names: INFO fields,
 * DBSIZE and the append-only files on disk (so it still works when the key layout changes).
 */

/** Every numeric field of INFO `section` (default: the default sections), by name. */
async function infoFields(r: Redis, section?: string): Promise<Record<string, number>> {
  const text = section ? await r.info(section) : await r.info();
  return Object.fromEntries([...text.matchAll(/^(\w+):([\d.]+)\r?$/gm)].map((m) => [m[1]!, Number(m[2])]));
}

export const usedMemory = async (r: Redis): Promise<number> => (await infoFields(r, 'memory')).used_memory!;

/** CPU seconds of the whole redis-server process, user + system. */
export async function redisCpuS(r: Redis): Promise<number> {
  const f = await infoFields(r, 'cpu');
  return f.used_cpu_sys! + f.used_cpu_user!;
}

/**
 * One INFO: CPU seconds of redis-server (all threads, and the main thread that runs every command)
 * and the commands it has processed; the INFO itself is counted in the next snapshot.
 */
export async function redisSnapshot(r: Redis): Promise<{ cpuS: number; mainCpuS: number; commands: number }> {
  const f = await infoFields(r);
  return {
    cpuS: f.used_cpu_sys! + f.used_cpu_user!,
    mainCpuS: f.used_cpu_sys_main_thread! + f.used_cpu_user_main_thread!,
    commands: f.total_commands_processed!,
  };
}

/** Total size of the append-only files (Redis 7: base, increments and manifest in appendonlydir). */
export function aofBytes(dir: string): number {
  const aof = join(dir, 'appendonlydir');
  return readdirSync(aof).reduce((n, f) => n + statSync(join(aof, f)).size, 0);
}

/** Waits until Redis has written everything it answered (it writes the AOF before its next loop turn). */
export async function settle(r: Redis): Promise<void> {
  await r.ping();
  await new Promise((resolve) => setTimeout(resolve, 1200)); // past one appendfsync everysec
}

/** Waits for a BGREWRITEAOF (or a scheduled one) to finish, up to a minute. */
export async function rewriteAof(r: Redis): Promise<void> {
  await r.bgrewriteaof();
  for (let i = 0; i < 600 && /aof_rewrite_in_progress:1|aof_rewrite_scheduled:1/.test(await r.info('persistence')); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await settle(r);
}

/** The file Redis appends to now: the incr file the manifest names last. */
function currentIncr(dir: string): string {
  const manifest = readFileSync(join(dir, 'appendonlydir', 'appendonly.aof.manifest'), 'utf8');
  const name = [...manifest.matchAll(/^file (\S+) seq \d+ type i/gm)].at(-1)?.[1];
  if (!name) throw new Error('no incr file in the AOF manifest');
  return join(dir, 'appendonlydir', name);
}

/** Where the append-only file ends now, to count what is written after it (`aofCommands`). */
export function aofMark(dir: string): { file: string; offset: number } {
  const file = currentIncr(dir);
  return { file, offset: statSync(file).size };
}

/**
 * The entries Redis appended since `mark`, by command name (upper case; keys are not looked at):
 * how many, and their bytes. Throws if the file was rewritten in between (turn automatic rewrites off).
 */
export function aofCommands(dir: string, mark: { file: string; offset: number }): Map<string, { count: number; bytes: number }> {
  if (currentIncr(dir) !== mark.file) throw new Error('the AOF was rewritten while counting its commands');
  const buf = Buffer.alloc(statSync(mark.file).size - mark.offset);
  const fd = openSync(mark.file, 'r');
  try {
    readSync(fd, buf, 0, buf.length, mark.offset);
  } finally {
    closeSync(fd);
  }
  // RESP arrays of bulk strings: *<n>\r\n then n times $<len>\r\n<bytes>\r\n.
  const out = new Map<string, { count: number; bytes: number }>();
  let at = 0;
  const line = () => {
    const end = buf.indexOf('\r\n', at);
    const text = buf.toString('latin1', at, end);
    at = end + 2;
    return text;
  };
  while (at < buf.length) {
    const start = at;
    const head = line();
    if (head[0] !== '*') throw new Error(`unexpected AOF line ${JSON.stringify(head.slice(0, 20))}`);
    let name = '';
    for (let i = 0, n = Number(head.slice(1)); i < n; i++) {
      const len = Number(line().slice(1));
      if (i === 0) name = buf.toString('latin1', at, at + len).toUpperCase();
      at += len + 2;
    }
    const e = out.get(name) ?? { count: 0, bytes: 0 };
    e.count++;
    e.bytes += at - start;
    out.set(name, e);
  }
  return out;
}
