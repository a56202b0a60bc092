import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SQLITE_FILE } from '../../src/store/sqlite.js';
import { freePort, TEST_SECRET } from '../helpers/stack.js';

/**
 * Start-up as an operator sees it: the BUILT server (dist/main.js, from `npm run build`) in a
 * child process with a clean environment and a temporary working directory.
 */

const MAIN = resolve(import.meta.dirname, '../../dist/main.js');
const OTHER_SECRET = '7c2e9a4f1b8d3e6a0c5f2b9e4d7a1c8f3e6b0d9a2c5f8e1b4d7a0c3f6e9b2d5a';
const WAIT_MS = 10_000;

interface Server {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or the signal name) once the process has ended. */
  exited: Promise<number | string>;
}

const children = new Set<ChildProcess>();
const tempDirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nmr-startup-'));
  tempDirs.push(dir);
  return dir;
}

function start(cwd: string, vars: Record<string, string>): Server {
  const child = spawn(process.execPath, [MAIN], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...vars },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | string>((res) => {
    child.once('close', (code, signal) => {
      children.delete(child);
      res(code ?? signal ?? 'unknown');
    });
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** The exit code, or a failure after WAIT_MS (the child is then killed in afterAll). */
async function exitOf(server: Server): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no exit within ${WAIT_MS} ms; stderr: ${server.stderr()} stdout: ${server.stdout()}`)),
      WAIT_MS,
    );
  });
  try {
    return await Promise.race([server.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls /health until it answers, the process exits, or WAIT_MS pass. */
async function healthy(server: Server, port: number): Promise<Response> {
  const deadline = Date.now() + WAIT_MS;
  let ended: number | string | undefined;
  void server.exited.then((c) => (ended = c));
  while (Date.now() < deadline) {
    if (ended !== undefined) throw new Error(`server exited with ${ended} before answering; stderr: ${server.stderr()}`);
    try {
      return await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1000) });
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`no answer on /health within ${WAIT_MS} ms; stderr: ${server.stderr()}`);
}

/** The single stderr line of a failed start-up. */
function oneLine(stderr: string): string {
  expect(stderr.endsWith('\n')).toBe(true);
  const lines = stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(stderr).not.toContain('    at ');
  return lines[0]!;
}

/** The variables of a valid configuration on `port` with `dataDir`. */
function validEnv(port: number, dataDir: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    NOTION_OAUTH_CLIENT_ID: 'notion-client-id',
    NOTION_OAUTH_CLIENT_SECRET: 'notion-client-secret',
    BASE_URL: `http://127.0.0.1:${port}`,
    SESSION_SECRET: TEST_SECRET,
    PORT: String(port),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    ...overrides,
  };
}

/** Starts a valid server, waits for /health, stops it with SIGTERM and checks it exited 0. */
async function runOnce(cwd: string, env: Record<string, string>, port: number): Promise<void> {
  const server = start(cwd, env);
  expect((await healthy(server, port)).status).toBe(200);
  server.child.kill('SIGTERM');
  expect(await exitOf(server)).toBe(0);
}

function fileState(path: string) {
  const st = statSync(path);
  return { bytes: readFileSync(path), mtimeMs: st.mtimeMs, size: st.size, ino: st.ino };
}

function expectUnchanged(path: string, before: ReturnType<typeof fileState>): void {
  const after = fileState(path);
  expect(Buffer.compare(after.bytes, before.bytes)).toBe(0);
  expect(after.size).toBe(before.size);
  expect(after.mtimeMs).toBe(before.mtimeMs);
  // Not replaced by a new file either.
  expect(after.ino).toBe(before.ino);
}

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` before these tests`);
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 50));
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe('start-up refuses a bad configuration with one readable line', () => {
  it('exits non-zero naming NOTION_OAUTH_CLIENT_ID when it is missing, without a stack trace', async () => {
    const cwd = tempDir();
    const port = await freePort();
    const env = validEnv(port, join(cwd, 'data'));
    delete env.NOTION_OAUTH_CLIENT_ID;
    const server = start(cwd, env);
    const code = await exitOf(server);
    expect(code).not.toBe(0);
    expect(typeof code).toBe('number');
    const line = oneLine(server.stderr());
    expect(line).toContain('NOTION_OAUTH_CLIENT_ID');
    // Nothing was created before the configuration was checked.
    expect(existsSync(join(cwd, 'data'))).toBe(false);
  });

  it('exits non-zero with one line naming REDIS_URL when Redis does not answer', async () => {
    const cwd = tempDir();
    const port = await freePort();
    const nobody = await freePort(); // a port where no Redis listens, whatever the machine runs
    const server = start(cwd, validEnv(port, join(cwd, 'data'), { REDIS_URL: `redis://127.0.0.1:${nobody}` }));
    const code = await exitOf(server);
    expect(code).not.toBe(0);
    expect(typeof code).toBe('number');
    expect(oneLine(server.stderr())).toContain('REDIS_URL');
  });

  it('lists several problems on the same single line', async () => {
    const cwd = tempDir();
    const server = start(cwd, { BASE_URL: 'http://example.com', LOG_LEVEL: 'loud' });
    expect(await exitOf(server)).not.toBe(0);
    const line = oneLine(server.stderr());
    for (const name of ['NOTION_OAUTH_CLIENT_ID', 'NOTION_OAUTH_CLIENT_SECRET', 'SESSION_SECRET', 'BASE_URL', 'LOG_LEVEL']) {
      expect(line).toContain(name);
    }
  });
});

describe('a running server', () => {
  let cwd: string;
  let port: number;
  let server: Server;

  beforeAll(async () => {
    cwd = tempDir();
    port = await freePort();
    server = start(cwd, validEnv(port, join(cwd, 'data')));
    await healthy(server, port);
  });

  it('answers GET /health with 200 {"status":"ok"} as JSON', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/health`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('keeps its data in DATA_DIR', () => {
    expect(existsSync(join(cwd, 'data', SQLITE_FILE))).toBe(true);
  });

  it('drains and exits 0 on SIGTERM, and stops listening', async () => {
    // An open keep-alive connection must not hold the shutdown up.
    const res = await fetch(`http://127.0.0.1:${port}/health`);
    expect(res.status).toBe(200);
    await res.text();
    server.child.kill('SIGTERM');
    expect(await exitOf(server)).toBe(0);
    await expect(fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
  });
});

describe('.env in the working directory', () => {
  it('is loaded: the server listens on the PORT it names and answers /health', async () => {
    const cwd = tempDir();
    const port = await freePort();
    const env = validEnv(port, join(cwd, 'store'));
    writeFileSync(
      join(cwd, '.env'),
      `# written by the start-up test\n${Object.entries(env)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n')}\n`,
    );
    const server = start(cwd, {});
    const res = await healthy(server, port);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
    // DATA_DIR came from .env too.
    expect(existsSync(join(cwd, 'store', SQLITE_FILE))).toBe(true);
    server.child.kill('SIGTERM');
    expect(await exitOf(server)).toBe(0);
  });

  it('does not override variables already set in the environment', async () => {
    const cwd = tempDir();
    const port = await freePort();
    writeFileSync(join(cwd, '.env'), `PORT=1\nNOTION_OAUTH_CLIENT_ID=from-dotenv\n`);
    const env = validEnv(port, join(cwd, 'data'));
    const server = start(cwd, env);
    expect((await healthy(server, port)).status).toBe(200);
    server.child.kill('SIGTERM');
    expect(await exitOf(server)).toBe(0);
  });
});

describe('the store is never "started fresh"', () => {
  it('refuses a different SESSION_SECRET on the same DATA_DIR and leaves the file untouched', async () => {
    const cwd = tempDir();
    const dataDir = join(cwd, 'data');
    const port = await freePort();
    await runOnce(cwd, validEnv(port, dataDir), port);
    // Control: the same secret opens the same store again.
    await runOnce(cwd, validEnv(port, dataDir), port);

    const dbFile = join(dataDir, SQLITE_FILE);
    const before = fileState(dbFile);
    await new Promise((r) => setTimeout(r, 20));
    const server = start(cwd, validEnv(port, dataDir, { SESSION_SECRET: OTHER_SECRET }));
    const code = await exitOf(server);
    expect(code).not.toBe(0);
    expect(typeof code).toBe('number');
    const line = oneLine(server.stderr());
    expect(line).toContain('SESSION_SECRET');
    expectUnchanged(dbFile, before);

    // And the original secret still opens it afterwards.
    await runOnce(cwd, validEnv(port, dataDir), port);
  });

  it('refuses a different SESSION_SECRET after a crash without checkpointing the pending WAL into the file', async () => {
    const cwd = tempDir();
    const dataDir = join(cwd, 'data');
    const port = await freePort();
    const dbFile = join(dataDir, SQLITE_FILE);
    const server0 = start(cwd, validEnv(port, dataDir));
    expect((await healthy(server0, port)).status).toBe(200);
    // A crash: no clean close, so the first writes are still only in the -wal file.
    server0.child.kill('SIGKILL');
    expect(await exitOf(server0)).toBe('SIGKILL');
    expect(statSync(`${dbFile}-wal`).size).toBeGreaterThan(0);
    const before = fileState(dbFile);
    const walBefore = fileState(`${dbFile}-wal`);
    await new Promise((r) => setTimeout(r, 20));

    const server = start(cwd, validEnv(port, dataDir, { SESSION_SECRET: OTHER_SECRET }));
    expect(await exitOf(server)).not.toBe(0);
    expect(oneLine(server.stderr())).toContain('SESSION_SECRET');
    expectUnchanged(dbFile, before);
    expectUnchanged(`${dbFile}-wal`, walBefore);

    // The right secret still recovers everything.
    await runOnce(cwd, validEnv(port, dataDir), port);
  });

  it('refuses a different SESSION_SECRET on a store in rollback-journal mode without converting it', async () => {
    const cwd = tempDir();
    const dataDir = join(cwd, 'data');
    const port = await freePort();
    const dbFile = join(dataDir, SQLITE_FILE);
    await runOnce(cwd, validEnv(port, dataDir), port);
    // As a copy made by other SQLite tools may be: journal_mode=DELETE.
    const db = new Database(dbFile);
    db.pragma('journal_mode = DELETE');
    db.close();
    const before = fileState(dbFile);
    expect([before.bytes[18], before.bytes[19]]).toEqual([1, 1]);
    await new Promise((r) => setTimeout(r, 20));

    const server = start(cwd, validEnv(port, dataDir, { SESSION_SECRET: OTHER_SECRET }));
    expect(await exitOf(server)).not.toBe(0);
    expect(oneLine(server.stderr())).toContain('SESSION_SECRET');
    expectUnchanged(dbFile, before);
  });

  it('refuses a corrupt store with one clear line and does not replace or modify the file', async () => {
    const cwd = tempDir();
    const dataDir = join(cwd, 'data');
    const port = await freePort();
    const dbFile = join(dataDir, SQLITE_FILE);
    // Garbage where the database should be.
    const server0 = start(cwd, validEnv(port, dataDir));
    await healthy(server0, port);
    server0.child.kill('SIGTERM');
    expect(await exitOf(server0)).toBe(0);
    writeFileSync(dbFile, Buffer.from('definitely not an SQLite database\n'.repeat(300)));
    const before = fileState(dbFile);
    await new Promise((r) => setTimeout(r, 20));

    const server = start(cwd, validEnv(port, dataDir));
    const code = await exitOf(server);
    expect(code).not.toBe(0);
    expect(typeof code).toBe('number');
    const line = oneLine(server.stderr());
    expect(line).toContain(dbFile);
    expect(line).toMatch(/not a database|corrupt/i);
    expectUnchanged(dbFile, before);
  });

  it('refuses a store whose pages are damaged and leaves the file untouched', async () => {
    const cwd = tempDir();
    const dataDir = join(cwd, 'data');
    const port = await freePort();
    const dbFile = join(dataDir, SQLITE_FILE);
    await runOnce(cwd, validEnv(port, dataDir), port);
    // Keep the valid 100-byte header; overwrite everything after it.
    const bytes = readFileSync(dbFile);
    expect(bytes.subarray(0, 16).toString('latin1')).toBe('SQLite format 3\0');
    bytes.fill(0xa5, 100);
    writeFileSync(dbFile, bytes);
    const before = fileState(dbFile);
    await new Promise((r) => setTimeout(r, 20));

    const server = start(cwd, validEnv(port, dataDir));
    const code = await exitOf(server);
    expect(code).not.toBe(0);
    expect(typeof code).toBe('number');
    expect(oneLine(server.stderr())).toContain(dbFile);
    expectUnchanged(dbFile, before);
  });

  it('gives a clear error when DATA_DIR cannot be created', async () => {
    const cwd = tempDir();
    const port = await freePort();
    const blocker = join(cwd, 'not-a-dir');
    writeFileSync(blocker, 'a regular file');
    const server = start(cwd, validEnv(port, join(blocker, 'data')));
    const code = await exitOf(server);
    expect(code).not.toBe(0);
    expect(typeof code).toBe('number');
    const line = oneLine(server.stderr());
    expect(line).toContain('DATA_DIR');
    expect(line).toContain(blocker);
    expect(readFileSync(blocker, 'utf8')).toBe('a regular file');
  });
});
