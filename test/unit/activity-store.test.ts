/**
 * The activity log in both stores: a real SQLite file and a real redis-server. Entries come back
 * newest first and paged, a grant's log is capped, dies with its grant (never outlives it, even
 * for entries written after the delete), and the sweep removes entries older than the retention.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { randomSecret, sha256 } from '../../src/lib/crypto.js';
import { bucketOf, RedisStore } from '../../src/store/redis.js';
import { SQLITE_FILE, SqliteStore } from '../../src/store/sqlite.js';
import { ACTIVITY_MAX_PER_GRANT, type ActivityEntry, type GrantRecord, type Store } from '../../src/store/types.js';
import { activityId } from '../../src/tools/activity.js';
import { type RedisServer, startRedis } from '../helpers/redis.js';

const T0 = 1_700_000_000_000;
const DAY = 86_400_000;

interface Backend {
  store: Store;
  /** How many entries of `grantId` the backing data holds, read around the store. */
  rawCount(grantId: string): Promise<number>;
  dispose(): Promise<void>;
}

let redis: RedisServer;
let admin: Redis;
beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
});
afterAll(async () => {
  await admin?.quit();
  await redis?.dispose();
});

const backends: Record<string, () => Promise<Backend>> = {
  sqlite: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nmr-activity-'));
    const store = SqliteStore.open(dir, 'check');
    return {
      store,
      rawCount: async (grantId) => {
        const db = new Database(join(dir, SQLITE_FILE), { readonly: true });
        try {
          // One row per grant per batch, holding `n` entries.
          return (db.prepare('SELECT COALESCE(SUM(n), 0) AS n FROM activity WHERE grant_id = ?').get(grantId) as { n: number }).n;
        } finally {
          db.close();
        }
      },
      dispose: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  redis: async () => {
    const prefix = `a${randomSecret(6)}:`;
    const store = await RedisStore.open(redis.url, 'check', { prefix });
    return {
      store,
      // The log is one sorted set in the grant's bucket, next to the grant's hash.
      rawCount: (grantId) => admin.zcard(`${prefix}{${bucketOf(grantId)}}:activity:${grantId}`),
      dispose: async () => {
        await store.close();
        const keys = await admin.keys(`${prefix}*`);
        if (keys.length) await admin.del(...keys);
      },
    };
  },
};

function grant(): GrantRecord {
  return {
    id: `grant_${randomSecret(8)}`,
    clientId: 'client_x',
    scope: 'notion:read notion:write',
    resource: 'https://mcp.example.com/mcp',
    notionUserId: 'user-1',
    notionWorkspaceId: 'ws-1',
    info: {},
    sealedNotion: 'sealed.x',
    createdAt: T0,
    lastUsedAt: null,
  };
}

const PAGE = '2f1e0c8a-5b3d-4e6f-8a9b-0c1d2e3f4a5b';

function entry(grantId: string, at: number, tool = 'fetch'): ActivityEntry {
  return {
    id: activityId(at),
    grantId,
    at,
    tool,
    write: tool === 'trash',
    outcome: 'ok',
    objects: [{ id: PAGE, title: 'Roadmap', ...(tool === 'trash' ? { trashed: 'page' as const } : {}) }],
  };
}

for (const [name, make] of Object.entries(backends)) {
  describe(`activity log: ${name}`, () => {
    let b: Backend;
    let g: GrantRecord;
    beforeEach(async () => {
      b = await make();
      g = grant();
      // A code that stays live, so the sweep keeps the grant.
      await b.store.createGrant(g, {
        hash: sha256(randomSecret()),
        grantId: g.id,
        clientId: 'client_x',
        redirectUri: 'https://claude.ai/api/mcp/auth_callback',
        codeChallenge: 'c',
        resource: g.resource,
        scope: g.scope,
        wrappedKey: 'kid.x',
        expiresAt: T0 + 1000 * DAY,
        usedAt: null,
        answer: null,
      });
    });
    afterEach(() => b.dispose());

    it('lists entries newest first, pages with an entry id, and finds one by id', async () => {
      const written = Array.from({ length: 25 }, (_, i) => entry(g.id, T0 + i * 1000, i === 3 ? 'trash' : 'fetch'));
      // Two batches, out of order: the order comes from the ids.
      await b.store.appendActivity(written.slice(10));
      await b.store.appendActivity(written.slice(0, 10));
      const first = await b.store.listActivity(g.id, 20);
      expect(first.map((e) => e.id)).toEqual(written.slice(5).reverse().map((e) => e.id));
      expect(first[0]).toEqual(written[24]);
      const older = await b.store.listActivity(g.id, 20, first.at(-1)!.id);
      expect(older.map((e) => e.id)).toEqual(written.slice(0, 5).reverse().map((e) => e.id));
      expect(await b.store.listActivity(g.id, 20, older.at(-1)!.id)).toEqual([]);
      expect(await b.store.getActivity(g.id, written[3]!.id)).toEqual(written[3]);
      expect(await b.store.getActivity(g.id, activityId(T0))).toBeNull();
      expect(await b.store.getActivity('grant_other', written[3]!.id)).toBeNull();
    });

    it('keeps the newest ACTIVITY_MAX_PER_GRANT entries of a grant, and drops what is older (SQLite: in whole batches)', async () => {
      const written = Array.from({ length: ACTIVITY_MAX_PER_GRANT + 5 }, (_, i) => entry(g.id, T0 + i));
      await b.store.appendActivity(written.slice(0, 3));
      await b.store.appendActivity(written.slice(3, 10));
      await b.store.appendActivity(written.slice(10));
      // The first batch (3) goes whole; the second (7) holds entries of the newest 2,000, so it stays.
      const kept = name === 'sqlite' ? ACTIVITY_MAX_PER_GRANT + 2 : ACTIVITY_MAX_PER_GRANT;
      expect(await b.rawCount(g.id)).toBe(kept);
      const all = await b.store.listActivity(g.id, ACTIVITY_MAX_PER_GRANT + 10);
      expect(all).toHaveLength(kept);
      expect(all[0]!.id).toBe(written.at(-1)!.id);
      expect(all.at(-1)!.id).toBe(written[ACTIVITY_MAX_PER_GRANT + 5 - kept]!.id);
      // Paging across the batches.
      const page = await b.store.listActivity(g.id, 4, written[9]!.id);
      expect(page.map((e) => e.id)).toEqual([written[8]!.id, written[7]!.id, written[6]!.id, written[5]!.id]);
      expect(await b.store.getActivity(g.id, written[2]!.id)).toBeNull();
      expect(await b.store.getActivity(g.id, written[6]!.id)).toEqual(written[6]);
    });

    it('deletes the log with its grant, and drops entries written for a grant that is gone', async () => {
      await b.store.appendActivity([entry(g.id, T0)]);
      expect(await b.rawCount(g.id)).toBe(1);
      await b.store.deleteGrant(g.id);
      expect(await b.rawCount(g.id)).toBe(0);
      // Entries still buffered when the grant was deleted.
      await b.store.appendActivity([entry(g.id, T0 + 1), entry('grant_never', T0 + 2)]);
      expect(await b.rawCount(g.id)).toBe(0);
      expect(await b.rawCount('grant_never')).toBe(0);
    });

    it('the sweep removes entries older than the cutoff and keeps the rest and the grant', async () => {
      const old = entry(g.id, T0);
      const edge = entry(g.id, T0 + 30 * DAY);
      const recent = entry(g.id, T0 + 31 * DAY);
      // Three batches, as the flushes of three seconds.
      for (const e of [old, edge, recent]) await b.store.appendActivity([e]);
      const now = T0 + 60 * DAY;
      // Without a cutoff nothing of the log goes.
      await b.store.sweep(now);
      expect(await b.rawCount(g.id)).toBe(3);
      expect(await b.store.sweep(now, undefined, edge.at)).toBe(1);
      expect((await b.store.listActivity(g.id, 10)).map((e) => e.id)).toEqual([recent.id, edge.id]);
      expect(await b.store.getGrant(g.id)).not.toBeNull();
    });
  });
}

describe('activity log: Redis key layout', () => {
  it('puts a grant’s log in the grant’s bucket, so one script on one slot appends to it', async () => {
    const prefix = `k${randomSecret(6)}:`;
    const store = await RedisStore.open(redis.url, 'check', { prefix });
    try {
      const g = grant();
      await store.createGrant(g, {
        hash: sha256(randomSecret()), grantId: g.id, clientId: 'c', redirectUri: 'r', codeChallenge: 'c', resource: 'r', scope: 's',
        wrappedKey: 'k', expiresAt: Date.now() + DAY, usedAt: null, answer: null,
      });
      await store.appendActivity([entry(g.id, T0)]);
      const keys = await admin.keys(`${prefix}*activity*`);
      expect(keys).toEqual([`${prefix}{${bucketOf(g.id)}}:activity:${g.id}`]);
      expect(await admin.type(keys[0]!)).toBe('zset');
    } finally {
      await store.close();
      const keys = await admin.keys(`${prefix}*`);
      if (keys.length) await admin.del(...keys);
    }
  });
});
