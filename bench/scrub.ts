/**
 * What the SQLite store's scrub (wal_checkpoint(TRUNCATE) after a write that erases a credential,
 * see SqliteStore.scrub) costs per write: the same small transaction on a 20,000-row table in WAL
 * mode with synchronous=FULL and secure_delete, with and without the checkpoint, alternating.
 *
 *   npx tsx bench/scrub.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

const dir = mkdtempSync(join(tmpdir(), 'nmr-scrub-'));
const db = new Database(join(dir, 'bench.db'));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('secure_delete = ON');
db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)');
const insert = db.prepare('INSERT INTO t VALUES (?, ?)');
const remove = db.prepare('DELETE FROM t WHERE k = ?');
db.transaction(() => {
  for (let i = 0; i < 20_000; i++) insert.run(`k${i}`, 'x'.repeat(300));
})();

const N = 500;
let next = 0;
const write = db.transaction(() => {
  insert.run(`n${next}`, 'y'.repeat(300));
  remove.run(`k${next++}`);
});
function round(scrub: boolean): number {
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    write();
    if (scrub) db.pragma('wal_checkpoint(TRUNCATE)');
  }
  return (performance.now() - t0) / N;
}
for (let r = 0; r < 3; r++) {
  console.log(`round ${r + 1}: ${round(false).toFixed(2)} ms per write without, ${round(true).toFixed(2)} ms with the checkpoint`);
}
db.close();
rmSync(dir, { recursive: true, force: true });
