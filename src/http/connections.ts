import { parseCookie, stringifySetCookie } from 'cookie';
import type { Request, Response } from 'express';
import type { Config } from '../config.js';
import { PageError } from '../errors.js';
import { type Keyring, randomSecret, safeEqual, sha256 } from '../lib/crypto.js';
import type { Logger } from '../log.js';
import { type NotionOAuth, type NotionTokenResponse, notionAuthorizeUrl } from '../notion/oauth.js';
import { ensureBrowserId, readBrowserId } from '../oauth/browser.js';
import { SCOPE_WRITE } from '../oauth/scopes.js';
import type { GrantRecord, Store } from '../store/types.js';
import { esc, sendPage } from '../pages/html.js';

/**
 * "Your connections": a person signs in with Notion (a separate `login` flow through the same
 * Notion OAuth and /oauth/callback), sees their grants and disconnects them.
 *
 * The session is a signed cookie holding the Notion user id; nothing is stored server-side. The
 * Notion token obtained for sign-in is revoked upstream right after its owner is read. A grant's
 * own Notion token cannot be revoked from here: it is sealed under a key only the app's live
 * tokens can unwrap, so the page tells the person to remove the access in Notion too.
 */

export interface ConnectionsDeps {
  config: Config;
  store: Store;
  keyring: Keyring;
  notion: NotionOAuth;
  log: Logger;
  now: () => number;
}

interface LoginFlow {
  /** SHA-256 of the browser cookie the flow is bound to. */
  browser: string;
}

interface Session {
  /** Random id the CSRF token is bound to. */
  sid: string;
  userId: string;
  userName: string | null;
  exp: number;
}

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

const when = (ms: number | null) => (ms === null ? 'never' : `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`);
const accessLabel = (g: GrantRecord) => (g.scope.split(' ').includes(SCOPE_WRITE) ? 'Read and write' : 'Read only');

const NOTION_TOO =
  'This ends the app’s access through this connector at once. To also remove the pages’ access in Notion, open Notion → Settings → Connections and disconnect the integration there: this page cannot do that for you, because the Notion access is locked with a key only the app holds.';

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
<p>See which apps use your Notion through this connector, and disconnect them.</p>
<p>Sign in with Notion to continue. Notion may show its page picker: you do not need to pick anything, and the sign-in gives this page no access to your pages (it is ended right after it tells us who you are).</p>
<div class="actions"><a class="button primary" href="/connections/login">Sign in with Notion</a></div></div>`,
      );
      return;
    }
    const grants = await store.listGrantsByUser(session.userId);
    const csrf = csrfFor(deps, session);
    const items = grants
      .map((g) => {
        const app = g.info.clientName ?? 'An unnamed app';
        const ws = g.info.workspaceName ?? 'a Notion workspace';
        return `<li><p><strong>${esc(app)}</strong> in ${esc(ws)}</p>
<p class="muted">${esc(accessLabel(g))} · connected ${esc(when(g.createdAt))} · last used ${esc(when(g.lastUsedAt))}</p>
<form method="post" action="/connections/disconnect"><input type="hidden" name="grant" value="${esc(g.id)}"><input type="hidden" name="csrf" value="${esc(csrf)}">
<button type="submit">Disconnect<span class="vh"> ${esc(app)} in ${esc(ws)}</span></button></form></li>`;
      })
      .join('');
    const done = req.query.disconnected === '1' ? `<p class="note" role="status">Disconnected. ${esc(NOTION_TOO)}</p>` : '';
    sendPage(
      res,
      200,
      'Your connections',
      `<div class="card"><h1>Your connections</h1>
<p>Signed in with Notion as <strong>${esc(session.userName ?? 'you')}</strong>.</p>
${done}
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

  /** Called by /oauth/callback when the state belongs to a `login` flow. */
  const finishLogin = async (req: Request, res: Response, data: unknown): Promise<void> => {
    const flow = data as LoginFlow;
    const browserId = readBrowserId(req, config);
    if (!browserId || !safeEqual(sha256(browserId), flow.browser)) {
      throw new PageError('This sign-in was started in another browser', 'For your safety, the sign-in must finish in the browser where it started.', 'Open Your connections in this browser and sign in again.', 403);
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
    // The token was only needed to learn who this is: end it upstream at once.
    try {
      await deps.notion.revoke(tokens.access_token);
    } catch (err) {
      deps.log.warn({ status: (err as { status?: number }).status }, 'notion sign-in token revocation failed');
    }
    if (tokens.owner?.type !== 'user' || !tokens.owner.user.id) {
      throw new PageError('This Notion account cannot sign in here', 'Notion did not say which person signed in.', 'Sign in with a personal Notion account.', 403);
    }
    const session: Session = {
      sid: randomSecret(16),
      userId: tokens.owner.user.id,
      userName: tokens.owner.user.name ?? tokens.owner.user.person?.email ?? null,
      exp: deps.now() + config.ttl.connectionsSessionS * 1000,
    };
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

  /** POST /connections/logout: ends the session. */
  const logout = async (req: Request, res: Response): Promise<void> => {
    postedSession(req, deps);
    setSessionCookie(res, config, '', 0);
    res.redirect(303, '/connections');
  };

  return { page, login, finishLogin, disconnect, logout };
}
