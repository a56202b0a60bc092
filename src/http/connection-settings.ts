import { parseCookie } from 'cookie';
import type { Request, Response } from 'express';
import type { Config } from '../config.js';
import { PageError } from '../errors.js';
import { postedSettings, settingsFields } from '../oauth/authorize.js';
import { lockdownOf } from '../oauth/grants.js';
import { expandScope, grantScope, SCOPE_WRITE, scopeSet, toolsetScope } from '../oauth/scopes.js';
import { esc } from '../pages/html.js';
import type { GrantRecord } from '../store/types.js';
import type { ConnectionsDeps } from './connections.js';

/**
 * Changing a connection's toolsets and lockdown on Your connections, without reconnecting. The
 * grant's scope is what every /mcp request reads (Grants.verifyAccessToken), and the change moves
 * the store's revocation mark, so the next call with the same token sees it; a refresh reads the
 * grant too, so it never brings a removed toolset back. Read or write stays as approved: changing
 * it means connecting again.
 */

type Deps = Pick<ConnectionsDeps, 'config' | 'store' | 'keyring' | 'log' | 'now'>;

/**
 * The settings form of one connection, for the /connections page: the toolsets this instance
 * offers, ticked as the connection allows them now, and the lockdown box. `csrf` is the page's.
 */
export function connectionSettingsForm(grant: GrantRecord, csrf: string, config: Config): string {
  const allowed = expandScope(grant.scope);
  const ticked = config.toolsets.max.filter((t) => allowed.has(toolsetScope(t)));
  const app = grant.info.clientName ?? 'an unnamed app';
  return `<form method="post" action="/connections/settings"><input type="hidden" name="grant" value="${esc(grant.id)}"><input type="hidden" name="csrf" value="${esc(csrf)}">
${settingsFields(config.toolsets.max, ticked, lockdownOf(grant, config), app)}
<button type="submit">Save<span class="vh"> what ${esc(app)} may use</span></button></form>`;
}

/** POST /connections/settings: sets one of the signed-in user's connections' toolsets and lockdown; 404 for anyone else's. */
export function createConnectionSettingsHandler(deps: Deps) {
  const { config, store } = deps;
  return async (req: Request, res: Response): Promise<void> => {
    const userId = postedSession(req, deps);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const id = body.grant;
    const grant = typeof id === 'string' && id ? await store.getGrant(id) : null;
    if (!grant || grant.notionUserId !== userId) {
      throw new PageError('Connection not found', 'There is no such connection on your account. It may already be disconnected.', 'Open Your connections to see the current list.', 404);
    }
    const { toolsets, lockdown } = postedSettings(body, config.toolsets.max);
    if (!toolsets) {
      throw new PageError('Choose what the app may use', 'Nothing was ticked, so the app could not do anything. Nothing was changed.', 'Go back, tick at least one, and save again, or disconnect the app.');
    }
    const scope = grantScope(scopeSet(grant.scope).has(SCOPE_WRITE), toolsets);
    await store.updateGrantSettings(grant.id, scope, { ...grant.info, lockdown: lockdown ? 'on' : 'off' });
    deps.log.info({ grantId: grant.id, toolsets, lockdown }, 'connection settings changed by its user');
    res.redirect(303, '/connections?saved=1');
  };
}

// Merge: connections.ts's postedSession (the same session cookie and CSRF check), once exported,
// replaces this copy.
function postedSession(req: Request, deps: Deps): string {
  const session = readSession(req, deps);
  if (!session) {
    throw new PageError('You are signed out', 'Your sign-in to this page has ended, so nothing was changed.', 'Open Your connections and sign in with Notion again.', 401);
  }
  const csrf = (req.body as Record<string, unknown> | undefined)?.csrf;
  if (typeof csrf !== 'string' || !deps.keyring.verify(`csrf:connections:${session.sid}`, csrf)) {
    throw new PageError('This form came from somewhere else', 'The form was not sent from the page this browser opened, so it was ignored.', 'Open Your connections again and retry.', 403);
  }
  return session.userId;
}

function readSession(req: Request, deps: Deps): { sid: string; userId: string } | null {
  const header = req.get('cookie');
  const raw = header ? parseCookie(header)[deps.config.secureCookies ? '__Host-nmr_session' : 'nmr_session'] : undefined;
  const dot = raw ? raw.indexOf('.') : -1;
  if (!raw || dot < 0 || !deps.keyring.verify(`session:${raw.slice(0, dot)}`, raw.slice(dot + 1))) return null;
  try {
    const s = JSON.parse(Buffer.from(raw.slice(0, dot), 'base64url').toString('utf8')) as { sid: string; userId: string; exp: number };
    return typeof s.userId === 'string' && typeof s.sid === 'string' && s.exp > deps.now() ? s : null;
  } catch {
    return null;
  }
}
