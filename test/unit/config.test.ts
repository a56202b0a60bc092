import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type Config, ConfigError, loadConfig } from '../../src/config.js';
import { parseClusterUrl, parseSentinelUrl } from '../../src/lib/redis-url.js';
import { TEST_SECRET } from '../helpers/stack.js';

/** The smallest valid environment: the four required variables. */
const REQUIRED = {
  NOTION_OAUTH_CLIENT_ID: 'notion-client-id',
  NOTION_OAUTH_CLIENT_SECRET: 'notion-client-secret',
  BASE_URL: 'https://mcp.example.com',
  SESSION_SECRET: TEST_SECRET,
} as const;

const load = (overrides: Record<string, string | undefined> = {}): Config => loadConfig({ ...REQUIRED, ...overrides });

/** Runs loadConfig and returns the ConfigError it must throw. */
function problemsOf(env: Record<string, string | undefined>): ConfigError {
  let caught: unknown;
  try {
    loadConfig(env);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  const err = caught as ConfigError;
  // Start-up prints the message as one line: no problem may break it.
  expect(err.message).not.toContain('\n');
  return err;
}

const rejects = (overrides: Record<string, string | undefined>) => problemsOf({ ...REQUIRED, ...overrides });

describe('loadConfig defaults', () => {
  const config = load();

  it('listens on 127.0.0.1:8000 and keeps data in ./data, logging at info', () => {
    expect(config.host).toBe('127.0.0.1');
    expect(config.port).toBe(8000);
    expect(config.dataDir).toBe('./data');
    expect(config.logLevel).toBe('info');
  });

  it('talks to the real Notion by default', () => {
    expect(config.notion.apiBaseUrl).toBe('https://api.notion.com');
    expect(config.notion.authorizeUrl).toBe('https://api.notion.com/v1/oauth/authorize');
    expect(config.notion.clientId).toBe(REQUIRED.NOTION_OAUTH_CLIENT_ID);
    expect(config.notion.clientSecret).toBe(REQUIRED.NOTION_OAUTH_CLIENT_SECRET);
  });

  it('uses 30 d access tokens, 90 d refresh idle time, 600 s codes and 600 s flows', () => {
    expect(config.ttl.accessTokenS).toBe(30 * 24 * 3600);
    expect(config.ttl.refreshTokenIdleS).toBe(90 * 24 * 3600);
    expect(config.ttl.authCodeS).toBe(600);
    expect(config.ttl.flowS).toBe(600);
  });

  it('reads lifetimes from the environment when set', () => {
    const c = load({ ACCESS_TOKEN_TTL_SECONDS: '3600', REFRESH_TOKEN_IDLE_TTL_SECONDS: '7200', AUTH_CODE_TTL_SECONDS: '30', AUTH_FLOW_TTL_SECONDS: '45' });
    expect(c.ttl).toMatchObject({ accessTokenS: 3600, refreshTokenIdleS: 7200, authCodeS: 30, flowS: 45 });
  });

  it('rejects a lifetime that is not a positive whole number, naming it', () => {
    expect(rejects({ ACCESS_TOKEN_TTL_SECONDS: 'soon' }).message).toContain('ACCESS_TOKEN_TTL_SECONDS');
    expect(rejects({ AUTH_CODE_TTL_SECONDS: '0' }).message).toContain('AUTH_CODE_TTL_SECONDS');
    expect(rejects({ AUTH_FLOW_TTL_SECONDS: '1.5' }).message).toContain('AUTH_FLOW_TTL_SECONDS');
  });
});

describe('REDIS_URL', () => {
  it('takes redis://, rediss:// and redis+sentinel:// with one or more sentinels and a master name', () => {
    for (const url of ['redis://127.0.0.1:6379/0', 'rediss://user:pw@cache.example.com:6380', 'redis+sentinel://10.0.0.1:26379/mymaster', 'redis+sentinel://:pw@s1:26379,s2:26380,[::1]:26381/prod-master']) {
      expect(load({ REDIS_URL: url }).redisUrl).toBe(url);
    }
  });

  it('refuses other URLs and sentinel forms without a port or a master name, in one line', () => {
    for (const url of ['http://127.0.0.1:6379', 'redis+sentinel://s1/mymaster', 'redis+sentinel://s1:26379', 'redis+sentinel://s1:26379/', 'nonsense']) {
      expect(rejects({ REDIS_URL: url }).message, url).toMatch(/REDIS_URL must be/);
    }
  });

  it('parses the sentinel form for ioredis', () => {
    expect(parseSentinelUrl('redis+sentinel://u:p%40ss@s1:26379,[::1]:26380/prod')).toEqual({
      sentinels: [
        { host: 's1', port: 26379 },
        { host: '::1', port: 26380 },
      ],
      name: 'prod',
      username: 'u',
      password: 'p@ss',
    });
    expect(parseSentinelUrl('redis://127.0.0.1:6379')).toBeNull();
    expect(parseSentinelUrl('redis+sentinel://s1:99999/m')).toBeNull();
  });

  it('takes a Redis Cluster as redis+cluster:// or rediss+cluster:// (TLS) with one or more nodes, and parses it for ioredis', () => {
    for (const url of ['redis+cluster://127.0.0.1:7000', 'rediss+cluster://app:s%3Acret@node-1.cache.example.com:6379,node-2.cache.example.com:6379/']) {
      expect(load({ REDIS_URL: url }).redisUrl).toBe(url);
    }
    for (const url of ['redis+cluster://n1', 'redis+cluster://n1:7000/0', 'redis+cluster://', 'redis+cluster://n1:7000,n2', 'rediss+cluster://n1:70000']) {
      expect(rejects({ REDIS_URL: url }).message, url).toMatch(/REDIS_URL must be.*redis\+cluster:\/\//);
    }
    expect(parseClusterUrl('rediss+cluster://app:s%3Acret@n1:6379,[::1]:6380')).toEqual({
      nodes: [
        { host: 'n1', port: 6379 },
        { host: '::1', port: 6380 },
      ],
      tls: true,
      username: 'app',
      password: 's:cret',
    });
    expect(parseClusterUrl('redis+cluster://:pw@n1:7000')).toEqual({ nodes: [{ host: 'n1', port: 7000 }], tls: false, password: 'pw' });
    expect(parseClusterUrl('redis://n1:7000')).toBeNull();
  });
});

describe('BASE_URL', () => {
  it('makes the resource BASE_URL + /mcp and the issuer BASE_URL', () => {
    const c = load({ BASE_URL: 'https://mcp.example.com' });
    expect(c.baseUrl).toBe('https://mcp.example.com');
    expect(c.resource).toBe('https://mcp.example.com/mcp');
    expect(c.secureCookies).toBe(true);
  });

  it('strips a trailing slash from the issuer and the resource', () => {
    const c = load({ BASE_URL: 'https://mcp.example.com/' });
    expect(c.baseUrl).toBe('https://mcp.example.com');
    expect(c.resource).toBe('https://mcp.example.com/mcp');
  });

  it('rejects http:// for a public host, naming BASE_URL and saying to use https', () => {
    const err = rejects({ BASE_URL: 'http://example.com' });
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toContain('BASE_URL');
    expect(err.problems[0]).toContain('https://');
  });

  it.each(['http://localhost:8000', 'http://[::1]:8000', 'http://127.0.0.1:8000'])('accepts loopback %s over http', (url) => {
    const c = load({ BASE_URL: url });
    expect(c.baseUrl).toBe(url);
    expect(c.resource).toBe(`${url}/mcp`);
    expect(c.secureCookies).toBe(false);
  });

  it.each(['https://mcp.example.com/notion', 'https://mcp.example.com/mcp', 'https://mcp.example.com/?x=1', 'https://user:pw@mcp.example.com'])(
    'rejects %s (not a bare origin)',
    (url) => {
      const err = rejects({ BASE_URL: url });
      expect(err.problems.join(' ')).toContain('BASE_URL');
    },
  );

  it('rejects something that is not a URL, and another scheme', () => {
    expect(rejects({ BASE_URL: 'mcp.example.com' }).message).toContain('BASE_URL');
    expect(rejects({ BASE_URL: 'ftp://mcp.example.com' }).message).toContain('BASE_URL');
  });
});

describe('SESSION_SECRET', () => {
  it('accepts an `openssl rand -hex 32` secret', () => {
    const secret = randomBytes(32).toString('hex');
    expect(load({ SESSION_SECRET: secret }).sessionSecret).toBe(secret);
  });

  it('accepts every random hex secret, including ones that end the way they start', () => {
    for (let i = 0; i < 200; i++) {
      const body = randomBytes(31).toString('hex');
      const secret = `ab${body}ab`.slice(0, 64);
      expect(secret).toHaveLength(64);
      expect(load({ SESSION_SECRET: secret }).sessionSecret).toBe(secret);
      const plain = randomBytes(32).toString('hex');
      expect(load({ SESSION_SECRET: plain }).sessionSecret).toBe(plain);
    }
  });

  it('accepts a 43-character base64url secret (32 random bytes)', () => {
    const secret = randomBytes(32).toString('base64url');
    expect(load({ SESSION_SECRET: secret }).sessionSecret).toBe(secret);
  });

  it.each([
    ['too short', 'abc123'],
    ['16 random bytes in hex', randomBytes(16).toString('hex')],
    ['one repeated character', 'a'.repeat(128)],
    ['a repeated short pattern', 'abcdef'.repeat(20)],
    ['a repeated word', 'password'.repeat(8)],
    ['a repeated 16-character hex block', '0123456789abcdef'.repeat(4)],
    ['a repeated 16-character block', 'abcdefghijklmnop'.repeat(4)],
  ])('rejects a secret that is %s, naming SESSION_SECRET and how to make one', (_label, secret) => {
    const err = rejects({ SESSION_SECRET: secret });
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toContain('SESSION_SECRET');
    expect(err.problems[0]).toContain('openssl rand -hex 32');
  });
});

describe('REDIS_URL', () => {
  it('selects the Redis store for a redis:// or rediss:// URL', () => {
    expect(load({ REDIS_URL: 'redis://127.0.0.1:6379' }).redisUrl).toBe('redis://127.0.0.1:6379');
    expect(load({ REDIS_URL: 'rediss://cache.internal:6380/2' }).redisUrl).toBe('rediss://cache.internal:6380/2');
    expect(load({}).redisUrl).toBeNull();
  });

  it('rejects anything else with one line naming REDIS_URL', () => {
    for (const bad of ['http://127.0.0.1:6379', 'localhost:6379', 'redis//x']) {
      const err = rejects({ REDIS_URL: bad });
      expect(err.problems).toHaveLength(1);
      expect(err.problems[0]).toContain('REDIS_URL');
    }
  });
});

describe('problems are listed together', () => {
  it('names every missing required variable in one ConfigError', () => {
    const err = problemsOf({});
    const text = err.problems.join('\n');
    for (const name of ['NOTION_OAUTH_CLIENT_ID', 'NOTION_OAUTH_CLIENT_SECRET', 'BASE_URL', 'SESSION_SECRET']) {
      expect(text).toContain(name);
      expect(err.message).toContain(name);
    }
    expect(err.problems).toHaveLength(4);
  });

  it('names an empty required variable', () => {
    const err = rejects({ NOTION_OAUTH_CLIENT_ID: '' });
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toContain('NOTION_OAUTH_CLIENT_ID');
  });

  it('lists invalid values together with missing ones, not only the missing ones', () => {
    const err = problemsOf({
      NOTION_OAUTH_CLIENT_SECRET: 'secret',
      BASE_URL: 'http://example.com',
      SESSION_SECRET: 'short',
      REDIS_URL: 'http://localhost',
    });
    const text = err.problems.join('\n');
    for (const name of ['NOTION_OAUTH_CLIENT_ID', 'BASE_URL', 'SESSION_SECRET', 'REDIS_URL']) expect(text).toContain(name);
    expect(err.problems).toHaveLength(4);
  });

  it('gives each problem as a line that names its variable', () => {
    const names = ['PORT', 'LOG_LEVEL', 'ACCESS_TOKEN_TTL_SECONDS', 'RATE_LIMIT_REGISTER_PER_HOUR'];
    const err = rejects({ PORT: 'eighty', LOG_LEVEL: 'loud', ACCESS_TOKEN_TTL_SECONDS: '-5', RATE_LIMIT_REGISTER_PER_HOUR: 'many' });
    expect(err.problems).toHaveLength(names.length);
    for (const name of names) expect(err.problems.filter((p) => p.startsWith(name))).toHaveLength(1);
  });
});

describe('PORT, HOST, LOG_LEVEL, DATA_DIR', () => {
  it('reads HOST, PORT, DATA_DIR and LOG_LEVEL', () => {
    const c = load({ HOST: '0.0.0.0', PORT: '9123', DATA_DIR: '/var/lib/nmr', LOG_LEVEL: 'debug' });
    expect(c).toMatchObject({ host: '0.0.0.0', port: 9123, dataDir: '/var/lib/nmr', logLevel: 'debug' });
  });

  it.each(['http', '70000', '-1', '80.5'])('rejects PORT=%s, naming PORT', (port) => {
    const err = rejects({ PORT: port });
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toContain('PORT');
  });

  it('treats an empty PORT (e.g. `PORT=` in .env) as unset, not as port 0', () => {
    expect(load({ PORT: '' }).port).toBe(8000);
  });

  it('treats empty optional variables as unset rather than failing with an unnamed message', () => {
    const c = load({ HOST: '', DATA_DIR: '', LOG_LEVEL: '', REDIS_URL: '' });
    expect(c).toMatchObject({ host: '127.0.0.1', dataDir: './data', logLevel: 'info' });
  });

  it('rejects an unknown LOG_LEVEL, naming LOG_LEVEL and the allowed values', () => {
    const err = rejects({ LOG_LEVEL: 'verbose' });
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toContain('LOG_LEVEL');
    expect(err.problems[0]).toContain('debug');
  });

  it('overrides the Notion URLs (for tests and proxies)', () => {
    const c = load({ NOTION_API_BASE_URL: 'http://127.0.0.1:9999/', NOTION_OAUTH_AUTHORIZE_URL: 'http://127.0.0.1:9999/v1/oauth/authorize' });
    expect(c.notion.apiBaseUrl).toBe('http://127.0.0.1:9999');
    expect(c.notion.authorizeUrl).toBe('http://127.0.0.1:9999/v1/oauth/authorize');
    expect(rejects({ NOTION_API_BASE_URL: 'not a url' }).message).toContain('NOTION_API_BASE_URL');
    expect(rejects({ NOTION_OAUTH_AUTHORIZE_URL: 'nope' }).message).toContain('NOTION_OAUTH_AUTHORIZE_URL');
  });
});

describe('allowedHosts', () => {
  it("holds BASE_URL's host:port alone by default", () => {
    expect(load({ BASE_URL: 'http://127.0.0.1:8123' }).allowedHosts).toEqual(['127.0.0.1:8123']);
    expect(load({ BASE_URL: 'https://MCP.Example.com' }).allowedHosts).toEqual(['mcp.example.com']);
    expect(load({ BASE_URL: 'https://mcp.example.com:8443' }).allowedHosts).toEqual(['mcp.example.com:8443']);
  });

  it('adds ADDITIONAL_ALLOWED_HOSTS, trimmed, lower-cased, without empties or duplicates', () => {
    const c = load({
      BASE_URL: 'https://mcp.example.com',
      ADDITIONAL_ALLOWED_HOSTS: ' Internal.Example.COM , localhost:8000,,MCP.example.com ',
    });
    expect([...c.allowedHosts].sort()).toEqual(['internal.example.com', 'localhost:8000', 'mcp.example.com']);
  });
});

describe('the returned config', () => {
  it('is frozen', () => {
    const c = load();
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.notion)).toBe(true);
    expect(Object.isFrozen(c.ttl)).toBe(true);
    expect(Object.isFrozen(c.allowedHosts)).toBe(true);
  });
});

describe('OTEL_* (tracing)', () => {
  it('is off by default, and with OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none whatever else is set', () => {
    expect(load().tracing).toBeNull();
    expect(load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' }).tracing).toBeNull();
    expect(load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' }).tracing).toBeNull();
    expect(load({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'TRUE' }).tracing).toBeNull();
    // A blank value (OTEL_EXPORTER_OTLP_ENDPOINT= in a .env template) is unset.
    expect(load({ OTEL_EXPORTER_OTLP_ENDPOINT: '' }).tracing).toBeNull();
  });

  it('turns on with an OTLP endpoint, the general one getting /v1/traces and the traces one used as it is', () => {
    expect(load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing).toMatchObject({
      endpoint: 'http://collector:4318/v1/traces',
      serviceName: 'notion-mcp-remote',
      sampler: 'parentbased_always_on',
      ratio: 1,
      headers: {},
    });
    expect(load({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://otel.example.com/in', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://ignored:4318' }).tracing?.endpoint).toBe('https://otel.example.com/in');
    expect(load({ OTEL_TRACES_EXPORTER: 'otlp' }).tracing?.endpoint).toBe('http://localhost:4318/v1/traces');
  });

  it('reads headers (percent-decoded, the traces ones winning), the service name, resource attributes and the sampler', () => {
    const t = load({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_HEADERS: 'api-key=a%20b,x-tenant=one',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-tenant=two',
      OTEL_SERVICE_NAME: 'notion-eu',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,service.name=ignored',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
    }).tracing;
    expect(t).toMatchObject({
      headers: { 'api-key': 'a b', 'x-tenant': 'two' },
      serviceName: 'notion-eu',
      resourceAttributes: { 'deployment.environment.name': 'prod' },
      sampler: 'parentbased_traceidratio',
      ratio: 0.25,
    });
  });

  it('refuses bad values with a line naming the variable and never quoting a header value', () => {
    const cases: [Record<string, string>, string][] = [
      [{ OTEL_SDK_DISABLED: 'yes' }, 'OTEL_SDK_DISABLED must be true or false'],
      [{ OTEL_TRACES_EXPORTER: 'zipkin' }, 'OTEL_TRACES_EXPORTER must be otlp or none'],
      [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'OTEL_EXPORTER_OTLP_PROTOCOL must be http/json'],
      [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL'],
      [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'ftp://x' }, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must be an http(s) URL'],
      [{ OTEL_TRACES_SAMPLER: 'sometimes' }, 'OTEL_TRACES_SAMPLER must be one of'],
      [{ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' }, 'OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1'],
    ];
    for (const [env, line] of cases) expect(problemsOf(env).message).toContain(line);
    const bad = problemsOf({ OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20s3cret,novalue' });
    expect(bad.message).toContain('OTEL_EXPORTER_OTLP_HEADERS must be a comma-separated list of key=value pairs');
    expect(bad.message).not.toContain('s3cret');
    expect(problemsOf({ OTEL_EXPORTER_OTLP_HEADERS: 'k=%E0%A4%A' }).message).toContain('OTEL_EXPORTER_OTLP_HEADERS');
  });
});
