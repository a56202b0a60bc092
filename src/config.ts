import { z } from 'zod';
import { parseClusterUrl, parseSentinelUrl } from './lib/redis-url.js';
import type { Sampler, TracingConfig } from './lib/trace.js';
import { TOOLSETS, type Toolset } from './oauth/scopes.js';

/** Notion API version pinned for every upstream call (see docs/notion.md). */
export const NOTION_VERSION = '2026-03-11';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** One line per variable: what is wrong and how to fix it. */
const seconds = (name: string, fallback: number) =>
  z.coerce
    .number({ error: `${name} must be a whole number of seconds` })
    .int(`${name} must be a whole number of seconds`)
    .positive(`${name} must be greater than 0`)
    .default(fallback);

const count = (name: string, fallback: number) =>
  z.coerce
    .number({ error: `${name} must be a number` })
    .int(`${name} must be a whole number`)
    .positive(`${name} must be greater than 0`)
    .default(fallback);

const EnvSchema = z.object({
  NOTION_OAUTH_CLIENT_ID: z
    .string({ error: 'NOTION_OAUTH_CLIENT_ID is required: copy the OAuth client ID of your Notion public integration' })
    .min(1, 'NOTION_OAUTH_CLIENT_ID is empty: copy the OAuth client ID of your Notion public integration'),
  NOTION_OAUTH_CLIENT_SECRET: z
    .string({ error: 'NOTION_OAUTH_CLIENT_SECRET is required: copy the OAuth client secret of your Notion public integration' })
    .min(1, 'NOTION_OAUTH_CLIENT_SECRET is empty: copy the OAuth client secret of your Notion public integration'),
  BASE_URL: z.string({ error: 'BASE_URL is required: set it to the public origin, e.g. https://mcp.example.com' }),
  SESSION_SECRET: z.string({ error: 'SESSION_SECRET is required: generate one with `openssl rand -hex 32`' }),
  SESSION_SECRET_PREVIOUS: z.string().default(''),
  HOST: z.string().min(1, 'HOST is empty: set it to the address to listen on, e.g. 127.0.0.1').default('127.0.0.1'),
  PORT: z.coerce
    .number({ error: 'PORT must be a number between 0 and 65535' })
    .int('PORT must be a whole number')
    .min(0, 'PORT must be between 0 and 65535')
    .max(65535, 'PORT must be between 0 and 65535')
    .default(8000),
  ADDITIONAL_ALLOWED_HOSTS: z.string().default(''),
  DATA_DIR: z.string().min(1, 'DATA_DIR is empty: set it to the directory for the store, e.g. ./data').default('./data'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent',
    })
    .default('info'),
  NOTION_API_BASE_URL: z.string().default('https://api.notion.com'),
  NOTION_OAUTH_AUTHORIZE_URL: z.string().default('https://api.notion.com/v1/oauth/authorize'),
  REDIS_URL: z.string().optional(),
  ACCESS_TOKEN_TTL_SECONDS: seconds('ACCESS_TOKEN_TTL_SECONDS', 30 * 86400),
  REFRESH_TOKEN_IDLE_TTL_SECONDS: seconds('REFRESH_TOKEN_IDLE_TTL_SECONDS', 90 * 86400),
  AUTH_CODE_TTL_SECONDS: seconds('AUTH_CODE_TTL_SECONDS', 600),
  AUTH_FLOW_TTL_SECONDS: seconds('AUTH_FLOW_TTL_SECONDS', 600),
  NOTION_TIMEOUT_SECONDS: seconds('NOTION_TIMEOUT_SECONDS', 30),
  NOTION_RATE_LIMIT_PER_SECOND: z.coerce
    .number({ error: 'NOTION_RATE_LIMIT_PER_SECOND must be a number' })
    .positive('NOTION_RATE_LIMIT_PER_SECOND must be greater than 0')
    .default(3),
  NOTION_RATE_LIMIT_BURST: z.coerce
    .number({ error: 'NOTION_RATE_LIMIT_BURST must be a number' })
    .int('NOTION_RATE_LIMIT_BURST must be a whole number')
    .positive('NOTION_RATE_LIMIT_BURST must be greater than 0')
    .default(10),
  TRUST_PROXY: z.string().default('false'),
  PRIVACY_URL: z.string().optional(),
  TERMS_URL: z.string().optional(),
  CONNECTIONS_SESSION_TTL_SECONDS: seconds('CONNECTIONS_SESSION_TTL_SECONDS', 1800),
  RATE_LIMIT_REGISTER_PER_HOUR: z.coerce
    .number({ error: 'RATE_LIMIT_REGISTER_PER_HOUR must be a number' })
    .int('RATE_LIMIT_REGISTER_PER_HOUR must be a whole number')
    .positive('RATE_LIMIT_REGISTER_PER_HOUR must be greater than 0')
    .default(300),
  RATE_LIMIT_AUTHORIZE_PER_MINUTE: count('RATE_LIMIT_AUTHORIZE_PER_MINUTE', 300),
  RATE_LIMIT_TOKEN_PER_MINUTE: count('RATE_LIMIT_TOKEN_PER_MINUTE', 600),
  RATE_LIMIT_MCP_PER_MINUTE: count('RATE_LIMIT_MCP_PER_MINUTE', 600),
  MAX_CLIENTS: count('MAX_CLIENTS', 10_000),
  CLIENT_IDLE_DAYS: count('CLIENT_IDLE_DAYS', 30),
  ACTIVITY_RETENTION_DAYS: count('ACTIVITY_RETENTION_DAYS', 30),
  METRICS_TOKEN: z.string().optional(),
  TOOLSETS_DEFAULT: z.string().optional(),
  TOOLSETS_MAX: z.string().optional(),
  LOCKDOWN_DEFAULT: z.enum(['true', 'false'], { error: 'LOCKDOWN_DEFAULT must be true or false' }).default('false'),
  // OpenTelemetry's standard variables (tracingConfig below reads and checks them).
  OTEL_SDK_DISABLED: z.string().optional(),
  OTEL_TRACES_EXPORTER: z.string().optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.string().optional(),
  OTEL_EXPORTER_OTLP_PROTOCOL: z.string().optional(),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: z.string().optional(),
  OTEL_EXPORTER_OTLP_HEADERS: z.string().optional(),
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: z.string().optional(),
  OTEL_SERVICE_NAME: z.string().optional(),
  OTEL_RESOURCE_ATTRIBUTES: z.string().optional(),
  OTEL_TRACES_SAMPLER: z.string().optional(),
  OTEL_TRACES_SAMPLER_ARG: z.string().optional(),
});

export interface Config {
  /** Public origin without trailing slash; also our OAuth issuer (RFC 8414 §2). */
  readonly baseUrl: string;
  /** The protected resource users paste into Claude: `${baseUrl}/mcp`. */
  readonly resource: string;
  readonly secureCookies: boolean;
  readonly host: string;
  readonly port: number;
  /** Lower-case `Host` header values accepted on /mcp. */
  readonly allowedHosts: readonly string[];
  readonly dataDir: string;
  /** The shared Redis store for several instances; null uses the embedded SQLite store in dataDir. */
  readonly redisUrl: string | null;
  readonly logLevel: string;
  readonly sessionSecret: string;
  /** Older secrets (SESSION_SECRET_PREVIOUS) still accepted for reading and verifying, newest first. */
  readonly sessionSecretPrevious: readonly string[];
  readonly notion: {
    readonly clientId: string;
    readonly clientSecret: string;
    readonly apiBaseUrl: string;
    readonly authorizeUrl: string;
    readonly version: string;
    readonly timeoutMs: number;
    /** Per-connection request budget we keep to (Notion allows about 3/s on average). */
    readonly ratePerSecond: number;
    readonly burst: number;
  };
  /** Express `trust proxy`: false, true, a hop count, or a list of proxy addresses/subnets. */
  readonly trustProxy: boolean | number | string;
  readonly rateLimits: {
    readonly registerPerHour: number;
    /** Per IP: GET and POST /authorize and GET /oauth/callback, each counted apart. */
    readonly authorizePerMinute: number;
    /** Per IP: POST /token and POST /revoke, each counted apart. */
    readonly tokenPerMinute: number;
    /** Per grant (connection): POST /mcp. */
    readonly mcpPerMinute: number;
  };
  /** /register refuses new clients once the store holds this many. */
  readonly maxClients: number;
  /** A registered client with no grant is deleted this long after it registered. */
  readonly clientIdleMs: number;
  /** The sweep removes activity log entries older than this. */
  readonly activityRetentionMs: number;
  /** When set, GET /metrics requires `Authorization: Bearer <metricsToken>`. */
  readonly metricsToken: string | null;
  /** OpenTelemetry traces (the OTEL_* variables); null when off, the default. */
  readonly tracing: TracingConfig | null;
  /**
   * Toolsets (oauth/scopes.ts): `max` are the only ones offered on the consent page, granted and
   * listed, for every connection, older ones too; `default` are ticked on the consent page when
   * the app names none. `lockdown` is the lockdown box's initial state, and the setting of
   * connections made before it existed.
   */
  readonly toolsets: { readonly default: readonly Toolset[]; readonly max: readonly Toolset[]; readonly lockdown: boolean };
  /** Where /privacy and /terms send people; null shows the built-in default page. */
  readonly links: { readonly privacyUrl: string | null; readonly termsUrl: string | null };
  readonly ttl: {
    readonly accessTokenS: number;
    readonly refreshTokenIdleS: number;
    readonly authCodeS: number;
    readonly flowS: number;
    /** Sign-in session of the /connections page. */
    readonly connectionsSessionS: number;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

const REQUIRED = new Set(['NOTION_OAUTH_CLIENT_ID', 'NOTION_OAUTH_CLIENT_SECRET', 'BASE_URL', 'SESSION_SECRET']);

/**
 * Optional variables set to an empty string (`PORT=` in a .env template) count as unset, so they
 * take their default; an empty PORT would otherwise coerce to 0 and listen on a random port.
 */
function withoutBlankOptionals(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(env)) {
    if (!REQUIRED.has(key) && key in EnvSchema.shape && value !== undefined && value.trim() === '') continue;
    out[key] = value;
  }
  return out;
}

/** Reads and validates the environment once; lists every problem at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input = withoutBlankOptionals(env);
  const parsed = EnvSchema.safeParse(input);
  const problems: string[] = parsed.success ? [] : parsed.error.issues.map((issue) => issue.message);
  // The checks below also run when the schema failed, so a missing variable does not hide an invalid one.
  const text = (name: keyof typeof EnvSchema.shape, fallback?: string): string | undefined => {
    const value = input[name] ?? fallback;
    return typeof value === 'string' ? value : undefined;
  };

  const baseUrl = text('BASE_URL');
  const base = baseUrl === undefined ? undefined : checkOrigin('BASE_URL', baseUrl, problems, true);
  const apiBase = checkOrigin('NOTION_API_BASE_URL', text('NOTION_API_BASE_URL', 'https://api.notion.com')!, problems, false);
  checkUrl('NOTION_OAUTH_AUTHORIZE_URL', text('NOTION_OAUTH_AUTHORIZE_URL', 'https://api.notion.com/v1/oauth/authorize')!, problems);
  for (const name of ['PRIVACY_URL', 'TERMS_URL'] as const) {
    const value = text(name);
    if (value !== undefined) checkUrl(name, value, problems);
  }
  const sessionSecret = text('SESSION_SECRET');
  if (sessionSecret !== undefined && !hasEnoughEntropy(sessionSecret)) {
    problems.push('SESSION_SECRET must hold at least 32 bytes of entropy: generate one with `openssl rand -hex 32`');
  }
  const previousSecrets = (text('SESSION_SECRET_PREVIOUS') ?? '').split(',').map((v) => v.trim()).filter(Boolean);
  previousSecrets.forEach((secret, i) => {
    if (!hasEnoughEntropy(secret)) {
      problems.push(
        `SESSION_SECRET_PREVIOUS entry ${i + 1} must hold at least 32 bytes of entropy: list the older SESSION_SECRET values exactly, comma-separated`,
      );
    }
  });
  const redisUrl = text('REDIS_URL');
  if (
    redisUrl !== undefined &&
    !parseSentinelUrl(redisUrl) &&
    !parseClusterUrl(redisUrl) &&
    !/^rediss?:$/.test(URL.canParse(redisUrl) ? new URL(redisUrl).protocol : '')
  ) {
    problems.push(
      'REDIS_URL must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379/0, redis+sentinel://host:26379[,host:26379...]/<master name>, ' +
        'or for a Redis Cluster redis+cluster://host:6379[,host:6379...] (rediss+cluster:// with TLS)',
    );
  }
  const tracing = tracingConfig(text, problems);
  const toolsetsMax = toolsetList('TOOLSETS_MAX', text('TOOLSETS_MAX'), TOOLSETS, problems);
  const toolsetsDefault = toolsetList('TOOLSETS_DEFAULT', text('TOOLSETS_DEFAULT'), toolsetsMax, problems);
  const beyond = toolsetsDefault.filter((t) => !toolsetsMax.includes(t));
  if (beyond.length) problems.push(`TOOLSETS_DEFAULT names ${beyond.join(', ')}, which TOOLSETS_MAX leaves out: add it to TOOLSETS_MAX or drop it`);
  if (!parsed.success || problems.length > 0 || !base || !apiBase) throw new ConfigError(problems);
  const e = parsed.data;

  const baseHost = new URL(base).host.toLowerCase();
  const extraHosts = e.ADDITIONAL_ALLOWED_HOSTS.split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);

  return Object.freeze({
    baseUrl: base,
    resource: `${base}/mcp`,
    secureCookies: base.startsWith('https://'),
    host: e.HOST,
    port: e.PORT,
    allowedHosts: Object.freeze([...new Set([baseHost, ...extraHosts])]),
    dataDir: e.DATA_DIR,
    redisUrl: e.REDIS_URL ?? null,
    logLevel: e.LOG_LEVEL,
    sessionSecret: e.SESSION_SECRET,
    sessionSecretPrevious: Object.freeze(previousSecrets),
    notion: Object.freeze({
      clientId: e.NOTION_OAUTH_CLIENT_ID,
      clientSecret: e.NOTION_OAUTH_CLIENT_SECRET,
      apiBaseUrl: apiBase,
      authorizeUrl: e.NOTION_OAUTH_AUTHORIZE_URL,
      version: NOTION_VERSION,
      timeoutMs: e.NOTION_TIMEOUT_SECONDS * 1000,
      ratePerSecond: e.NOTION_RATE_LIMIT_PER_SECOND,
      burst: e.NOTION_RATE_LIMIT_BURST,
    }),
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    rateLimits: Object.freeze({
      registerPerHour: e.RATE_LIMIT_REGISTER_PER_HOUR,
      authorizePerMinute: e.RATE_LIMIT_AUTHORIZE_PER_MINUTE,
      tokenPerMinute: e.RATE_LIMIT_TOKEN_PER_MINUTE,
      mcpPerMinute: e.RATE_LIMIT_MCP_PER_MINUTE,
    }),
    maxClients: e.MAX_CLIENTS,
    clientIdleMs: e.CLIENT_IDLE_DAYS * 86_400_000,
    activityRetentionMs: e.ACTIVITY_RETENTION_DAYS * 86_400_000,
    metricsToken: e.METRICS_TOKEN ?? null,
    tracing,
    toolsets: Object.freeze({ default: toolsetsDefault, max: toolsetsMax, lockdown: e.LOCKDOWN_DEFAULT === 'true' }),
    links: Object.freeze({ privacyUrl: e.PRIVACY_URL ?? null, termsUrl: e.TERMS_URL ?? null }),
    ttl: Object.freeze({
      accessTokenS: e.ACCESS_TOKEN_TTL_SECONDS,
      refreshTokenIdleS: e.REFRESH_TOKEN_IDLE_TTL_SECONDS,
      authCodeS: e.AUTH_CODE_TTL_SECONDS,
      flowS: e.AUTH_FLOW_TTL_SECONDS,
      connectionsSessionS: e.CONNECTIONS_SESSION_TTL_SECONDS,
    }),
  });
}

const SAMPLERS: readonly Sampler[] = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'];

/**
 * Tracing is on when OTEL_TRACES_EXPORTER is `otlp`, or when it is unset and an OTLP endpoint is
 * set; OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none turn it off whatever else is set. Every
 * variable that is set is checked even when tracing is off, so a typo shows before it matters.
 */
function tracingConfig(text: (name: keyof typeof EnvSchema.shape) => string | undefined, problems: string[]): TracingConfig | null {
  const disabled = text('OTEL_SDK_DISABLED')?.trim().toLowerCase();
  if (disabled !== undefined && disabled !== 'true' && disabled !== 'false') problems.push('OTEL_SDK_DISABLED must be true or false');
  const exporters = text('OTEL_TRACES_EXPORTER')?.split(',').map((v) => v.trim().toLowerCase()).filter(Boolean);
  if (exporters?.some((v) => v !== 'otlp' && v !== 'none')) {
    problems.push('OTEL_TRACES_EXPORTER must be otlp or none: traces are exported over OTLP/HTTP only');
  }
  for (const name of ['OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'] as const) {
    const protocol = text(name)?.trim();
    if (protocol !== undefined && protocol !== 'http/json') {
      problems.push(`${name} must be http/json: traces are sent as OTLP/HTTP JSON, which every OTLP collector accepts on port 4318`);
    }
  }
  const base = text('OTEL_EXPORTER_OTLP_ENDPOINT')?.trim();
  const traces = text('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT')?.trim();
  // The signal's own URL is used as it is; the general one gets the traces path (OTLP exporter spec).
  const endpoint = traces ?? (base !== undefined ? `${base.replace(/\/+$/, '')}/v1/traces` : 'http://localhost:4318/v1/traces');
  const endpointName = traces !== undefined ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT';
  if (!/^https?:$/.test(URL.canParse(endpoint) ? new URL(endpoint).protocol : '')) {
    problems.push(`${endpointName} must be an http(s) URL, e.g. http://otel-collector:4318`);
  }
  const headers = { ...keyValues('OTEL_EXPORTER_OTLP_HEADERS', text('OTEL_EXPORTER_OTLP_HEADERS'), problems), ...keyValues('OTEL_EXPORTER_OTLP_TRACES_HEADERS', text('OTEL_EXPORTER_OTLP_TRACES_HEADERS'), problems) };
  const resourceAttributes = keyValues('OTEL_RESOURCE_ATTRIBUTES', text('OTEL_RESOURCE_ATTRIBUTES'), problems);
  const samplerName = (text('OTEL_TRACES_SAMPLER')?.trim().toLowerCase() ?? 'parentbased_always_on') as Sampler;
  if (!SAMPLERS.includes(samplerName)) problems.push(`OTEL_TRACES_SAMPLER must be one of ${SAMPLERS.join(', ')}`);
  const arg = text('OTEL_TRACES_SAMPLER_ARG')?.trim();
  const ratio = arg === undefined ? 1 : Number(arg);
  if (arg !== undefined && samplerName.endsWith('traceidratio') && !(arg !== '' && ratio >= 0 && ratio <= 1)) {
    problems.push('OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1 (the share of traces kept)');
  }
  const on = disabled !== 'true' && (exporters === undefined ? base !== undefined || traces !== undefined : exporters.includes('otlp') && !exporters.includes('none'));
  if (!on) return null;
  const serviceName = text('OTEL_SERVICE_NAME')?.trim() || resourceAttributes['service.name'] || 'notion-mcp-remote';
  return Object.freeze({ endpoint, headers: Object.freeze(headers), serviceName, resourceAttributes: Object.freeze(resourceAttributes), sampler: samplerName, ratio });
}

/** `key=value,key2=value2` with percent-encoded values (W3C Baggage form, as OTEL_* lists use); a problem names the variable, never a value. */
function keyValues(name: string, value: string | undefined, problems: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (value === undefined) return out;
  for (const pair of value.split(',')) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    const key = eq > 0 ? pair.slice(0, eq).trim() : '';
    let decoded: string | undefined;
    try {
      decoded = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      decoded = undefined;
    }
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(key) || decoded === undefined) {
      problems.push(`${name} must be a comma-separated list of key=value pairs with percent-encoded values`);
      return {};
    }
    out[key] = decoded;
  }
  return out;
}

/** A comma-separated list of toolsets, in TOOLSETS order; unset means `fallback`. */
function toolsetList(name: string, value: string | undefined, fallback: readonly Toolset[], problems: string[]): readonly Toolset[] {
  if (value === undefined) return fallback;
  const names = value.split(',').map((v) => v.trim().toLowerCase()).filter(Boolean);
  const unknown = names.filter((n) => !(TOOLSETS as readonly string[]).includes(n));
  if (unknown.length || names.length === 0) {
    problems.push(`${name} must be a comma-separated list of at least one of ${TOOLSETS.join(', ')}${unknown.length ? ` (unknown: ${unknown.join(', ')})` : ''}`);
    return fallback;
  }
  return Object.freeze(TOOLSETS.filter((t) => names.includes(t)));
}

function parseTrustProxy(value: string): boolean | number | string {
  const v = value.trim().toLowerCase();
  if (v === '' || v === 'false' || v === '0') return false;
  if (v === 'true') return true;
  if (/^\d+$/.test(v)) return Number(v);
  return value.trim();
}

/** Returns the origin without trailing slash, or records a problem. */
function checkOrigin(name: string, value: string, problems: string[], loopbackOnlyHttp: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push(`${name} is not a URL: set it to an origin such as https://mcp.example.com`);
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    problems.push(`${name} must start with https://`);
    return undefined;
  }
  if (url.pathname !== '/' || url.search || url.hash || url.username || url.password) {
    problems.push(`${name} must be a bare origin without path, query or credentials, e.g. https://mcp.example.com`);
    return undefined;
  }
  if (loopbackOnlyHttp && url.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname)) {
    problems.push(`${name} must use https:// (http:// is only allowed for 127.0.0.1, localhost or [::1])`);
    return undefined;
  }
  return url.origin;
}

function checkUrl(name: string, value: string, problems: string[]): void {
  try {
    const url = new URL(value);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('scheme');
  } catch {
    problems.push(`${name} must be an http(s) URL`);
  }
}

/**
 * Estimates entropy from length and alphabet; rejects short or repetitive secrets. A secret that
 * repeats a block (`abcdefghijklmnop` four times) counts only as long as that block.
 */
export function hasEnoughEntropy(secret: string): boolean {
  if (new Set(secret).size < 12) return false;
  const bitsPerChar = /^[0-9a-fA-F]+$/.test(secret) ? 4 : 6;
  // Only a block repeated at least twice counts: a random secret often ends the way it starts.
  const period = smallestPeriod(secret);
  const effectiveLength = period * 2 <= secret.length ? period : secret.length;
  return effectiveLength * bitsPerChar >= 256;
}

/** Length of the shortest block whose repetition spells `s` (KMP failure function). */
function smallestPeriod(s: string): number {
  const fail = new Array<number>(s.length).fill(0);
  for (let i = 1, k = 0; i < s.length; i++) {
    while (k > 0 && s[i] !== s[k]) k = fail[k - 1]!;
    if (s[i] === s[k]) k++;
    fail[i] = k;
  }
  return s.length - (fail[s.length - 1] ?? 0);
}

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || hostname === '::1';
}
