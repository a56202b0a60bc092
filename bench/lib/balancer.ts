/**
 * A loopback round-robin TCP balancer for the scale bench: each accepted connection goes to the
 * next target port in turn and bytes are piped both ways, as an L4 load balancer does (HTTP
 * keep-alive connections stay on their instance). Importable, or a process of its own:
 *
 *   node --import tsx bench/lib/balancer.ts --port 8080 3001 3002   (prints "balancer listening 8080")
 */
import { connect, createServer, type Socket } from 'node:net';
import { pathToFileURL } from 'node:url';

export interface Balancer {
  port: number;
  /** Connections handed to each target so far, in target order. */
  counts: number[];
  close(): Promise<void>;
}

export function startBalancer(targets: number[], port = 0): Promise<Balancer> {
  if (targets.length === 0) throw new Error('startBalancer needs at least one target port');
  const counts = targets.map(() => 0);
  const open = new Set<Socket>();
  let next = 0;
  const track = (s: Socket) => {
    open.add(s);
    s.once('close', () => open.delete(s));
  };
  const server = createServer({ noDelay: true }, (client) => {
    const i = next++ % targets.length;
    counts[i]!++;
    const upstream = connect({ host: '127.0.0.1', port: targets[i]!, noDelay: true });
    track(client);
    track(upstream);
    // Either side failing or closing ends the other: no half-open pairs are left behind.
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const addr = server.address();
      resolve({
        port: typeof addr === 'object' && addr ? addr.port : port,
        counts,
        close: () =>
          new Promise<void>((done) => {
            for (const s of open) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--port');
  const port = at >= 0 ? Number(args.splice(at, 2)[1]) : 0;
  const lb = await startBalancer(args.map(Number), port);
  process.stdout.write(`balancer listening ${lb.port}\n`);
  process.on('SIGTERM', () => void lb.close().then(() => process.exit(0)));
}
