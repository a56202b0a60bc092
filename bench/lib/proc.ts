import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { childEnv } from '../../test/helpers/stack.js';

/** Clock ticks per second for /proc/<pid>/stat (Linux: 100 almost everywhere; `getconf CLK_TCK`). */
const CLK_TCK = 100;

/** utime + stime of a process in milliseconds, from /proc/<pid>/stat. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; fields after its closing parenthesis are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / CLK_TCK;
}

/**
 * The arguments after `node` that start the built server of the checkout at `root`, taken from its
 * `npm start` script (so the benches run it with the same V8 flags as operators do), with `extra`
 * node flags (e.g. --cpu-prof) before the script.
 */
export function serverArgs(root: string, extra: string[] = []): string[] {
  const start = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start.split(/\s+/);
  if (start[0] !== 'node') throw new Error(`npm start does not run node: ${start.join(' ')}`);
  return [...start.slice(1, -1), ...extra, join(root, start.at(-1)!)];
}

/** Resident set size in MiB, from /proc/<pid>/status. */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** Nearest-rank percentile of already measured latencies. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/**
 * The environment of a benchmarked server child: pointed at the fake Notion, logging at warn,
 * with the per-connection Notion budget and the HTTP rate limits lifted (else the bench would
 * measure the limits, not the server). PATH only from the parent, so no developer setting leaks in.
 */
export function serverEnv(fake: { url: string; clientId: string; clientSecret: string }, port: number, dataDir: string, secret: string): Record<string, string> {
  return {
    ...childEnv(fake, port, dataDir, 'warn'),
    SESSION_SECRET: secret,
    NOTION_RATE_LIMIT_PER_SECOND: '1000000',
    NOTION_RATE_LIMIT_BURST: '1000000',
    RATE_LIMIT_REGISTER_PER_HOUR: '1000000',
    RATE_LIMIT_AUTHORIZE_PER_MINUTE: '1000000',
    RATE_LIMIT_TOKEN_PER_MINUTE: '1000000',
    RATE_LIMIT_MCP_PER_MINUTE: '1000000',
  };
}

/**
 * bench/floor.ts transpiled once to plain JS in a temporary directory (the caller removes its
 * directory), so the floor's start time, memory and instructions carry no TypeScript loader.
 */
export function floorScript(root: string): string {
  const out = join(mkdtempSync(join(tmpdir(), 'nmr-floor-')), 'floor.mjs');
  const src = readFileSync(join(root, 'bench/floor.ts'), 'utf8');
  writeFileSync(out, ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText);
  return out;
}

/** A child with only PATH from the parent plus `env`; its stderr (first 4,000 characters) is printed if it fails. */
export function spawnChild(cmd: string, args: string[], env: Record<string, string>, cwd: string): ChildProcess {
  const child = spawn(cmd, args, { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (c: Buffer) => {
    if (err.length < 4000) err += c.toString();
  });
  child.on('exit', (code, signal) => {
    if (code && code !== 0) process.stderr.write(`${cmd} ${args.join(' ')} exited ${code} ${signal ?? ''}: ${err}\n`);
  });
  return child;
}

/** SIGTERM, then SIGKILL after 3 s; resolves once it exited. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}
