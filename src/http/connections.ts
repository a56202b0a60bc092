import type { Client } from '@notionhq/client';
import { parseCookie, stringifySetCookie } from 'cookie';
import type { Request, Response } from 'express';
import type { Config } from '../config.js';
import { PageError } from '../errors.js';
import { type Keyring, randomSecret, safeEqual, sha256 } from '../lib/crypto.js';
import type { Logger } from '../log.js';
import { type NotionOAuth, type NotionTokenResponse, notionAuthorizeUrl } from '../notion/oauth.js';
import { ensureBrowserId, readBrowserId } from '../oauth/browser.js';
import { postedSettings, settingsFields } from '../oauth/authorize.js';
import { lockdownOf, workspacesOf } from '../oauth/grants.js';
import { MAX_WORKSPACES, pendingOf, removedOf, withPending, withRemoved } from '../oauth/workspaces.js';
import { expandScope, grantScope, SCOPE_WRITE, scopeSet, toolsetScope } from '../oauth/scopes.js';
import type { ActivityEntry, ActivityObject, GrantRecord, Store } from '../store/types.js';
import { esc, sendPage } from '../pages/html.js';
import { activityId } from '../tools/activity.js';

/**
 * "Your connections": a person signs in with Notion (a separate `login` flow through the same
 * Notion OAuth and /oauth/callback), sees their grants with their activity, undoes a trashing,
 * and disconnects them.
 *
 * The session is a signed cookie; nothing is stored server-side. A grant's own Notion token
 * cannot be used from here: it is sealed under a key only the app's live tokens can unwrap. So
 * the page tells the person to remove the access in Notion too, and an undo uses the token of the
 * sign-in itself: the same integration and person, so it reaches the pages the connections of
 * that workspace reach. That token travels in the cookie, sealed under SESSION_SECRET and the
 * session's random id (Keyring.sealFor), is used only while the session lasts, and is revoked
 * upstream at sign-out or when a new sign-in replaces it. A session that simply expires leaves it
 * unrevoked upstream, with its only copy sealed in the expired cookie.
 */

export interface ConnectionsDeps {
  config: Config;
  store: Store;
  keyring: Keyring;
  notion: NotionOAuth;
  /** The Notion API client (tokens passed per call), for the undo. */
  api: Client;
  log: Logger;
  now: () => number;
}

interface LoginFlow {
  /** SHA-256 of the browser cookie the flow is bound to. */
  browser: string;
  /** Adding a workspace to this grant of the signed-in person (not a sign-in). */
  addTo?: string;
  userId?: string;
}

interface Session {
  /** Random id the CSRF token is bound to. */
  sid: string;
  userId: string;
  userName: string | null;
  exp: number;
  /** The workspace signed in to: only its connections' trashings can be undone with `notion`. */
  workspaceId?: string;
  /** The sign-in's Notion access token, sealed (see sealNotion). */
  notion?: string;
}

/** Entries per page of a connection's activity. */
const ACTIVITY_PAGE = 20;
const ACTIVITY_CURSOR = /^\d{13}-[0-9a-z]{1,40}$/;
/** Bound to the session's random id: only this cookie, with SESSION_SECRET, opens it. */
const notionAad = (s: Session) => `connections-notion:${s.userId}`;

const sessionCookie = (config: Config) => (config.secureCookies ? '__Host-nmr_session' : 'nmr_session');

function setSessionCookie(res: Response, config: Config, value: string, maxAgeS: number): void {
  res.append(
    'Set-Cookie',
    stringifySetCookie(sessionCookie(config), value, { httpOnly: true, secure: config.secureCookies, sameSite: 'lax', path: '/', maxAge: maxAgeS }),
  );
}

function readSession(req: Request, deps: ConnectionsDeps): Session | null {
  const header = req.get('cookie');
  const raw = header ? parseCookie(header)[sessionCookie(deps.config)] : undefined;
  if (!raw) return null;
  const dot = raw.indexOf('.');
  if (dot < 0) return null;
  const payload = raw.slice(0, dot);
  if (!deps.keyring.verify(`session:${payload}`, raw.slice(dot + 1))) return null;
  try {
    const s = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Session;
    return typeof s.userId === 'string' && typeof s.sid === 'string' && s.exp > deps.now() ? s : null;
  } catch {
    return null;
  }
}

const csrfFor = (deps: ConnectionsDeps, s: Session) => deps.keyring.sign(`csrf:connections:${s.sid}`);

/** The session's Notion token, or null when it has none or was sealed under a secret no longer configured. */
function notionToken(deps: ConnectionsDeps, s: Session): string | null {
  if (!s.notion) return null;
  try {
    return deps.keyring.openFor(s.sid, s.notion, notionAad(s));
  } catch {
    return null;
  }
}

/** Ends a session's Notion token upstream; best effort, as at sign-in before. */
async function revokeNotion(deps: ConnectionsDeps, s: Session | null): Promise<void> {
  const token = s && notionToken(deps, s);
  if (!token) return;
  try {
    await deps.notion.revoke(token);
  } catch (err) {
    deps.log.warn({ status: (err as { status?: number }).status }, 'notion sign-in token revocation failed');
  }
}

const notionLink = (id: string) => `https://www.notion.so/${id.replace(/-/g, '')}`;
const objectName = (o: ActivityObject) => o.title ?? `ID ${o.id.slice(0, 8)}…`;

/** The Notion call that brings a trashed object back. */
function restore(api: Client, auth: string, o: ActivityObject): Promise<unknown> {
  switch (o.trashed) {
    case 'block':
      return api.blocks.update({ block_id: o.id, in_trash: false, auth });
    case 'database':
      return api.databases.update({ database_id: o.id, in_trash: false, auth });
    case 'data_source':
      return api.dataSources.update({ data_source_id: o.id, in_trash: false, auth });
    default:
      return api.pages.update({ page_id: o.id, in_trash: false, auth });
  }
}

/** The session of a form POST, with its CSRF token checked; a page for people otherwise. */
function postedSession(req: Request, deps: ConnectionsDeps): Session {
  const session = readSession(req, deps);
  if (!session) {
    throw new PageError('You are signed out', 'Your sign-in to this page has ended, so nothing was changed.', 'Open Your connections and sign in with Notion again.', 401);
  }
  const csrf = (req.body as Record<string, unknown> | undefined)?.csrf;
  if (typeof csrf !== 'string' || !deps.keyring.verify(`csrf:connections:${session.sid}`, csrf)) {
    throw new PageError('This form came from somewhere else', 'The form was not sent from the page this browser opened, so it was ignored.', 'Open Your connections again and retry.', 403);
  }
  return session;
}

const when = (ms: number | null, seconds = false) =>
  ms === null ? 'never' : `${new Date(ms).toISOString().slice(0, seconds ? 19 : 16).replace('T', ' ')} UTC`;
const accessLabel = (g: GrantRecord) => (g.scope.split(' ').includes(SCOPE_WRITE) ? 'Read and write' : 'Read only');

const NOTION_TOO =
  'This ends the app’s access through this connector at once. To also remove the pages’ access in Notion, open Notion → Settings → Connections and disconnect the integration there: this page cannot do that for you, because the Notion access is locked with a key only the app holds.';

const UNDO_ELSEWHERE = (ws: string) => `To undo a trashing here, sign out and sign in with Notion again, choosing ${ws}.`;

/**
 * A connection's activity, newest first: `entries` holds one more than a page when there are
 * older ones. Writes carry a "Write" label and a marked border, not colour alone; a trashing
 * not yet undone on this page has an Undo form when the session can restore in its workspace.
 */
function activitySection(
  g: GrantRecord,
  entries: ActivityEntry[],
  from: string | undefined,
  v: { app: string; ws: string; csrf: string; undoIn: string | null },
): string {
  const shown = entries.slice(0, ACTIVITY_PAGE);
  const undone = new Set(shown.map((e) => e.undoes).filter(Boolean));
  const heading = `activity-${g.id}`;
  const rows = shown
    .map((e) => {
      const what = e.tool === 'undo' ? 'Undo: restored from the trash' : e.tool;
      // A connection with several workspaces: the entry names the one the call went to.
      const where = e.workspace ? ` in ${e.workspace.name}` : '';
      const undoable = v.undoIn !== null && (e.workspace ? e.workspace.id : g.notionWorkspaceId) === v.undoIn;
      const outcome = e.outcome === 'ok' ? 'done' : `failed (${e.outcome})`;
      const links = e.objects.map((o) => `<a href="${esc(notionLink(o.id))}">${esc(objectName(o))}</a>`).join(', ');
      const trashed = e.outcome === 'ok' && e.tool !== 'undo' ? e.objects.filter((o) => o.trashed) : [];
      const form =
        trashed.length === 0 || undone.has(e.id)
          ? ''
          : undoable
            ? `<form method="post" action="/connections/undo"><input type="hidden" name="grant" value="${esc(g.id)}"><input type="hidden" name="entry" value="${esc(e.id)}"><input type="hidden" name="csrf" value="${esc(v.csrf)}">
<button type="submit">Undo<span class="vh"> the trashing of ${esc(trashed.map(objectName).join(', '))}</span></button></form>`
            : `<p class="muted">${esc(UNDO_ELSEWHERE(e.workspace?.name ?? v.ws))}</p>`;
      return `<li class="${e.write ? 'write' : 'read'}"><p><span class="tag">${e.write ? 'Write' : 'Read'}</span> <code>${esc(what)}</code>${esc(where)}${e.count ? ` ×${e.count}` : ''}, ${esc(outcome)} <span class="muted">${esc(when(e.at, true))}${e.count && e.lastAt ? ` to ${esc(when(e.lastAt, true))}` : ''}</span></p>${links ? `<p>${links}</p>` : ''}${form}</li>`;
    })
    .join('');
  const older = entries.length > ACTIVITY_PAGE ? `<a href="/connections?grant=${esc(g.id)}&amp;before=${esc(shown.at(-1)!.id)}#${esc(heading)}">Older<span class="vh"> activity of ${esc(v.app)} in ${esc(v.ws)}</span></a>` : '';
  const newest = from ? `<a href="/connections#${esc(heading)}">Newest<span class="vh"> activity of ${esc(v.app)} in ${esc(v.ws)}</span></a>` : '';
  return `<section aria-labelledby="${esc(heading)}"><h2 id="${esc(heading)}">Activity</h2>
${rows ? `<ol class="activity">${rows}</ol>` : '<p class="muted">No tool calls recorded yet.</p>'}
${older || newest ? `<p class="pager">${newest} ${older}</p>` : ''}</section>`;
}

/*
 * Changing a connection's toolsets and lockdown here, without reconnecting: the grant's scope is
 * what every /mcp request reads (Grants.verifyAccessToken), and the change moves the store's
 * revocation mark, so the next call with the same token sees it; a refresh reads the grant too, so
 * it never brings a removed toolset back. Read or write stays as approved: changing it means
 * connecting again.
 */

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

/**
 * A connection's workspaces: each with a Remove button while it has more than one, and an "Add a
 * workspace" button. Added ones are ready at the app's next call; removed ones are withheld from
 * it at once and revoked in Notion by that call (oauth/workspaces.ts).
 */
function workspacesSection(g: GrantRecord, app: string, csrf: string): string {
  const removed = new Set(removedOf(g));
  const active = workspacesOf(g).filter((w) => w.id === null || !removed.has(w.id));
  const pending = pendingOf(g).filter((p) => !p.remove && !active.some((w) => w.id === p.id));
  const count = active.length + pending.length;
  const heading = `workspaces-${g.id}`;
  const item = (w: { id: string | null; name: string | null }, note: string) => {
    const name = w.name ?? 'A Notion workspace';
    const remove =
      count > 1 && w.id
        ? `<form method="post" action="/connections/workspaces/remove"><input type="hidden" name="grant" value="${esc(g.id)}"><input type="hidden" name="workspace" value="${esc(w.id)}"><input type="hidden" name="csrf" value="${esc(csrf)}">
<button type="submit">Remove<span class="vh"> ${esc(name)} from ${esc(app)}</span></button></form>`
        : '';
    return `<li><span>${esc(name)}${note ? ` <span class="muted">${esc(note)}</span>` : ''}</span>${remove}</li>`;
  };
  const items = [...active.map((w) => item(w, '')), ...pending.map((w) => item(w, '(added: ready at the app’s next call)'))].join('');
  const add =
    count < MAX_WORKSPACES
      ? `<form method="post" action="/connections/workspaces/add"><input type="hidden" name="grant" value="${esc(g.id)}"><input type="hidden" name="csrf" value="${esc(csrf)}">
<button type="submit">Add a workspace<span class="vh"> to ${esc(app)}</span></button></form>`
      : `<p class="muted">This connection has the most workspaces one connection may have (${MAX_WORKSPACES}).</p>`;
  return `<section aria-labelledby="${esc(heading)}"><h2 id="${esc(heading)}">Workspaces</h2>
<ul class="workspaces">${items}</ul>
${add}</section>`;
}

/** The workspaces a connection spans, for its heading: `Workspace A`, or `Workspace A, Workspace B`. */
function workspacesLabel(g: GrantRecord): string {
  const removed = new Set(removedOf(g));
  const names = workspacesOf(g)
    .filter((w) => w.id === null || !removed.has(w.id))
    .map((w) => w.name)
    .filter((n): n is string => !!n);
  return names.length ? names.join(', ') : 'a Notion workspace';
}

/** The signed-in person's grant named by a form, or a 404 page. */
async function ownGrant(deps: ConnectionsDeps, id: unknown, userId: string): Promise<GrantRecord> {
  const grant = typeof id === 'string' && id ? await deps.store.getGrant(id) : null;
  if (!grant || grant.notionUserId !== userId) {
    throw new PageError('Connection not found', 'There is no such connection on your account. It may already be disconnected.', 'Open Your connections to see the current list.', 404);
  }
  return grant;
}

export function createConnectionsHandlers(deps: ConnectionsDeps) {
  const { config, store } = deps;

  /** GET /connections: the sign-in button, or the signed-in person's grants. */
  const page = async (req: Request, res: Response): Promise<void> => {
    const session = readSession(req, deps);
    if (!session) {
      sendPage(
        res,
        200,
        'Your connections',
        `<div class="card"><h1>Your connections</h1>
<p>See which apps use your Notion through this connector, what they did, and disconnect them.</p>
<p>Sign in with Notion to continue. Notion may show its page picker: you do not need to pick anything. While you stay signed in (at most ${esc(Math.round(config.ttl.connectionsSessionS / 60))} minutes), this page can use the sign-in only to restore pages an app moved to the trash, when you choose Undo; signing out ends it in Notion.</p>
<div class="actions"><a class="button primary" href="/connections/login">Sign in with Notion</a></div></div>`,
      );
      return;
    }
    const grants = await store.listGrantsByUser(session.userId);
    const csrf = csrfFor(deps, session);
    const canUndo = notionToken(deps, session) !== null;
    const paged = typeof req.query.grant === 'string' ? req.query.grant : '';
    const before = typeof req.query.before === 'string' && ACTIVITY_CURSOR.test(req.query.before) ? req.query.before : undefined;
    const items = (
      await Promise.all(
        grants.map(async (g) => {
          const app = g.info.clientName ?? 'An unnamed app';
          const ws = workspacesLabel(g);
          const from = g.id === paged ? before : undefined;
          const entries = await store.listActivity(g.id, ACTIVITY_PAGE + 1, from);
          const undoIn = canUndo && session.workspaceId ? session.workspaceId : null;
          return `<li><p><strong>${esc(app)}</strong> in ${esc(ws)}</p>
<p class="muted">${esc(accessLabel(g))} · connected ${esc(when(g.createdAt))} · last used ${esc(when(g.lastUsedAt))}</p>
${connectionSettingsForm(g, csrf, config)}
${workspacesSection(g, app, csrf)}
${activitySection(g, entries, from, { app, ws, csrf, undoIn })}
<form method="post" action="/connections/disconnect"><input type="hidden" name="grant" value="${esc(g.id)}"><input type="hidden" name="csrf" value="${esc(csrf)}">
<button type="submit">Disconnect<span class="vh"> ${esc(app)} in ${esc(ws)}</span></button></form></li>`;
        }),
      )
    ).join('');
    const done =
      req.query.disconnected === '1'
        ? `<p class="note" role="status">Disconnected. ${esc(NOTION_TOO)}</p>`
        : req.query.undone === '1'
          ? '<p class="note" role="status">Restored from the trash in Notion. The activity below shows the undo.</p>'
          : req.query.saved === '1'
            ? '<p class="note" role="status">Saved. The app’s next call uses what you chose.</p>'
            : req.query.added === '1'
              ? '<p class="note" role="status">Workspace added. The app can use it from its next call.</p>'
              : req.query.removed === '1'
                ? '<p class="note" role="status">Workspace removed. The app can no longer use it; its Notion access is revoked at the app’s next call.</p>'
                : '';
    sendPage(
      res,
      200,
      'Your connections',
      `<div class="card"><h1>Your connections</h1>
<p>Signed in with Notion as <strong>${esc(session.userName ?? 'you')}</strong>.</p>
${done}
<p class="muted">Each connection’s activity lists its tool calls of the last ${esc(Math.round(config.activityRetentionMs / 86_400_000))} days, newest first: which Notion pages it read or changed, never their content. Changes are marked Write; Undo restores what was moved to the trash.</p>
${grants.length ? `<ul class="grants">${items}</ul>` : '<p>No app is connected to your Notion through this connector.</p>'}
<p class="muted">${esc(NOTION_TOO)}</p>
<form method="post" action="/connections/logout"><input type="hidden" name="csrf" value="${esc(csrf)}"><button type="submit">Sign out</button></form></div>`,
      { wide: true },
    );
  };

  /** GET /connections/login: starts the sign-in round trip to Notion, bound to this browser. */
  const login = async (req: Request, res: Response): Promise<void> => {
    const browserId = ensureBrowserId(req, res, config);
    const state = randomSecret();
    const flow: LoginFlow = { browser: sha256(browserId) };
    await store.putFlow(sha256(state), 'login', flow, deps.now() + config.ttl.flowS * 1000);
    res.redirect(303, notionAuthorizeUrl(config, state));
  };

  /** POST /connections/workspaces/add: sends the person to Notion to authorize one more workspace for their connection. */
  const addWorkspace = async (req: Request, res: Response): Promise<void> => {
    const session = postedSession(req, deps);
    const grant = await ownGrant(deps, (req.body as Record<string, unknown>).grant, session.userId);
    if (!grant.info.addKey) {
      throw new PageError('Not yet', 'This connection was made before workspaces could be added here; it becomes ready at the app’s next call.', 'Use the app once, then open Your connections again.', 409);
    }
    const browserId = ensureBrowserId(req, res, config);
    const state = randomSecret();
    const flow: LoginFlow = { browser: sha256(browserId), addTo: grant.id, userId: session.userId };
    await store.putFlow(sha256(state), 'login', flow, deps.now() + config.ttl.flowS * 1000);
    res.redirect(303, notionAuthorizeUrl(config, state));
  };

  /** POST /connections/workspaces/remove: withholds one workspace of the person's connection from now on. */
  const removeWorkspace = async (req: Request, res: Response): Promise<void> => {
    const session = postedSession(req, deps);
    const body = req.body as Record<string, unknown>;
    const grant = await ownGrant(deps, body.grant, session.userId);
    const id = typeof body.workspace === 'string' ? body.workspace : '';
    const removed = new Set(removedOf(grant));
    const active = workspacesOf(grant).filter((w) => w.id === null || !removed.has(w.id));
    const pending = pendingOf(grant).filter((p) => !p.remove && !active.some((w) => w.id === p.id));
    if (active.length + pending.length < 2) {
      throw new PageError('This is the last workspace', 'A connection needs at least one workspace, so nothing was removed.', 'To end the connection, choose Disconnect.', 409);
    }
    const info = id ? withRemoved(grant, id, active) : null;
    if (!info) throw new PageError('Workspace not found', 'This connection has no such workspace. It may already be removed.', 'Open Your connections to see the current list.', 404);
    // Moves the revocation mark: the app's next call no longer reaches the workspace.
    await store.updateGrantSettings(grant.id, grant.scope, info);
    deps.log.info({ grantId: grant.id }, 'workspace removed by its user');
    res.redirect(303, `/connections?removed=1#workspaces-${grant.id}`);
  };

  /** The end of "Add a workspace": seals the new workspace's credentials into the grant's drop box. */
  const finishAdd = async (req: Request, res: Response, flow: LoginFlow, tokens: NotionTokenResponse): Promise<void> => {
    const session = readSession(req, deps);
    const revoke = () => deps.notion.revoke(tokens.access_token).catch(() => undefined);
    const person = tokens.owner?.type === 'user' ? tokens.owner.user.id : null;
    if (!session || session.userId !== flow.userId || person !== flow.userId) {
      await revoke();
      throw new PageError('Sign in as the same person', 'The workspace was authorized by another Notion account than the one signed in here, so it was not added.', 'Open Your connections and try again, signed in to Notion as yourself.', 403);
    }
    const grant = await ownGrant(deps, flow.addTo, session.userId);
    const creds = { id: tokens.workspace_id ?? null, name: tokens.workspace_name ?? null, botId: tokens.bot_id ?? null, accessToken: tokens.access_token, refreshToken: tokens.refresh_token ?? null };
    const removed = new Set(removedOf(grant));
    const known = [...workspacesOf(grant).filter((w) => w.id === null || !removed.has(w.id)), ...pendingOf(grant).filter((p) => !p.remove)];
    if (!known.some((w) => w.id === creds.id) && new Set(known.map((w) => w.id)).size >= MAX_WORKSPACES) {
      await revoke();
      throw new PageError('Too many workspaces', `One connection may span at most ${MAX_WORKSPACES} workspaces, so this one was not added.`, 'Remove a workspace first, then add this one.', 409);
    }
    await store.updateGrantSettings(grant.id, grant.scope, withPending(grant, creds));
    deps.log.info({ grantId: grant.id }, 'workspace added by its user');
    res.redirect(303, `/connections?added=1#workspaces-${grant.id}`);
  };

  /** Called by /oauth/callback when the state belongs to a `login` flow. */
  const finishLogin = async (req: Request, res: Response, data: unknown): Promise<void> => {
    const flow = data as LoginFlow;
    const browserId = readBrowserId(req, config);
    if (!browserId || !safeEqual(sha256(browserId), flow.browser)) {
      throw new PageError('This sign-in was started in another browser', 'For your safety, the sign-in must finish in the browser where it started.', 'Open Your connections in this browser and sign in again.', 403);
    }
    if (flow.addTo && (req.query.error !== undefined || typeof req.query.code !== 'string' || !req.query.code)) {
      throw new PageError('No workspace added', 'Notion did not authorize a workspace, so nothing changed.', 'Open Your connections and choose Add a workspace to try again.');
    }
    const code = req.query.code;
    if (req.query.error !== undefined || typeof code !== 'string' || !code) {
      throw new PageError('Sign-in cancelled', 'Notion did not sign you in, so nothing changed.', 'Open Your connections and choose Sign in with Notion to try again.');
    }
    let tokens: NotionTokenResponse;
    try {
      tokens = await deps.notion.exchangeCode(code);
    } catch (err) {
      deps.log.warn({ status: (err as { status?: number }).status }, 'notion sign-in code exchange failed');
      throw new PageError('Notion did not confirm the sign-in', 'Notion could not be reached or did not accept the sign-in.', 'Wait a minute, then open Your connections and sign in again.', 502);
    }
    if (flow.addTo) return finishAdd(req, res, flow, tokens);
    if (tokens.owner?.type !== 'user' || !tokens.owner.user.id) {
      try {
        await deps.notion.revoke(tokens.access_token);
      } catch (err) {
        deps.log.warn({ status: (err as { status?: number }).status }, 'notion sign-in token revocation failed');
      }
      throw new PageError('This Notion account cannot sign in here', 'Notion did not say which person signed in.', 'Sign in with a personal Notion account.', 403);
    }
    // A sign-in that replaces a session ends that session's Notion token.
    await revokeNotion(deps, readSession(req, deps));
    const session: Session = {
      sid: randomSecret(16),
      userId: tokens.owner.user.id,
      userName: tokens.owner.user.name ?? tokens.owner.user.person?.email ?? null,
      exp: deps.now() + config.ttl.connectionsSessionS * 1000,
      workspaceId: tokens.workspace_id,
    };
    // Kept for undo while the session lasts (see the top of this file).
    session.notion = deps.keyring.sealFor(session.sid, tokens.access_token, notionAad(session));
    const payload = Buffer.from(JSON.stringify(session)).toString('base64url');
    setSessionCookie(res, config, `${payload}.${deps.keyring.sign(`session:${payload}`)}`, config.ttl.connectionsSessionS);
    res.redirect(303, '/connections');
  };

  /** POST /connections/disconnect: deletes one of the session user's grants; 404 for anyone else's. */
  const disconnect = async (req: Request, res: Response): Promise<void> => {
    const session = postedSession(req, deps);
    const id = (req.body as Record<string, unknown>).grant;
    const grant = typeof id === 'string' && id ? await store.getGrant(id) : null;
    if (!grant || grant.notionUserId !== session.userId) {
      throw new PageError('Connection not found', 'There is no such connection on your account. It may already be disconnected.', 'Open Your connections to see the current list.', 404);
    }
    await store.deleteGrant(grant.id);
    deps.log.info({ grantId: grant.id }, 'grant disconnected by its user');
    res.redirect(303, '/connections?disconnected=1');
  };

  /**
   * POST /connections/undo: restores what one entry of the user's own connection trashed, with
   * the sign-in's Notion token, and records the undo in that connection's log.
   */
  const undo = async (req: Request, res: Response): Promise<void> => {
    const session = postedSession(req, deps);
    const body = req.body as Record<string, unknown>;
    const grant = typeof body.grant === 'string' && body.grant ? await store.getGrant(body.grant) : null;
    const entry = grant && grant.notionUserId === session.userId && typeof body.entry === 'string' && ACTIVITY_CURSOR.test(body.entry) ? await store.getActivity(grant.id, body.entry) : null;
    const trashed = entry?.outcome === 'ok' ? entry.objects.filter((o) => o.trashed) : [];
    if (!grant || trashed.length === 0) {
      throw new PageError('Nothing to undo', 'There is no such trashing in the activity of your connections.', 'Open Your connections to see the current activity.', 404);
    }
    const token = notionToken(deps, session);
    // The entry's own workspace on a connection with several, else the connection's.
    const workspaceId = entry!.workspace ? entry!.workspace.id : grant.notionWorkspaceId;
    if (!token || !workspaceId || workspaceId !== session.workspaceId) {
      throw new PageError('Sign in again to undo', 'This sign-in cannot restore pages in that workspace.', UNDO_ELSEWHERE(entry!.workspace?.name ?? grant.info.workspaceName ?? 'its workspace'), 403);
    }
    const restored: ActivityObject[] = [];
    let failure: string | undefined;
    for (const o of trashed) {
      try {
        await restore(deps.api, token, o);
        restored.push({ id: o.id, ...(o.title ? { title: o.title } : {}) });
      } catch (err) {
        failure ??= typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'notion_unreachable';
      }
    }
    const at = deps.now();
    await store.appendActivity([
      { id: activityId(at), grantId: grant.id, at, tool: 'undo', write: true, outcome: failure ?? 'ok', objects: restored, undoes: entry!.id },
    ]);
    deps.log.info({ grantId: grant.id, restored: restored.length, failed: trashed.length - restored.length }, 'trashing undone by its user');
    if (failure) {
      throw new PageError(
        'Not everything was restored',
        `Notion restored ${restored.length} of ${trashed.length} and answered "${failure}" for the rest.`,
        'Open the Trash in Notion to restore the rest, or retry from Your connections.',
        502,
      );
    }
    res.redirect(303, `/connections?undone=1#activity-${grant.id}`);
  };

  /** POST /connections/logout: ends the session and its Notion token. */
  const logout = async (req: Request, res: Response): Promise<void> => {
    await revokeNotion(deps, postedSession(req, deps));
    setSessionCookie(res, config, '', 0);
    res.redirect(303, '/connections');
  };

  /** POST /connections/settings: sets one of the signed-in user's connections' toolsets and lockdown; 404 for anyone else's. */
  const settings = async (req: Request, res: Response): Promise<void> => {
    const { userId } = postedSession(req, deps);
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

  return { page, login, finishLogin, disconnect, undo, logout, settings, addWorkspace, removeWorkspace };
}
