/**
 * Runs the public MCP conformance CLI (@modelcontextprotocol/conformance) against the real app.
 *
 * The CLI needs Node 22 (0.1.14+ imports fs.globSync), so it is borrowed through npx while the
 * server keeps running on this process's Node. The child is spawned asynchronously: the proxy
 * below lives in this process, and a spawnSync would block it until the run times out.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { type Server, createServer, request } from 'node:http';
import { join } from 'node:path';
import { freePort } from '../helpers/stack.js';

/** Pinned versions (bump on purpose, with the baselines). */
export const STABLE = '0.1.16';
export const ALPHA = '0.2.0-alpha.12';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  output: string;
  ms: number;
}

export interface RunOptions {
  /** Hard limit: the whole process group is killed after this many ms. */
  timeoutMs: number;
  /** Called with each chunk of output (e.g. to catch the authorization URL). */
  onOutput?: (text: string, all: string) => void;
}

/** `npx -y -p node@22 -p @modelcontextprotocol/conformance@<version> -- conformance <args>` */
export function conformanceCommand(version: string, args: string[]): string[] {
  return ['-y', '-p', 'node@22', '-p', `@modelcontextprotocol/conformance@${version}`, '--', 'conformance', ...args];
}

export function runConformance(version: string, args: string[], opts: RunOptions): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('npx', conformanceCommand(version, args), {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group, so the kill reaches npx's children too
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', npm_config_update_notifier: 'false' },
    });
    let output = '';
    let timedOut = false;
    const onData = (d: Buffer) => {
      const text = String(d);
      output += text;
      opts.onOutput?.(text, output);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const kill = (sig: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        /* already gone */
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill('SIGTERM');
      setTimeout(() => kill('SIGKILL'), 5_000).unref();
    }, opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut, output, ms: Date.now() - started });
    });
  });
}

/**
 * A loopback-only proxy that adds `Authorization: Bearer <token>` to every request and forwards
 * it to `target`. Only a Host or Origin naming the proxy itself is rewritten to the target's (as a
 * reverse proxy in front of BASE_URL would present it); any other Host or Origin (e.g. the hostile
 * evil.example.com of dns-rebinding-protection) reaches the server unchanged.
 */
export async function startBearerProxy(target: string, token: string): Promise<{ url: string; close(): Promise<void> }> {
  const up = new URL(target);
  const port = await freePort();
  const own = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  const server: Server = createServer((req, res) => {
    const headers = { ...req.headers, authorization: `Bearer ${token}` };
    if (!headers.host || own.has(headers.host)) headers.host = up.host;
    const origin = headers.origin;
    if (origin !== undefined && [...own].some((h) => origin === `http://${h}`)) headers.origin = up.origin;
    const fwd = request({ host: up.hostname, port: up.port, path: req.url, method: req.method, headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    fwd.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(fwd);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    // localhost: dns-rebinding-protection only runs against a localhost URL.
    url: `http://localhost:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The CLI's scenario summary (from its first "✓ name: n passed, m failed" line on), for logs. */
export function summarize(output: string): string {
  const lines = output.split('\n').filter((l) => !l.startsWith('npm warn'));
  const first = lines.findIndex((l) => /^[✓✗] \S+: \d+ passed, \d+ failed/.test(l));
  return (first < 0 ? lines.slice(-60) : lines.slice(first)).join('\n');
}

export interface Check {
  id: string;
  status: string;
  errorMessage?: string;
}

/** checks.json of every scenario in an -o directory, keyed by scenario ("server-ping-<ts>" → "ping"). */
export function readChecks(dir: string, mode: 'server' | 'authorization-server'): Map<string, Check[]> {
  const byScenario = new Map<string, Check[]>();
  for (const entry of readdirSync(dir).sort()) {
    const m = new RegExp(`^${mode}-(.+)-\\d{4}-\\d{2}-\\d{2}T[\\d-]+Z$`).exec(entry);
    const file = join(dir, entry, 'checks.json');
    if (!m || !existsSync(file)) continue;
    byScenario.set(m[1]!, JSON.parse(readFileSync(file, 'utf8')) as Check[]);
  }
  return byScenario;
}
