import { Agent, request } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HEADERS_TIMEOUT_MS, KEEP_ALIVE_TIMEOUT_MS, REQUEST_TIMEOUT_MS, createApp } from '../../src/app.js';
import { createLogger } from '../../src/log.js';
import { type Stack, startStack } from '../helpers/stack.js';

function get(agent: Agent, url: string): Promise<{ status: number; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, socket: req.socket as Socket }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('keep-alive: the server keeps idle sockets open longer than the proxies in front', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack.close());

  it('sets keepAliveTimeout above 60 s, headersTimeout above it, and a requestTimeout', async () => {
    // The stack's server is not exposed: a second app on a free port and its own data directory.
    const dataDir = mkdtempSync(join(tmpdir(), 'nmr-keepalive-'));
    const app = createApp({ ...stack.app.config, port: 0, dataDir }, { log: createLogger('silent') });
    try {
      const server = await app.listen();
      expect(server.keepAliveTimeout).toBe(KEEP_ALIVE_TIMEOUT_MS);
      expect(server.headersTimeout).toBe(HEADERS_TIMEOUT_MS);
      expect(server.requestTimeout).toBe(REQUEST_TIMEOUT_MS);
    } finally {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
    expect(KEEP_ALIVE_TIMEOUT_MS).toBeGreaterThan(60_000);
    expect(HEADERS_TIMEOUT_MS).toBeGreaterThan(KEEP_ALIVE_TIMEOUT_MS);
    expect(REQUEST_TIMEOUT_MS).toBeGreaterThan(stack.app.config.notion.timeoutMs);
  });

  it('an idle keep-alive socket is still open after 6 s and carries a second request', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await get(agent, `${stack.baseUrl}/health`);
      expect(first.status).toBe(200);
      let closed = false;
      first.socket.once('close', () => (closed = true));
      await new Promise((r) => setTimeout(r, 6_000));
      expect(closed).toBe(false);
      const second = await get(agent, `${stack.baseUrl}/health`);
      expect(second.status).toBe(200);
      expect(second.socket).toBe(first.socket);
    } finally {
      agent.destroy();
    }
  }, 10_000);
});
