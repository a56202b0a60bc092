/**
 * Event-loop stall during the SQLite sweep: `tsx bench/sweep.ts [grants]` (default 100,000).
 * Fills a temporary store with that many grants whose access and refresh tokens have all expired,
 * plus as many expired flows, then sweeps while a 1 ms timer watches the loop, and prints the
 * longest gap between its ticks and the sweep's wall time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SQLITE_FILE, SqliteStore } from '../src/store/sqlite.js';

const N = Number(process.argv[2] ?? 100_000);
const dir = mkdtempSync(join(tmpdir(), 'nmr-sweep-'));
try {
  await SqliteStore.open(dir, 'bench').close();
  const db = new Database(join(dir, SQLITE_FILE));
  const grant = db.prepare(
    `INSERT INTO grants (id, client_id, scope, resource, notion_user_id, notion_workspace_id, info, sealed_notion, created_at, last_used_at)
     VALUES (?, 'c', 'notion:read', 'r', 'u', 'w', '{}', 'sealed', 0, NULL)`,
  );
  const token = db.prepare(`INSERT INTO tokens (hash, grant_id, kind, scope, wrapped_key, expires_at, created_at, replaced_at) VALUES (?, ?, ?, 's', 'k', 1, 0, NULL)`);
  const flow = db.prepare(`INSERT INTO flows (id, kind, data, expires_at) VALUES (?, 'consent', '{}', 1)`);
  db.transaction(() => {
    for (let i = 0; i < N; i++) {
      const id = `g${i}`;
      grant.run(id);
      token.run(`a${i}`, id, 'access');
      token.run(`r${i}`, id, 'refresh');
      flow.run(`f${i}`);
    }
  })();
  db.close();

  const store = SqliteStore.open(dir, 'bench');
  let last = performance.now();
  let maxGap = 0;
  const timer = setInterval(() => {
    const t = performance.now();
    maxGap = Math.max(maxGap, t - last);
    last = t;
  }, 1);
  const start = performance.now();
  last = start;
  const removed = await store.sweep(Date.now());
  const wall = performance.now() - start;
  clearInterval(timer);
  maxGap = Math.max(maxGap, performance.now() - last);
  await store.close();
  console.log(`grants ${N}: removed ${removed} rows in ${(wall / 1000).toFixed(2)} s; longest event-loop gap ${maxGap.toFixed(1)} ms`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
