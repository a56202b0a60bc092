import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../../src/lib/crypto.js';
import { fakeWorkspace } from '../helpers/fake-notion.js';
import { authorizeHeadless, mcpPost, register, type RegisteredClient, type TokenSet, tokenRequest } from '../helpers/oauth-client.js';
import { type RedisServer, startRedis } from '../helpers/redis.js';
import { freePort, type Stack, startStack } from '../helpers/stack.js';

/**
 * Faults between the server and Redis: a reply that never arrives (the connection drops after
 * Redis ran the command, so ioredis re-sends it or the request answers 503) and a redis-server
 * SIGKILLed with requests in flight, restarted from its append-only file. A careful client
 * retries a 503; it must never lose its connection.
 */

/** A TCP proxy to Redis that can drop the connection right after forwarding a matching command. */
class ReplyDropper {
  private server!: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;
  private armed: ((chunk: string) => boolean) | null = null;
  /** While set, replies from Redis are held back instead of forwarded; `holdFrom` sets it. */
  private holding = false;
  private holdFrom: ((chunk: string) => boolean) | null = null;
  dropped = 0;

  constructor(private readonly target: number) {}

  async start(): Promise<void> {
    this.port = await freePort();
    this.server = createServer((client) => {
      const upstream = tcpConnect(this.target, '127.0.0.1');
      this.sockets.add(client).add(upstream);
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('data', (d) => {
        upstream.write(d);
        if (this.holdFrom?.(d.toString('latin1'))) this.holding = true;
        if (this.armed?.(d.toString('latin1'))) {
          this.armed = null;
          this.dropped++;
          // Redis runs the command; its reply is lost with the connection.
          upstream.pause();
          setTimeout(close, 100);
        }
      });
      upstream.on('data', (d) => {
        if (!this.holding) client.write(d);
      });
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    });
    await new Promise<void>((r) => this.server.listen(this.port, '127.0.0.1', r));
  }

  /** The next command whose bytes satisfy `match` has its reply dropped. */
  dropReplyTo(match: (chunk: string) => boolean): void {
    this.armed = match;
  }

  /** From the first command matching `match` on, Redis runs every command it gets, but no reply reaches the server. */
  holdRepliesFrom(match: (chunk: string) => boolean): void {
    this.holdFrom = match;
  }

  /** Drops every connection with the replies held back, and forwards normally again. */
  dropHeld(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.holding = false;
    this.holdFrom = null;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

/** The store's write scripts carry the tokens they store as `"s":"tok:<hash>"`. */
const storingTokensFor = (hash: string) => (chunk: string) => chunk.includes(hash) && chunk.includes('"s":"tok:');

/** A careful client: retries 503 (with a pause) and returns the first other answer. */
async function carefully(request: () => Promise<Response>): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    const res = await request();
    if (res.status !== 503 || attempt === 20) return res;
    await res.arrayBuffer();
    await new Promise((r) => setTimeout(r, 250));
  }
}

const pingStatus = async (stack: Stack, token: string) => {
  const res = await mcpPost(stack.baseUrl, token, { jsonrpc: '2.0', id: 1, method: 'ping' });
  await res.arrayBuffer();
  return res.status;
};

let redis: RedisServer;
let proxy: ReplyDropper;
let stack: Stack;
beforeAll(async () => {
  redis = await startRedis();
  proxy = new ReplyDropper(redis.port);
  await proxy.start();
  stack = await startStack({ env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}` } });
});
afterAll(async () => {
  await stack?.close();
  await proxy?.stop();
  await redis?.dispose();
});

async function codeFor(client: RegisteredClient) {
  const auth = await authorizeHeadless(stack, client, { workspace: fakeWorkspace('A') });
  return { code: auth.redirect.searchParams.get('code')!, verifier: auth.verifier };
}
const exchange = (client: RegisteredClient, code: string, verifier: string) =>
  tokenRequest(stack.baseUrl, client, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: client.redirect_uris[0]! });
const refresh = (client: RegisteredClient, token: string) => tokenRequest(stack.baseUrl, client, { grant_type: 'refresh_token', refresh_token: token });

describe('a lost Redis reply', () => {
  it('to the code redemption: the exchange still succeeds (re-sent or retried) and the connection works', async () => {
    const client = await register(stack.baseUrl);
    const { code, verifier } = await codeFor(client);
    proxy.dropReplyTo(storingTokensFor(sha256(code)));
    const res = await carefully(() => exchange(client, code, verifier));
    expect(proxy.dropped).toBe(1);
    expect(res.status, await res.clone().text()).toBe(200);
    const tokens = (await res.json()) as TokenSet;
    expect(await pingStatus(stack, tokens.access_token)).toBe(200);
    expect((await carefully(() => refresh(client, tokens.refresh_token))).status).toBe(200);
  });

  it('to a refresh rotation: the refresh still succeeds, never 500, and the refresh token it returns works', async () => {
    const client = await register(stack.baseUrl);
    const { code, verifier } = await codeFor(client);
    const t0 = (await (await carefully(() => exchange(client, code, verifier))).json()) as TokenSet;
    const before = proxy.dropped;
    proxy.dropReplyTo(storingTokensFor(sha256(t0.refresh_token)));
    const res = await carefully(() => refresh(client, t0.refresh_token));
    expect(proxy.dropped).toBe(before + 1);
    expect(res.status, await res.clone().text()).toBe(200);
    const t1 = (await res.json()) as TokenSet;
    expect(await pingStatus(stack, t1.access_token)).toBe(200);
    const t2 = await carefully(() => refresh(client, t1.refresh_token));
    expect(t2.status).toBe(200);
  });
});

it('redis-server SIGKILLed with refreshes in flight and restarted from its AOF: no connection is lost', async () => {
  const connections: { client: RegisteredClient; tokens: TokenSet }[] = [];
  for (let i = 0; i < 12; i++) {
    const client = await register(stack.baseUrl);
    const { code, verifier } = await codeFor(client);
    connections.push({ client, tokens: (await (await carefully(() => exchange(client, code, verifier))).json()) as TokenSet });
  }
  // Every connection refreshes at once. Redis runs the rotations, dies before any reply is
  // delivered, and comes back from its AOF; ioredis re-sends, or the client retries a 503.
  proxy.holdRepliesFrom((chunk) => chunk.includes('"s":"tok:'));
  const inFlight = connections.map(async (c) => {
    const res = await carefully(() => refresh(c.client, c.tokens.refresh_token));
    expect(res.status, await res.clone().text()).toBe(200);
    c.tokens = (await res.json()) as TokenSet;
  });
  await new Promise((r) => setTimeout(r, 300));
  await redis.stop('SIGKILL');
  await redis.start(); // back before ioredis reconnects, so it re-sends what went unanswered
  proxy.dropHeld();
  await Promise.all(inFlight);
  for (const c of connections) {
    expect(await pingStatus(stack, c.tokens.access_token)).toBe(200);
    expect((await carefully(() => refresh(c.client, c.tokens.refresh_token))).status).toBe(200);
  }
});
