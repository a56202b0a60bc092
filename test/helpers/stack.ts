import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { type App, createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import type { CimdFetcher } from '../../src/oauth/cimd.js';
import { type FakeNotion, startFakeNotion } from './fake-notion.js';

export const TEST_SECRET = 'a3f1c9e07b2d4e6f8a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d1e3f';

/** A free loopback port (BASE_URL must name the port before the server starts). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** The environment of a server child process (the built dist/main.js) pointed at the fake Notion; PATH only from the parent. */
export function childEnv(fake: Pick<FakeNotion, 'url' | 'clientId' | 'clientSecret'>, port: number, dataDir: string, logLevel = 'info'): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    NOTION_OAUTH_CLIENT_ID: fake.clientId,
    NOTION_OAUTH_CLIENT_SECRET: fake.clientSecret,
    BASE_URL: `http://127.0.0.1:${port}`,
    SESSION_SECRET: TEST_SECRET,
    PORT: String(port),
    DATA_DIR: dataDir,
    LOG_LEVEL: logLevel,
    NOTION_API_BASE_URL: fake.url,
    NOTION_OAUTH_AUTHORIZE_URL: `${fake.url}/v1/oauth/authorize`,
  };
}

export interface Stack {
  app: App;
  baseUrl: string;
  fake: FakeNotion;
  dataDir: string;
  /** Every log line the server wrote, for "no secret in logs" checks. */
  logs: string[];
  /** Stops the server and starts a new one on the same port and data directory. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export interface StackOptions {
  env?: Record<string, string>;
  cimdFetch?: CimdFetcher;
  now?: () => number;
  fake?: FakeNotion;
  dataDir?: string;
  /** The port to listen on (default: a free one), e.g. to name it in ADDITIONAL_ALLOWED_HOSTS. */
  port?: number;
}

/**
 * The real app on a loopback port with a real SQLite file in a temporary DATA_DIR,
 * pointed at a fake Notion for every upstream URL.
 */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const fake = opts.fake ?? (await startFakeNotion());
  const ownsDataDir = !opts.dataDir;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'nmr-test-'));
  const port = opts.port ?? (await freePort());
  const baseUrl = `http://127.0.0.1:${port}`;
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const config = loadConfig({
    NOTION_OAUTH_CLIENT_ID: fake.clientId,
    NOTION_OAUTH_CLIENT_SECRET: fake.clientSecret,
    BASE_URL: baseUrl,
    SESSION_SECRET: TEST_SECRET,
    PORT: String(port),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'debug',
    NOTION_API_BASE_URL: fake.url,
    NOTION_OAUTH_AUTHORIZE_URL: `${fake.url}/v1/oauth/authorize`,
    ...opts.env,
  });
  const build = () =>
    createApp(config, { log: createLogger('debug', sink), now: opts.now, cimdFetch: opts.cimdFetch });
  let app = build();
  await app.listen();
  const stack: Stack = {
    get app() {
      return app;
    },
    baseUrl,
    fake,
    dataDir,
    logs,
    async restart() {
      await app.close();
      // Let this process's HTTP clients see the old server's closed keep-alive sockets.
      await new Promise((r) => setTimeout(r, 50));
      app = build();
      await app.listen();
    },
    async close() {
      await app.close();
      if (!opts.fake) await fake.close();
      if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return stack;
}
