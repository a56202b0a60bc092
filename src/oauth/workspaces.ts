import { dropOpen, dropSeal, newDropKeys, open, seal } from '../lib/crypto.js';
import type { WorkspaceCredentials } from '../notion/session.js';
import type { GrantRecord } from '../store/types.js';

/**
 * A connection's workspaces as Your connections changes them, without the grant key. All of it
 * lives in the grant's `info` (no store schema change):
 * - `addKey`: the grant's drop-box public key; `addKeySealed`: its private key, sealed under the
 *   grant key (lib/crypto.ts, dropSeal). Made with the grant, or on the first request of a grant
 *   made before.
 * - `pending`: JSON `[{id, name, sealed, remove?}]`, workspaces authorized on Your connections,
 *   their Notion credentials sealed to `addKey`. The next request of the grant (which has the key)
 *   merges them into the sealed list; one marked `remove` was removed before that: it is revoked
 *   at Notion then instead.
 * - `removed`: JSON `[id]`, workspaces removed on Your connections. Withheld from tools from the
 *   next request on (the removal moves the revocation mark), revoked at Notion and dropped from the
 *   sealed list by that request.
 * - `workspaces`: JSON `[{id, name}]` of the sealed list, for display (grants.ts workspacesInfo).
 */

/** Workspaces one connection may span at most: search asks each of them. */
export const MAX_WORKSPACES = 10;

export interface PendingWorkspace {
  id: string | null;
  name: string | null;
  sealed: string;
  /** Removed before it was merged: revoke it at Notion on the next request. */
  remove?: true;
}

function parseList<T>(raw: string | null | undefined): T[] {
  if (!raw) return [];
  try {
    const list = JSON.parse(raw) as unknown;
    return Array.isArray(list) ? (list as T[]) : [];
  } catch {
    return [];
  }
}

export const pendingOf = (grant: GrantRecord): PendingWorkspace[] => parseList<PendingWorkspace>(grant.info.pending);
export const removedOf = (grant: GrantRecord): string[] => parseList<string>(grant.info.removed);
const list = (items: readonly unknown[]): string | null => (items.length ? JSON.stringify(items) : null);

/** Whether the grant has changes for its next request to apply (or no drop box yet). */
export const needsReconcile = (grant: GrantRecord): boolean => !grant.info.addKey || !!grant.info.pending || !!grant.info.removed;

const dropAad = (grantId: string) => `${grantId}:drop`;
const pendingAad = (grantId: string) => `${grantId}:pending`;

/** A new grant's drop box: the info fields to store with it. */
export function dropBoxInfo(grantId: string, grantKey: Buffer): GrantRecord['info'] {
  const keys = newDropKeys();
  return { addKey: keys.publicKey, addKeySealed: seal(grantKey, keys.privateKey, dropAad(grantId)) };
}

/** The grant's info with `creds` added as pending (sealed to the grant's drop box). Throws when the grant has none yet. */
export function withPending(grant: GrantRecord, creds: WorkspaceCredentials): GrantRecord['info'] {
  if (!grant.info.addKey) throw new Error('grant has no drop box yet');
  const sealed = dropSeal(grant.info.addKey, JSON.stringify(creds), pendingAad(grant.id));
  // Authorizing a workspace again replaces its earlier pending entry, and takes back its removal.
  const pending = [...pendingOf(grant).filter((p) => p.remove || p.id !== creds.id), { id: creds.id, name: creds.name, sealed }];
  const removed = removedOf(grant).filter((id) => id !== creds.id);
  return { ...grant.info, pending: list(pending), removed: list(removed) };
}

/**
 * The grant's info with workspace `id` removed: a pending one is marked for revocation, a merged
 * one listed under `removed`. Null when the grant has no such workspace.
 */
export function withRemoved(grant: GrantRecord, id: string, current: readonly { id: string | null }[]): GrantRecord['info'] | null {
  const pending = pendingOf(grant);
  const p = pending.find((w) => !w.remove && w.id === id);
  if (p) return { ...grant.info, pending: list(pending.map((w) => (w === p ? { ...w, remove: true as const } : w))) };
  if (!current.some((w) => w.id === id) || removedOf(grant).includes(id)) return null;
  return { ...grant.info, removed: list([...removedOf(grant), id]) };
}

export interface Reconciled {
  /** The workspaces tools may use now. */
  workspaces: WorkspaceCredentials[];
  /** Notion access tokens to revoke upstream (removed workspaces). */
  revoke: string[];
  /** What to store: the sealed list and info, or null when nothing changed. */
  write: { sealedNotion: string; info: GrantRecord['info'] } | null;
}

/**
 * Applies what Your connections left for this grant, with its key: merges pending workspaces,
 * takes out removed ones (their tokens to revoke), and makes the drop box if the grant has none.
 * The last workspace is never removed here (Your connections offers Disconnect instead).
 */
export function reconcile(
  grant: GrantRecord,
  grantKey: Buffer,
  current: WorkspaceCredentials[],
  seal: (workspaces: WorkspaceCredentials[]) => string,
  workspacesInfo: (list: readonly WorkspaceCredentials[]) => GrantRecord['info'],
): Reconciled {
  let info: GrantRecord['info'] = { ...grant.info };
  const revoke: string[] = [];
  let workspaces = current;
  const pending = pendingOf(grant);
  if (pending.length && grant.info.addKeySealed) {
    const privateKey = open(grantKey, grant.info.addKeySealed, dropAad(grant.id));
    for (const p of pending) {
      let creds: WorkspaceCredentials;
      try {
        creds = JSON.parse(dropOpen(privateKey, p.sealed, pendingAad(grant.id))) as WorkspaceCredentials;
      } catch {
        continue; // not ours to open (tampered): dropped
      }
      if (p.remove) {
        revoke.push(creds.accessToken);
        continue;
      }
      const same = workspaces.find((w) => w.id !== null && w.id === creds.id);
      if (same) revoke.push(same.accessToken); // the new authorization replaces the old one
      if (!same && workspaces.length >= MAX_WORKSPACES) {
        revoke.push(creds.accessToken);
        continue;
      }
      workspaces = same ? workspaces.map((w) => (w === same ? creds : w)) : [...workspaces, creds];
    }
  }
  const removed = new Set(removedOf(grant));
  if (removed.size) {
    const keep = workspaces.filter((w) => w.id === null || !removed.has(w.id));
    // Never none: removing the last workspace is a disconnect.
    if (keep.length) {
      for (const w of workspaces) if (!keep.includes(w)) revoke.push(w.accessToken);
      workspaces = keep;
    }
  }
  delete info.pending;
  delete info.removed;
  if (!info.addKey) info = { ...info, ...dropBoxInfo(grant.id, grantKey) };
  delete info.workspaces;
  info = { ...info, ...workspacesInfo(workspaces) };
  const changed = workspaces !== current;
  return { workspaces, revoke, write: { sealedNotion: changed ? seal(workspaces) : grant.sealedNotion, info } };
}
