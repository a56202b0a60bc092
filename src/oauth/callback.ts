import type { Request, Response } from 'express';
import type { Config } from '../config.js';
import { PageError } from '../errors.js';
import { type Keyring, randomSecret, safeEqual, sha256 } from '../lib/crypto.js';
import type { Logger } from '../log.js';
import { type NotionOAuth, type NotionTokenResponse, notionAuthorizeUrl } from '../notion/oauth.js';
import type { WorkspaceCredentials } from '../notion/session.js';
import { sendNextWorkspacePage } from '../pages/html.js';
import type { Store } from '../store/types.js';
import { type PendingAuthorization, clientRedirect } from './authorize.js';
import { readBrowserId } from './browser.js';
import { type Grants, settingsInfo, workspacesInfo } from './grants.js';

export interface CallbackDeps {
  config: Config;
  store: Store;
  grants: Grants;
  notion: NotionOAuth;
  log: Logger;
  now: () => number;
  keyring: Keyring;
  /** Finishes a /connections sign-in: Notion has one redirect URI, so that flow ends here too. */
  finishLogin: (req: Request, res: Response, flow: unknown) => Promise<void>;
}

/**
 * GET /oauth/callback: Notion sends the user back here. The state must be ours, unused, and
 * bound to this browser. Whatever Notion answers, the MCP client hears about it by redirect,
 * so the user never stays on a dead-end page once we know where to send them.
 */
export function createCallbackHandler(deps: CallbackDeps) {
  const { config } = deps;
  return async (req: Request, res: Response): Promise<void> => {
    const state = typeof req.query.state === 'string' ? req.query.state : '';
    const flow = state ? ((await deps.store.takeFlow(sha256(state), 'notion', deps.now())) as PendingAuthorization | null) : null;
    // The flow kind stored under the state tells a connector authorization from a sign-in.
    const login = state && !flow ? await deps.store.takeFlow(sha256(state), 'login', deps.now()) : null;
    if (login) {
      await deps.finishLogin(req, res, login);
      return;
    }
    if (!flow || flow.choosing) {
      throw new PageError(
        'This sign-in has expired',
        'Notion sent you back with a link that is unknown, already used, or older than ten minutes.',
        'Go back to your app and start the connection again.',
      );
    }
    const browserId = readBrowserId(req, config);
    if (!browserId || !safeEqual(sha256(browserId), flow.browser)) {
      throw new PageError(
        'This sign-in was started in another browser',
        'For your safety, the connection must finish in the browser where you approved it.',
        'Go back to your app and start the connection again in this browser.',
        403,
      );
    }
    const back = (params: Record<string, string>) =>
      res.redirect(302, clientRedirect(config, flow.redirectUri, { ...params, state: flow.state }));

    const notionError = req.query.error;
    const code = req.query.code;
    if (notionError !== undefined || typeof code !== 'string' || !code) {
      // A later workspace not authorized: the ones before it can still be used.
      if (flow.collected) return offerNext(deps, res, flow, browserId, true);
      const denied = notionError === 'access_denied';
      back({
        error: denied ? 'access_denied' : 'server_error',
        error_description: denied ? 'The user cancelled on Notion' : 'Notion did not complete the authorization',
      });
      return;
    }

    let tokens: NotionTokenResponse;
    try {
      tokens = await deps.notion.exchangeCode(code);
    } catch (err) {
      deps.log.warn({ err: describe(err) }, 'notion code exchange failed');
      if (flow.collected) return offerNext(deps, res, flow, browserId, true);
      back({ error: 'temporarily_unavailable', error_description: 'Notion did not accept the authorization; try connecting again' });
      return;
    }
    const user = tokens.owner?.type === 'user' ? tokens.owner.user : null;
    const earlier = flow.collected ? openCollected(deps, flow, browserId) : null;
    const added: Collected = {
      // The person is the same in every workspace (Notion user ids are global); the first round trip names them.
      user: earlier?.user ?? { id: user?.id ?? null, name: user?.name ?? null, email: user?.person?.email ?? null },
      botId: earlier?.botId ?? tokens.bot_id ?? null,
      workspaces: [
        // A workspace authorized again replaces its earlier entry.
        ...(earlier?.workspaces ?? []).filter((w) => w.id === null || w.id !== (tokens.workspace_id ?? null)),
        { id: tokens.workspace_id ?? null, name: tokens.workspace_name ?? null, botId: tokens.bot_id ?? null, accessToken: tokens.access_token, refreshToken: tokens.refresh_token ?? null },
      ],
    };
    if (flow.addAnother) {
      await offerNext(deps, res, { ...flow, collected: sealCollected(deps, flow, browserId, added) }, browserId, false);
      return;
    }
    await finish(deps, res, flow, added);
  };
}

/** The workspaces a connector authorization has collected so far, and the person and bot of the first. */
interface Collected {
  user: { id: string | null; name: string | null; email: string | null };
  botId: string | null;
  workspaces: WorkspaceCredentials[];
}

/**
 * Sealed under the browser cookie, so the flow's stored copy opens only in the browser that
 * authorized (the data directory and SESSION_SECRET are not enough), as grants need a token.
 */
const collectedAad = (flow: PendingAuthorization) => `collected:${flow.browser}`;
const sealCollected = (deps: CallbackDeps, flow: PendingAuthorization, browserId: string, c: Collected) =>
  deps.keyring.sealFor(browserId, JSON.stringify(c), collectedAad(flow));
function openCollected(deps: CallbackDeps, flow: PendingAuthorization, browserId: string): Collected {
  return JSON.parse(deps.keyring.openFor(browserId, flow.collected!, collectedAad(flow))) as Collected;
}

/** Creates the grant with every collected workspace and sends the browser back to the client with our code. */
async function finish(deps: CallbackDeps, res: Response, flow: PendingAuthorization, c: Collected, status = 302): Promise<void> {
  const [first] = c.workspaces;
  if (!first) throw new PageError('Nothing to connect', 'No Notion workspace was authorized.', 'Go back to your app and start the connection again.');
  const ourCode = await deps.grants.createWithCode({
    clientId: flow.clientId,
    redirectUri: flow.redirectUri,
    codeChallenge: flow.codeChallenge,
    resource: flow.resource,
    scope: flow.scopes.join(' '),
    workspaces: c.workspaces,
    notionUserId: c.user.id,
    notionWorkspaceId: first.id,
    info: {
      clientName: flow.clientName,
      workspaceName: first.name,
      botId: c.botId,
      userName: c.user.name,
      userEmail: c.user.email,
      ...settingsInfo(flow),
      ...workspacesInfo(c.workspaces),
    },
  });
  res.locals.oauthEvent = 'authorization';
  res.redirect(status, clientRedirect(deps.config, flow.redirectUri, { code: ourCode, state: flow.state }));
}

/** Shows "add another workspace or finish", with a fresh single-use choice bound to this browser. */
async function offerNext(deps: CallbackDeps, res: Response, flow: PendingAuthorization, browserId: string, lastFailed: boolean): Promise<void> {
  const next = randomSecret();
  await deps.store.putFlow(sha256(next), 'notion', { ...flow, choosing: true }, deps.now() + deps.config.ttl.flowS * 1000);
  const c = openCollected(deps, flow, browserId);
  sendNextWorkspacePage(res, {
    clientName: flow.clientName,
    added: c.workspaces.map((w, i) => w.name ?? `Workspace ${i + 1}`),
    lastFailed,
    next,
    csrf: deps.keyring.sign(`next:${next}:${browserId}`),
  });
}

/**
 * POST /oauth/callback: the choice on the "add another workspace" page. `another` goes to Notion
 * again with a fresh state; `finish` creates the grant with the workspaces authorized so far.
 */
export function createNextWorkspaceHandler(deps: CallbackDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const next = typeof body.next === 'string' ? body.next : '';
    const csrf = typeof body.csrf === 'string' ? body.csrf : '';
    const flow = next ? ((await deps.store.takeFlow(sha256(next), 'notion', deps.now())) as PendingAuthorization | null) : null;
    if (!flow?.choosing || !flow.collected) {
      throw new PageError('This page has expired', 'The page was open too long, or its choice was already made.', 'Go back to your app and start the connection again.');
    }
    const browserId = readBrowserId(req, deps.config);
    if (!browserId || !safeEqual(sha256(browserId), flow.browser) || !deps.keyring.verify(`next:${next}:${browserId}`, csrf)) {
      throw new PageError(
        'This choice came from somewhere else',
        'The form was not sent from the page this browser opened, so it was ignored.',
        'Go back to your app and start the connection again.',
        403,
      );
    }
    const { choosing: _, ...rest } = flow;
    if (body.decision === 'another') {
      const state = randomSecret();
      await deps.store.putFlow(sha256(state), 'notion', rest, deps.now() + deps.config.ttl.flowS * 1000);
      res.redirect(303, notionAuthorizeUrl(deps.config, state));
      return;
    }
    await finish(deps, res, rest, openCollected(deps, rest, browserId), 303);
  };
}

/** Error summary safe to log: names and codes, never request bodies or tokens. */
function describe(err: unknown): Record<string, unknown> {
  if (err && typeof err === 'object') {
    const e = err as { name?: string; code?: string; status?: number };
    return { name: e.name, code: e.code, status: e.status };
  }
  return { name: typeof err };
}
