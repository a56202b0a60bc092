import { createServer, type Server } from 'node:http';
import { Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Balancer, startBalancer } from '../../bench/lib/balancer.js';

/** Two HTTP servers that echo their name and the request body, behind the bench's balancer. */
let servers: Server[];
let lb: Balancer;

function echo(name: string): Promise<Server> {
  const s = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => res.end(`${name}:${Buffer.concat(chunks).length}`));
  });
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)));
}

function post(agent: Agent, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: lb.port, method: 'POST', path: '/', agent }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  servers = [await echo('a'), await echo('b')];
  lb = await startBalancer(servers.map((s) => (s.address() as AddressInfo).port));
});

afterAll(async () => {
  await lb.close();
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

describe('bench round-robin balancer', () => {
  it('hands each new connection to the next target and pipes a large body both ways', async () => {
    const fresh = new Agent({ keepAlive: false });
    const big = 'x'.repeat(3_000_000);
    const answers = [await post(fresh, big), await post(fresh, 'hi'), await post(fresh, ''), await post(fresh, 'hi')];
    expect(answers).toEqual(['a:3000000', 'b:2', 'a:0', 'b:2']);
    expect(lb.counts).toEqual([2, 2]);
  });

  it('keeps the requests of one keep-alive connection on one target', async () => {
    const kept = new Agent({ keepAlive: true, maxSockets: 1 });
    const before = [...lb.counts];
    const answers = [await post(kept, '1'), await post(kept, '22'), await post(kept, '333')];
    kept.destroy();
    expect(new Set(answers.map((a) => a.split(':')[0])).size).toBe(1);
    expect(lb.counts.reduce((a, b) => a + b) - before.reduce((a, b) => a + b)).toBe(1);
  });
});
