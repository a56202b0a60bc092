#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Config, ConfigError, hasEnoughEntropy, loadConfig } from './config.js';
import { Keyring } from './lib/crypto.js';
import { RedisStore } from './store/redis.js';
import { SQLITE_FILE, SqliteStore, StoreOpenError } from './store/sqlite.js';
import type { GrantRecord, Store } from './store/types.js';

/**
 * Operator tooling: `notion-mcp-remote-admin <command>` (or `npm run admin -- <command>`).
 * Reads .env and the configuration exactly like the server and opens the configured store
 * (SQLite in DATA_DIR, or Redis with REDIS_URL). Never prints a token, code or wrapped key.
 * Exit codes: 0 done, 1 failed (configuration, store, nothing found), 2 usage error.
 */

const NAME = 'notion-mcp-remote-admin';

const USAGE = `usage: ${NAME} <command>

commands:
  grants [--json]                 list every connection (grant): id, Notion user, workspace,
                                  client, created, last used
  revoke <grantId>                delete one grant with all its tokens and codes
  revoke --user <notionUserId>    delete every grant of one Notion user
  revoke --workspace <id>         delete every grant of one Notion workspace
  stats [--json]                  registered clients, grants, live tokens, pending flows
  activity [--grant <id>] [--since <iso time>]
                                  the activity log as JSON lines, each connection's oldest first:
                                  time, grant, tool, read or write, outcome, Notion object ids
  rotate-secret                   print a new SESSION_SECRET and the environment lines to rotate to it

It reads .env in the current directory and the same variables as the server.
`;

const UPSTREAM_NOTE =
  'The Notion token of a revoked connection is NOT revoked at Notion: it is sealed under a key that ' +
  "only the connection's own live tokens can open, and this tool holds none of them. To remove the " +
  "pages' access too, the user opens Notion → Settings → Connections and removes the integration.";

class UsageError extends Error {}

type Command =
  | { name: 'help' }
  | { name: 'grants'; json: boolean }
  | { name: 'stats'; json: boolean }
  | { name: 'activity'; grant?: string; since?: number }
  | { name: 'rotate-secret' }
  | { name: 'revoke'; by: 'grant' | 'user' | 'workspace'; id: string };

function parseArgs(argv: readonly string[]): Command {
  const [cmd, ...rest] = argv;
  const jsonFlag = (): boolean => {
    if (rest.length === 0) return false;
    if (rest.length === 1 && rest[0] === '--json') return true;
    throw new UsageError(`${cmd}: unexpected argument ${JSON.stringify(rest.find((a) => a !== '--json') ?? rest[1])}`);
  };
  switch (cmd) {
    case undefined:
      throw new UsageError('a command is required');
    case 'help':
    case '--help':
    case '-h':
      return { name: 'help' };
    case 'grants':
      return { name: 'grants', json: jsonFlag() };
    case 'stats':
      return { name: 'stats', json: jsonFlag() };
    case 'activity': {
      const command: Command = { name: 'activity' };
      for (let i = 0; i < rest.length; i += 2) {
        const [flag, value] = [rest[i], rest[i + 1]];
        if ((flag !== '--grant' && flag !== '--since') || !value || value.startsWith('-')) {
          throw new UsageError(`activity: expected --grant <id> or --since <iso time>, got ${JSON.stringify(flag)}`);
        }
        if (flag === '--grant') command.grant = value;
        else if (Number.isNaN((command.since = Date.parse(value)))) throw new UsageError(`activity --since: not a time: ${JSON.stringify(value)}`);
      }
      return command;
    }
    case 'rotate-secret':
      if (rest.length > 0) throw new UsageError('rotate-secret takes no arguments');
      return { name: 'rotate-secret' };
    case 'revoke': {
      const [first, second, ...extra] = rest;
      if (first === undefined) throw new UsageError('revoke needs a grant id, --user <notionUserId> or --workspace <workspaceId>');
      if (first === '--user' || first === '--workspace') {
        if (!second || second.startsWith('-')) throw new UsageError(`revoke ${first} needs an id`);
        if (extra.length > 0) throw new UsageError('revoke takes one selector');
        return { name: 'revoke', by: first === '--user' ? 'user' : 'workspace', id: second };
      }
      if (first.startsWith('-')) throw new UsageError(`revoke: unknown option ${first}`);
      if (second !== undefined) throw new UsageError('revoke takes one grant id');
      return { name: 'revoke', by: 'grant', id: first };
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(cmd)}`);
  }
}

/** Opens the configured store like the server does; refuses a DATA_DIR without a store in it. */
async function openStore(config: Config): Promise<Store> {
  const keyring = new Keyring(config.sessionSecret, config.sessionSecretPrevious);
  if (config.redisUrl) return RedisStore.open(config.redisUrl, keyring.checkValues());
  const file = join(resolve(config.dataDir), SQLITE_FILE);
  if (!existsSync(file)) {
    throw new StoreOpenError(`there is no store at ${file}: check DATA_DIR (run this where the server runs, with its .env)`);
  }
  return SqliteStore.open(config.dataDir, keyring.checkValues());
}

const when = (ms: number | null): string => (ms === null ? 'never' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'));
const named = (id: string | null, name: string | null | undefined): string =>
  id === null ? '-' : name ? `${id} (${name})` : id;

function describeGrant(g: GrantRecord): Record<string, string> {
  return {
    grant: g.id,
    notionUser: named(g.notionUserId, g.info.userName),
    workspace: named(g.notionWorkspaceId, g.info.workspaceName),
    client: g.info.clientName ?? '(unnamed)',
    created: when(g.createdAt),
    lastUsed: when(g.lastUsedAt),
  };
}

function table(rows: Record<string, string>[], headers: Record<string, string>): string {
  const keys = Object.keys(headers);
  const all = [headers, ...rows];
  const widths = keys.map((k) => Math.max(...all.map((r) => (r[k] ?? '').length)));
  return all.map((r) => keys.map((k, i) => (r[k] ?? '').padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

const out = (text: string) => process.stdout.write(text);

async function listGrants(store: Store, json: boolean): Promise<number> {
  const grants = await store.listGrants();
  if (json) {
    out(
      `${JSON.stringify(
        grants.map((g) => ({
          id: g.id,
          notionUserId: g.notionUserId,
          notionUserName: g.info.userName ?? null,
          notionWorkspaceId: g.notionWorkspaceId,
          workspaceName: g.info.workspaceName ?? null,
          clientId: g.clientId,
          clientName: g.info.clientName ?? null,
          scope: g.scope,
          createdAt: new Date(g.createdAt).toISOString(),
          lastUsedAt: g.lastUsedAt === null ? null : new Date(g.lastUsedAt).toISOString(),
        })),
        null,
        2,
      )}\n`,
    );
    return 0;
  }
  if (grants.length === 0) {
    out('no grants\n');
    return 0;
  }
  out(
    table(grants.map(describeGrant), {
      grant: 'GRANT',
      notionUser: 'NOTION USER',
      workspace: 'WORKSPACE',
      client: 'CLIENT',
      created: 'CREATED',
      lastUsed: 'LAST USED',
    }),
  );
  out(`${grants.length} grant${grants.length === 1 ? '' : 's'}\n`);
  return 0;
}

async function revoke(store: Store, by: 'grant' | 'user' | 'workspace', id: string): Promise<number> {
  let targets: GrantRecord[];
  if (by === 'grant') {
    const g = await store.getGrant(id);
    targets = g ? [g] : [];
  } else if (by === 'user') {
    targets = await store.listGrantsByUser(id);
  } else {
    targets = (await store.listGrants()).filter((g) => g.notionWorkspaceId === id);
  }
  if (targets.length === 0) {
    const what = by === 'grant' ? `grant ${id}` : by === 'user' ? `grants of Notion user ${id}` : `grants of workspace ${id}`;
    process.stderr.write(`${NAME}: no ${what} found; nothing was revoked\n`);
    return 1;
  }
  for (const g of targets) {
    await store.deleteGrant(g.id);
    const d = describeGrant(g);
    out(`revoked grant ${g.id}: Notion user ${d.notionUser}, workspace ${d.workspace}, client ${d.client}\n`);
  }
  out(`${targets.length} grant${targets.length === 1 ? '' : 's'} revoked; their tokens no longer work.\n${UPSTREAM_NOTE}\n`);
  return 0;
}

async function stats(store: Store, json: boolean): Promise<number> {
  const s = await store.stats(Date.now());
  if (json) {
    out(`${JSON.stringify(s, null, 2)}\n`);
    return 0;
  }
  out(`clients        ${s.clients}\ngrants         ${s.grants}\nlive tokens    ${s.liveTokens}\npending flows  ${s.pendingFlows}\n`);
  return 0;
}

/** Entries read per store call while exporting. */
const EXPORT_PAGE = 500;

/** One JSON line per entry; entries hold no content, token or argument value but object ids and titles. */
async function exportActivity(store: Store, grantId: string | undefined, since = 0): Promise<number> {
  const grants = grantId === undefined ? (await store.listGrants()).map((g) => g.id) : [grantId];
  if (grantId !== undefined && !(await store.getGrant(grantId))) {
    process.stderr.write(`${NAME}: no grant ${grantId} found\n`);
    return 1;
  }
  for (const id of grants) {
    const entries = [];
    for (let before: string | undefined; ; ) {
      const page = (await store.listActivity(id, EXPORT_PAGE, before)).filter((e) => e.at >= since);
      entries.push(...page);
      if (page.length < EXPORT_PAGE) break;
      before = page.at(-1)!.id;
    }
    for (const e of entries.reverse()) {
      const line = { at: new Date(e.at).toISOString(), grant: e.grantId, id: e.id, tool: e.tool, write: e.write, outcome: e.outcome, objects: e.objects, ...(e.undoes ? { undoes: e.undoes } : {}) };
      out(`${JSON.stringify(line)}\n`);
    }
  }
  return 0;
}

function newSecret(): string {
  for (;;) {
    const secret = randomBytes(32).toString('hex');
    if (hasEnoughEntropy(secret)) return secret;
  }
}

function rotateSecret(config: Config): number {
  const next = newSecret();
  const previous = [...new Set([config.sessionSecret, ...config.sessionSecretPrevious])].filter((s) => s !== next);
  const keepS = Math.max(config.ttl.refreshTokenIdleS, config.ttl.accessTokenS);
  const days = (s: number) => `${Math.round((s / 86400) * 10) / 10} days`;
  const longer =
    config.ttl.accessTokenS > config.ttl.refreshTokenIdleS
      ? ` (ACCESS_TOKEN_TTL_SECONDS is longer here, so wait ${keepS} s, ${days(keepS)})`
      : '';
  out(`# A new SESSION_SECRET. Set these two lines in the environment (.env) of every instance, then restart:

SESSION_SECRET=${next}
SESSION_SECRET_PREVIOUS=${previous.join(',')}

# After the restart new tokens, codes, CSRF tokens and sign-in cookies use the new secret, and the
# store records it. Everything made under a secret listed in SESSION_SECRET_PREVIOUS keeps working:
# old access tokens until they expire, old refresh tokens until their next use (which issues tokens
# under the new secret).
#
# Drop the old secret from SESSION_SECRET_PREVIOUS once REFRESH_TOKEN_IDLE_TTL_SECONDS
# (${config.ttl.refreshTokenIdleS} s, ${days(config.ttl.refreshTokenIdleS)}) have passed since the restart${longer}.
# By then every token made under it has expired or been replaced (a connection unused that long has
# expired anyway). Dropping it earlier disconnects every connection not refreshed since the rotation.
#
# With several instances, restart them all together: an instance still on the old secret cannot
# open tokens issued by a rotated one, and refuses to start once the store has recorded the new one.
#
# This output contains secrets: do not paste it into tickets, chats or logs.
`);
  return 0;
}

async function run(argv: readonly string[]): Promise<number> {
  let command: Command;
  try {
    command = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${NAME}: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (command.name === 'help') {
    out(USAGE);
    return 0;
  }
  try {
    if (existsSync('.env')) process.loadEnvFile('.env');
    const config = loadConfig(process.env);
    if (command.name === 'rotate-secret') return rotateSecret(config);
    const store = await openStore(config);
    try {
      if (command.name === 'grants') return await listGrants(store, command.json);
      if (command.name === 'stats') return await stats(store, command.json);
      if (command.name === 'activity') return await exportActivity(store, command.grant, command.since);
      return await revoke(store, command.by, command.id);
    } finally {
      await store.close();
    }
  } catch (err) {
    // One readable line for operator mistakes; never a token.
    if (err instanceof ConfigError || err instanceof StoreOpenError) {
      process.stderr.write(`${NAME}: ${err.message}\n`);
    } else {
      process.stderr.write(`${NAME}: failed: ${(err as Error).message ?? String(err)}\n`);
    }
    return 1;
  }
}

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${NAME}: failed: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
