import type { Request, Response } from 'express';
import type { Config } from '../config.js';
import { PageError } from '../errors.js';
import { safeEqual, sha256 } from '../lib/crypto.js';
import type { Logger } from '../log.js';
import type { NotionOAuth, NotionTokenResponse } from '../notion/oauth.js';
import type { Store } from '../store/types.js';
import { type PendingAuthorization, clientRedirect } from './authorize.js';
import { readBrowserId } from './browser.js';
import { type Grants, settingsInfo } from './grants.js';

export interface CallbackDeps {
  config: Config;
  store: Store;
  grants: Grants;
  notion: NotionOAuth;
  log: Logger;
  now: () => number;
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
    if (!flow) {
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
      back({ error: 'temporarily_unavailable', error_description: 'Notion did not accept the authorization; try connecting again' });
      return;
    }
    const user = tokens.owner?.type === 'user' ? tokens.owner.user : null;
    const ourCode = await deps.grants.createWithCode({
      clientId: flow.clientId,
      redirectUri: flow.redirectUri,
      codeChallenge: flow.codeChallenge,
      resource: flow.resource,
      scope: flow.scopes.join(' '),
      notion: { accessToken: tokens.access_token, refreshToken: tokens.refresh_token ?? null },
      notionUserId: user?.id ?? null,
      notionWorkspaceId: tokens.workspace_id ?? null,
      info: {
        clientName: flow.clientName,
        workspaceName: tokens.workspace_name ?? null,
        botId: tokens.bot_id ?? null,
        userName: user?.name ?? null,
        userEmail: user?.person?.email ?? null,
        ...settingsInfo(flow),
      },
    });
    res.locals.oauthEvent = 'authorization';
    back({ code: ourCode });
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
