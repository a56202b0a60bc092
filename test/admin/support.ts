import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import type { FakeNotion } from '../helpers/fake-notion.js';
import { type Stack, startStack } from '../helpers/stack.js';

/**
 * Starts the app again on a data directory a previous stack wrote, on the same BASE_URL and port:
 * tokens are bound to `<BASE_URL>/mcp`, and startStack would otherwise pick a new port.
 */
export async function startAgain(
  prev: { baseUrl: string },
  opts: { fake: FakeNotion; dataDir: string; env?: Record<string, string> },
): Promise<Stack> {
  // Let this process's HTTP clients see the old server's closed keep-alive sockets.
  await new Promise((r) => setTimeout(r, 50));
  const s = await startStack({
    fake: opts.fake,
    dataDir: opts.dataDir,
    env: { BASE_URL: prev.baseUrl, PORT: new URL(prev.baseUrl).port, ...opts.env },
  });
  return { ...s, baseUrl: prev.baseUrl, app: s.app };
}

/** The BUILT admin CLI (`npm run build` first). */
export const ADMIN = resolve(import.meta.dirname, '../../dist/admin.js');

export interface AdminResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the admin CLI in a child process with only PATH and `vars` in its environment, in `cwd`. */
export function runAdmin(args: string[], vars: Record<string, string>, cwd: string): Promise<AdminResult> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [ADMIN, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '', ...vars },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('error', rej);
    child.once('close', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
  });
}
