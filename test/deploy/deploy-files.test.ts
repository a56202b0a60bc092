/**
 * Keeps the deployment files (Dockerfile, docker-compose.yml, the systemd unit, render.yaml,
 * railway.json, docs/deployment.md) true to the code: the variables they set exist, the health
 * paths they probe answer, the command they start exists after `npm run build`.
 * No Docker engine is needed: the files are parsed, and the health-check commands run against the real app.
 */
import yaml from 'js-yaml';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, freePort, startStack } from '../helpers/stack.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
/** `npm start`, word by word: every deployment file must start the server exactly this way. */
const START = (JSON.parse(read('package.json')) as { scripts: { start: string } }).scripts.start.split(/\s+/);

type Obj = Record<string, unknown>;
const obj = (v: unknown, what: string): Obj => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${what} is not a mapping`);
  return v as Obj;
};

// ---------- the configuration schema ----------

/** The keys of `EnvSchema` in src/config.ts: the only environment variables the server reads. */
function schemaKeys(source: string): Set<string> {
  const m = /const EnvSchema = z\.object\(\{\n([\s\S]*?)\n\}\);/.exec(source);
  if (!m) throw new Error('EnvSchema = z.object({ ... }) not found in src/config.ts');
  return new Set([...m[1]!.matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)].map((k) => k[1]!));
}

/** Names that look like environment variables: UPPER_SNAKE with at least one underscore. */
const SNAKE = /(?<![A-Za-z0-9_$-])([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)(?![A-Za-z0-9_-])/g;
/** `KEY=value` assignments at the start of a word (catches HOST=, PORT= too). */
const ASSIGN = /(?<![A-Za-z0-9_$.-])([A-Z][A-Z0-9_]*)=/g;

// ---------- extractors, one per file format ----------

/** Dockerfile instructions with continuation lines joined; comments dropped. */
function dockerInstructions(text: string): { op: string; args: string }[] {
  const joined = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const [, op, args] = /^(\S+)\s*(.*)$/.exec(l)!;
      return { op: op!.toUpperCase(), args: args! };
    });
}

function dockerfileEnv(text: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const { op, args } of dockerInstructions(text)) {
    if (op === 'ENV') for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(\S*)/g)) env.set(m[1]!, m[2]!);
    if (op === 'ARG') for (const m of args.matchAll(/^([A-Za-z_][A-Za-z0-9_]*)/g)) env.set(m[1]!, '');
  }
  return env;
}

/** Every variable a shell or node snippet reads: process.env.X, $X, ${X}. */
function referencedVars(text: string): string[] {
  return [...text.matchAll(/process\.env\.([A-Z][A-Z0-9_]*)|\$\{?([A-Z][A-Z0-9_]*)/g)].map((m) => (m[1] ?? m[2])!);
}

function composeEnv(compose: Obj): Map<string, string> {
  const env = new Map<string, string>();
  for (const svc of Object.values(obj(compose.services, 'services'))) {
    const e = (svc as Obj).environment;
    if (Array.isArray(e)) for (const item of e) { const [k, ...v] = String(item).split('='); env.set(k!, v.join('=')); }
    else if (e) for (const [k, v] of Object.entries(obj(e, 'environment'))) env.set(k, String(v));
  }
  return env;
}

/** systemd unit: [Section] → key → values (a key may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) { section = s[1]!; out.set(section, out.get(section) ?? new Map()); continue; }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (!kv) throw new Error(`not a key=value line in the unit: ${line}`);
    const keys = out.get(section) ?? new Map<string, string[]>();
    out.set(section, keys);
    keys.set(kv[1]!, [...(keys.get(kv[1]!) ?? []), kv[2]!]);
  }
  return out;
}

function unitEnv(service: Map<string, string[]>): Map<string, string> {
  const env = new Map<string, string>();
  for (const v of service.get('Environment') ?? []) {
    for (const m of v.matchAll(/"?([A-Za-z_][A-Za-z0-9_]*)=([^"\s]*)"?/g)) env.set(m[1]!, m[2]!);
  }
  return env;
}

/** Every env-var-like name in prose: UPPER_SNAKE names and KEY= assignments. */
function docVars(text: string): Set<string> {
  return new Set([...[...text.matchAll(SNAKE)].map((m) => m[1]!), ...[...text.matchAll(ASSIGN)].map((m) => m[1]!)]);
}

/** Runs `node -e <script>` and resolves with its exit code. */
function runNode(args: string[], env: Record<string, string>): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('error', reject);
    child.once('exit', (code) => { clearTimeout(timer); resolve(code); });
  });
}

// ---------- the files ----------

const KEYS = schemaKeys(read('src/config.ts'));
const dockerfile = read('Dockerfile');
const instructions = dockerInstructions(dockerfile);
const unit = parseUnit(read('deploy/notion-mcp-remote.service'));
const service = unit.get('Service') ?? new Map<string, string[]>();
const one = (key: string) => service.get(key)?.at(-1);
const railway = JSON.parse(read('railway.json')) as Obj;
const docs = read('docs/deployment.md');
const SHUTDOWN_MS = Number(/SHUTDOWN_TIMEOUT_MS = ([\d_]+)/.exec(read('src/main.ts'))?.[1]?.replace(/_/g, ''));

let compose: Obj;
let render: Obj;
let renderWeb: Obj;
beforeAll(async () => {
  const y = yaml;
  compose = obj(y.load(read('docker-compose.yml')), 'docker-compose.yml');
  render = obj(y.load(read('render.yaml')), 'render.yaml');
  const services = render.services as Obj[];
  renderWeb = obj(services.find((s) => s.type === 'web'), 'render.yaml web service');
});
const renderEnv = () => new Map((renderWeb.envVars as Obj[]).map((e) => [String(e.key), e] as const));

describe('the configuration schema read from src/config.ts', () => {
  it('has the four required variables and every documented optional one', () => {
    for (const k of ['NOTION_OAUTH_CLIENT_ID', 'NOTION_OAUTH_CLIENT_SECRET', 'BASE_URL', 'SESSION_SECRET', 'HOST', 'PORT', 'DATA_DIR', 'REDIS_URL', 'TRUST_PROXY']) {
      expect(KEYS, k).toContain(k);
    }
    expect(KEYS.size).toBeGreaterThan(25);
  });
});

describe('every environment variable the deployment files name exists in the schema', () => {
  const unknown = (names: Iterable<string>) => [...names].filter((n) => !KEYS.has(n));

  it('Dockerfile', () => {
    const env = dockerfileEnv(dockerfile);
    expect([...env.keys()]).toEqual(expect.arrayContaining(['HOST', 'PORT', 'DATA_DIR']));
    const used = [...env.keys(), ...instructions.flatMap((i) => referencedVars(i.args))];
    expect(unknown(used)).toEqual([]);
  });

  it('docker-compose.yml', () => {
    const env = composeEnv(compose);
    expect([...env.keys()]).toContain('REDIS_URL');
    expect(unknown([...env.keys(), ...referencedVars(read('docker-compose.yml'))])).toEqual([]);
  });

  it('the systemd unit', () => {
    const env = unitEnv(service);
    expect([...env.keys()]).toContain('DATA_DIR');
    expect(unknown([...env.keys(), ...referencedVars((service.get('ExecStart') ?? []).join(' '))])).toEqual([]);
  });

  it('render.yaml', () => {
    const keys = [...renderEnv().keys()];
    expect(keys).toEqual(expect.arrayContaining(['SESSION_SECRET', 'BASE_URL', 'DATA_DIR']));
    expect(unknown([...keys, ...referencedVars(String(renderWeb.startCommand)), ...referencedVars(String(renderWeb.buildCommand))])).toEqual([]);
  });

  it('railway.json', () => {
    const vars = Object.keys(obj(railway.variables ?? {}, 'railway variables'));
    expect(unknown([...vars, ...referencedVars(JSON.stringify(railway))])).toEqual([]);
  });

  it('docs/deployment.md', () => {
    const names = docVars(docs);
    expect([...names]).toEqual(expect.arrayContaining(['BASE_URL', 'TRUST_PROXY', 'REDIS_URL', 'SESSION_SECRET', 'ADDITIONAL_ALLOWED_HOSTS']));
    expect(unknown(names)).toEqual([]);
  });

  it('the extractor catches a misspelt name', () => {
    expect(unknown(docVars('set `NOTION_CLIENT_ID` and `PORTT=1`'))).toEqual(['NOTION_CLIENT_ID', 'PORTT']);
  });
});

describe('Dockerfile', () => {
  const stages = instructions.filter((i) => i.op === 'FROM');

  it('has a build stage and a runtime stage on node:20-bookworm-slim', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s.args).toMatch(/^node:20-bookworm-slim\b/);
    const buildRuns = instructions.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
    for (const step of ['python3', 'make', 'g++', 'npm ci', 'npm run build', 'npm prune --omit=dev']) expect(buildRuns).toContain(step);
  });

  it('runs the final stage as a user that is not root', () => {
    const lastFrom = instructions.lastIndexOf(stages.at(-1)!);
    const users = instructions.slice(lastFrom).filter((i) => i.op === 'USER');
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)!.args.split(':')[0]).not.toMatch(/^(root|0)$/);
  });

  it('keeps DATA_DIR in a volume owned by that user, listens on 0.0.0.0 and exposes PORT', () => {
    const env = dockerfileEnv(dockerfile);
    const user = instructions.filter((i) => i.op === 'USER').at(-1)!.args.split(':')[0]!;
    expect(env.get('HOST')).toBe('0.0.0.0');
    const dataDir = env.get('DATA_DIR')!;
    expect(dataDir).toBe('/data');
    expect(instructions.some((i) => i.op === 'VOLUME' && i.args.includes(dataDir))).toBe(true);
    expect(dockerfile).toMatch(new RegExp(`chown ${user}:${user} ${dataDir}\\b`));
    const exposed = instructions.filter((i) => i.op === 'EXPOSE').map((i) => i.args.trim());
    expect(exposed).toContain(env.get('PORT'));
  });

  it('copies dist/, node_modules/ and package.json from the build stage, and stops with SIGTERM', () => {
    const copies = instructions.filter((i) => i.op === 'COPY' && i.args.includes('--from=build')).map((i) => i.args);
    for (const p of ['/app/dist', '/app/node_modules', '/app/package.json']) expect(copies.some((c) => c.includes(p))).toBe(true);
    expect(instructions.find((i) => i.op === 'STOPSIGNAL')?.args).toBe('SIGTERM');
  });

  it("CMD is `npm start`'s command, starting a file that exists after `npm run build`", () => {
    const cmd = JSON.parse(instructions.filter((i) => i.op === 'CMD').at(-1)!.args) as string[];
    expect(cmd).toEqual(START);
    expect(existsSync(join(ROOT, cmd.at(-1)!))).toBe(true);
  });

  it('.dockerignore keeps secrets, dependencies and build output out of the context', () => {
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim());
    for (const p of ['node_modules', 'dist', 'data', '.env', '.git', 'test-results']) expect(ignored).toContain(p);
    // The build needs these; ignoring them would break `docker build`.
    for (const p of ['src', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) expect(ignored).not.toContain(p);
  });
});

describe('docker-compose.yml', () => {
  it('has services app and redis; redis 7 persists with appendonly on a named volume', () => {
    const services = obj(compose.services, 'services');
    const redis = obj(services.redis, 'redis');
    obj(services.app, 'app');
    expect(String(redis.image)).toMatch(/^redis:7\b/);
    expect([redis.command].flat().join(' ')).toMatch(/--appendonly yes\b/);
    const volume = String((redis.volumes as string[])[0]).split(':');
    expect(volume[1]).toBe('/data');
    expect(Object.keys(obj(compose.volumes, 'volumes'))).toContain(volume[0]);
  });

  it('the app takes .env, points REDIS_URL at the redis service, and waits for it to be healthy', () => {
    const services = obj(compose.services, 'services');
    const app = obj(services.app, 'app');
    expect([app.env_file].flat()).toContain('.env');
    const url = new URL(composeEnv({ services: { app } }).get('REDIS_URL')!);
    expect(url.protocol).toBe('redis:');
    expect(Object.keys(services)).toContain(url.hostname);
    expect(obj(obj(app.depends_on, 'depends_on')[url.hostname], 'depends_on.redis').condition).toBe('service_healthy');
    expect(composeEnv({ services: { app } }).get('HOST')).toBe('0.0.0.0');
  });

  it('both services have a healthcheck and a restart policy; the app gets more than the drain time to stop', () => {
    const services = obj(compose.services, 'services');
    for (const name of ['app', 'redis']) {
      const svc = obj(services[name], name);
      expect(obj(svc.healthcheck, `${name}.healthcheck`).test, name).toBeDefined();
      expect(['always', 'unless-stopped', 'on-failure'], name).toContain(svc.restart);
    }
    const grace = /^(\d+)s$/.exec(String(obj(services.app, 'app').stop_grace_period));
    expect(Number(grace?.[1]) * 1000).toBeGreaterThan(SHUTDOWN_MS);
  });
});

describe('the systemd unit', () => {
  it('is hardened', () => {
    expect(one('NoNewPrivileges')).toBe('yes');
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('PrivateTmp')).toBe('yes');
    expect(one('ProtectHome')).toBe('yes');
    // V8 needs writable executable memory; this setting would crash node.
    expect(one('MemoryDenyWriteExecute') ?? 'no').toBe('no');
  });

  it('may write only the data directory, and DATA_DIR is that directory', () => {
    const dataDir = unitEnv(service).get('DATA_DIR');
    expect(dataDir).toMatch(/^\//);
    const writable = (service.get('ReadWritePaths') ?? []).flatMap((v) => v.split(/\s+/)).map((p) => p.replace(/^-/, ''));
    expect(writable).toContain(dataDir);
  });

  it('runs as a dedicated user from an env file and a working directory, and starts dist/main.js', () => {
    expect(one('User')).toBeTruthy();
    expect(one('User')).not.toMatch(/^(root|0)$/);
    expect(one('EnvironmentFile')).toMatch(/^-?\//);
    expect(one('WorkingDirectory')).toMatch(/^\//);
    const exec = one('ExecStart')!.split(/\s+/);
    expect(exec[0]).toMatch(/\/node$/);
    expect(exec.slice(1)).toEqual(START.slice(1));
    expect(existsSync(join(ROOT, exec.at(-1)!))).toBe(true);
  });

  it('restarts on failure and stops with SIGTERM within a timeout longer than the drain', () => {
    expect(one('Restart')).toBe('on-failure');
    expect(one('KillSignal')).toBe('SIGTERM');
    expect(Number(one('TimeoutStopSec')) * 1000).toBeGreaterThan(SHUTDOWN_MS);
    expect(unit.get('Install')?.get('WantedBy')).toEqual(['multi-user.target']);
  });
});

describe('render.yaml', () => {
  it('is a web service with a disk at DATA_DIR and starts dist/main.js', () => {
    expect(renderWeb.healthCheckPath).toBe('/health');
    const disk = obj(renderWeb.disk, 'disk');
    expect(renderEnv().get('DATA_DIR')?.value).toBe(disk.mountPath);
    expect(renderEnv().get('HOST')?.value).toBe('0.0.0.0');
    expect(renderWeb.startCommand).toBe(START.join(' '));
    expect(String(renderWeb.buildCommand)).toContain('npm run build');
  });

  it('asks for the secrets (sync: false) and never holds their values', () => {
    for (const k of ['NOTION_OAUTH_CLIENT_ID', 'NOTION_OAUTH_CLIENT_SECRET', 'BASE_URL', 'SESSION_SECRET']) {
      const e = renderEnv().get(k);
      expect(e?.sync, k).toBe(false);
      expect(e?.value, k).toBeUndefined();
    }
  });
});

describe('railway.json', () => {
  it('builds with the Dockerfile, starts dist/main.js, checks /health and restarts on failure', () => {
    const build = obj(railway.build, 'build');
    const deploy = obj(railway.deploy, 'deploy');
    expect(build.builder).toBe('DOCKERFILE');
    expect(existsSync(join(ROOT, String(build.dockerfilePath)))).toBe(true);
    expect(deploy.startCommand).toBe(START.join(' '));
    expect(deploy.healthcheckPath).toBe('/health');
    expect(['ON_FAILURE', 'ALWAYS']).toContain(deploy.restartPolicyType);
  });
});

describe('docs/deployment.md', () => {
  it('covers every way to deploy, and the README links it', () => {
    for (const heading of ['## Docker', '## Docker Compose', '## systemd', '## Render', '## Railway', '### Tailscale Funnel', '### ngrok', '### Cloudflare Tunnel', '## Several replicas']) {
      expect(docs).toContain(heading);
    }
    for (const must of ['/oauth/callback', 'Host', 'TRUST_PROXY', 'SESSION_SECRET', 'REDIS_URL']) expect(docs).toContain(must);
    expect(read('README.md')).toContain('(docs/deployment.md)');
  });

  it('shows a Prometheus scrape with the METRICS_TOKEN bearer and one from loopback, as the app expects', () => {
    const section = docs.slice(docs.indexOf('## Metrics'), docs.indexOf('\n## ', docs.indexOf('## Metrics') + 1));
    expect(section).toContain('METRICS_TOKEN');
    const jobs = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => (obj(yaml.load(m[1]!), 'scrape config').scrape_configs as Obj[])[0]!);
    expect(jobs).toHaveLength(2);
    for (const job of jobs) expect(job.metrics_path).toBe('/metrics');
    // Remote: https with the bearer read from a file; local: a loopback target, no credentials.
    expect(jobs[0]!.scheme).toBe('https');
    expect(jobs[0]!.authorization).toEqual({ type: 'Bearer', credentials_file: expect.any(String) });
    expect(jobs[1]!.authorization).toBeUndefined();
    expect((jobs[1]!.static_configs as Obj[])[0]!.targets).toEqual(['127.0.0.1:8000']);
  });
});

describe('the health paths the deployment files probe are served by the app', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  const healthcheck = () => instructions.find((i) => i.op === 'HEALTHCHECK')!;
  /** The `node -e` array of a HEALTHCHECK or compose healthcheck: ["CMD", "node", "-e", script]. */
  const nodeArgs = (cmd: string[]) => {
    expect(cmd.slice(0, 3)).toEqual(['CMD', 'node', '-e']);
    return cmd.slice(2);
  };

  it('every path is a route that answers 200', async () => {
    const paths = new Set<string>([
      String(renderWeb.healthCheckPath),
      String(obj(railway.deploy, 'deploy').healthcheckPath),
      ...[...healthcheck().args.matchAll(/'(\/[a-z]+)'/g)].map((m) => m[1]!),
      ...[...JSON.stringify(compose).matchAll(/:\d+(\/[a-z]+)/g)].map((m) => m[1]!),
      ...[...docs.matchAll(/`(\/(?:health|ready|live\w*|healthz|readyz))`/g)].map((m) => m[1]!),
    ]);
    expect(paths).toContain('/health');
    for (const path of paths) {
      const res = await fetch(`${stack.baseUrl}${path}`);
      expect(res.status, path).toBe(200);
    }
    // The check can fail: a path the server does not serve is not 200.
    expect((await fetch(`${stack.baseUrl}/healthz`)).status).toBe(404);
  });

  it("the Dockerfile's HEALTHCHECK command passes against the app and fails without it", async () => {
    const hc = healthcheck().args;
    expect(hc).toContain('/health');
    const args = nodeArgs(['CMD', ...(JSON.parse(hc.slice(hc.indexOf('CMD [') + 4)) as string[])]);
    const port = new URL(stack.baseUrl).port;
    expect(await runNode(args, { PORT: port })).toBe(0);
    expect(await runNode(args, { PORT: String(await freePort()) })).toBe(1);
  });

  it("docker-compose.yml's app healthcheck passes against the app and fails without it", async () => {
    const app = obj(obj(compose.services, 'services').app, 'app');
    const test = obj(app.healthcheck, 'healthcheck').test as string[];
    const script = nodeArgs(test);
    const port = new URL(stack.baseUrl).port;
    const composePort = composeEnv({ services: { app } }).get('PORT')!;
    expect(script[1]).toContain(`:${composePort}/health`);
    const at = (p: string) => [script[0]!, script[1]!.replace(`:${composePort}/`, `:${p}/`)];
    expect(await runNode(at(port), {})).toBe(0);
    expect(await runNode(at(String(await freePort())), {})).toBe(1);
  });
});

describe('deploy/grafana-dashboard.json and deploy/prometheus-alerts.yml', () => {
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana-dashboard.json'), 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
  const alerts = yaml.load(readFileSync(join(ROOT, 'deploy/prometheus-alerts.yml'), 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };
  const exprs = [...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)), ...alerts.groups.flatMap((g) => g.rules.map((r) => r.expr))];
  const FUNCTIONS = new Set(['histogram_quantile', 'rate', 'sum', 'min', 'max', 'topk', 'by']);
  /** Metric names in a PromQL expression: identifiers outside label matchers and `by (...)` lists. */
  const metricsIn = (expr: string): string[] =>
    [...expr.replace(/\{[^}]*\}/g, '').replace(/\bby\s*\([^)]*\)/g, '').matchAll(/[a-z_][a-z0-9_]*/g)].map((m) => m[0]).filter((w) => w.includes('_') && !FUNCTIONS.has(w));

  it('the extractor finds metric names and skips functions and labels', () => {
    expect(metricsIn('histogram_quantile(0.95, sum by (le, endpoint) (rate(notion_request_duration_seconds_bucket{status!="200"}[5m])))')).toEqual([
      'notion_request_duration_seconds_bucket',
    ]);
  });

  it('the dashboard shows request rate, latency, tool calls by outcome, Notion errors and rate limiting, store health and grants', () => {
    const all = exprs.join('\n');
    for (const metric of ['http_requests_total', 'http_request_duration_seconds_bucket', 'mcp_tool_calls_total', 'notion_requests_total', 'notion_rate_limited_total', 'store_up', 'active_grants']) {
      expect(dashboard.panels.some((p) => p.targets.some((t) => t.expr.includes(metric))), metric).toBe(true);
    }
    expect(all).toContain('outcome');
    const names = alerts.groups.flatMap((g) => g.rules.map((r) => r.alert));
    expect(names).toEqual(expect.arrayContaining(['NotionMcpStoreDown', 'NotionMcpHigh5xx', 'NotionMcpNotion401Storm', 'NotionMcpRateLimited']));
  });

  it('every metric they use is one the server exports', async () => {
    const token = 'dashboard-test-metrics-token-0123456789';
    const app = await startStack({ env: { METRICS_TOKEN: token } });
    try {
      const text = await (await fetch(`${app.baseUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
      const exported = new Set<string>();
      for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
        exported.add(name!);
        if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exported.add(`${name}${suffix}`);
      }
      const used = [...new Set(exprs.flatMap(metricsIn))];
      expect(used.length).toBeGreaterThan(8);
      expect(used.filter((m) => !exported.has(m))).toEqual([]);
    } finally {
      await app.close();
    }
  });
});
