import type { Request, Response } from 'express';
import type { Config } from '../config.js';
import { OAuthError, PageError } from '../errors.js';
import { esc, sendConsentPage } from '../pages/html.js';
import { type Keyring, randomSecret, safeEqual, sha256 } from '../lib/crypto.js';
import { notionAuthorizeUrl } from '../notion/oauth.js';
import type { Store } from '../store/types.js';
import type { Clients } from './clients.js';
import { ensureBrowserId, readBrowserId } from './browser.js';
import { SCOPE_WRITE, TOOLSET_LABELS, type Toolset, grantScope, namedToolsets, parseRequestedScope } from './scopes.js';
import { redirectTarget, redirectUriMatches, resourceProblem } from './uris.js';

/** An authorization request that passed validation, waiting for the user's decision. */
export interface PendingAuthorization {
  clientId: string;
  clientName: string;
  redirectUri: string;
  state: string | null;
  codeChallenge: string;
  scopes: string[];
  /** The toolsets ticked when the page opened (those the app named, else TOOLSETS_DEFAULT); after consent, those chosen. */
  toolsets: Toolset[];
  /** The lockdown box, likewise (LOCKDOWN_DEFAULT when the page opened). */
  lockdown: boolean;
  /** The app named toolset scopes: it gets step-up challenges (AuthContext.stepUp). */
  stepUp: boolean;
  resource: string;
  /** SHA-256 of the browser cookie the flow is bound to. */
  browser: string;
  /** The user ticked "add more than one workspace": after each Notion round trip, the next page offers another (callback.ts). */
  addAnother?: boolean;
  /** The workspaces authorized so far in this flow, sealed under the browser cookie (callback.ts: Collected). */
  collected?: string;
  /** Set on the flow that waits for the "add another or finish" choice; never a Notion state. */
  choosing?: boolean;
}

/**
 * The toolset checkboxes and the lockdown box, for the consent page and Your connections. No
 * script: plain checkboxes in a fieldset, each labelled with what it allows.
 */
export function settingsFields(offered: readonly Toolset[], ticked: readonly Toolset[], lockdown: boolean, app = 'it'): string {
  const boxes = offered
    .map((t) => `<label><input type="checkbox" name="toolset" value="${t}"${ticked.includes(t) ? ' checked' : ''}> <strong>${esc(TOOLSET_LABELS[t].label)}</strong>: ${esc(TOOLSET_LABELS[t].line)}</label>`)
    .join('\n');
  return `<fieldset><legend>What ${esc(app)} may use</legend>
${boxes}</fieldset>
<fieldset><legend>Lockdown${app === 'it' ? '' : ` for ${esc(app)}`}</legend>
<label><input type="checkbox" name="lockdown" value="on"${lockdown ? ' checked' : ''}> Only content written by members of the workspace: leave out what guests and other integrations wrote</label></fieldset>`;
}

/** The toolsets and lockdown a settings form sent; null toolsets when none is ticked. */
export function postedSettings(body: Record<string, unknown>, offered: readonly Toolset[]): { toolsets: Toolset[] | null; lockdown: boolean } {
  const sent = [body.toolset].flat();
  const toolsets = offered.filter((t) => sent.includes(t));
  return { toolsets: toolsets.length ? toolsets : null, lockdown: body.lockdown === 'on' };
}

export interface AuthorizeDeps {
  config: Config;
  store: Store;
  clients: Clients;
  keyring: Keyring;
  now: () => number;
}

/** Redirect hosts the consent page does not flag as unfamiliar. */
const FAMILIAR_HOSTS = new Set(['claude.ai', 'claude.com']);

const CODE_CHALLENGE = /^[A-Za-z0-9._~-]{43,128}$/;

/** Longest client `state` we store, in characters (docs/reliability.md). */
export const MAX_STATE_LENGTH = 2048;

/** Appends OAuth response parameters, always with `iss` (RFC 9207). */
export function clientRedirect(config: Config, redirectUri: string, params: Record<string, string | null | undefined>): string {
  const url = new URL(redirectUri);
  for (const [k, v] of Object.entries(params)) if (v) url.searchParams.set(k, v);
  url.searchParams.set('iss', config.baseUrl);
  return url.toString();
}

function single(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new OAuthError('invalid_request', `${name} must appear once`);
  return value;
}

/**
 * GET /authorize. Client and redirect URI are checked first and their errors are shown as a
 * page, never redirected (OAuth 2.1 §4.1.2.1). So are all other errors before consent (RFC 9700
 * §4.11.2); only the user's decision on the consent page goes back to the client.
 * A valid request shows our consent page; nothing goes to Notion before the user approves.
 */
export function createAuthorizeHandler(deps: AuthorizeDeps) {
  const { config, clients } = deps;
  return async (req: Request, res: Response): Promise<void> => {
    const clientId = typeof req.query.client_id === 'string' ? req.query.client_id : '';
    if (!clientId) {
      throw new PageError('This link is incomplete', 'The request has no client_id.', 'Start the connection again from your app.');
    }
    let client;
    try {
      client = await clients.get(clientId);
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      throw new PageError('This app could not be verified', err.description, 'Ask the app maker to fix its client metadata, then try again.');
    }
    if (!client) {
      throw new PageError(
        'This app is not registered here',
        'The connector does not know this client. Its registration may have been removed.',
        'Remove the connector in your app and add it again.',
      );
    }
    const requested = req.query.redirect_uri;
    let redirectUri: string;
    if (requested === undefined && client.redirectUris.length === 1) {
      redirectUri = client.redirectUris[0]!;
    } else if (typeof requested === 'string' && redirectUriMatches(client.redirectUris, requested)) {
      redirectUri = requested;
    } else {
      throw new PageError(
        'This redirect address is not allowed',
        'The app asked to send you back to an address it did not register, so the request was stopped.',
        'Start the connection again from your app. If it keeps happening, contact the app maker.',
      );
    }

    try {
      const state = single(req, 'state') ?? null;
      if (state !== null && state.length > MAX_STATE_LENGTH) {
        throw new OAuthError('invalid_request', `state is longer than ${MAX_STATE_LENGTH} characters`);
      }
      if (single(req, 'response_type') !== 'code') {
        throw new OAuthError('unsupported_response_type', 'response_type must be code');
      }
      const challenge = single(req, 'code_challenge');
      if (!challenge) throw new OAuthError('invalid_request', 'code_challenge is required (PKCE)');
      if (single(req, 'code_challenge_method') !== 'S256') {
        throw new OAuthError('invalid_request', 'code_challenge_method must be S256');
      }
      if (!CODE_CHALLENGE.test(challenge)) throw new OAuthError('invalid_request', 'code_challenge is malformed');
      if (Array.isArray(req.query.resource)) throw new OAuthError('invalid_target', 'only one resource is supported');
      const resource = single(req, 'resource');
      if (resource !== undefined) {
        const problem = resourceProblem(resource, config.resource);
        if (problem) throw new OAuthError('invalid_target', problem);
      }
      const scopes = parseRequestedScope(single(req, 'scope'), config.toolsets.max);
      const named = namedToolsets(scopes);

      const browserId = ensureBrowserId(req, res, config);
      const consentId = randomSecret();
      const pending: PendingAuthorization = {
        clientId: client.clientId,
        clientName: client.clientName ?? 'An unnamed app',
        redirectUri,
        state,
        codeChallenge: challenge,
        scopes,
        toolsets: named ?? [...config.toolsets.default],
        lockdown: config.toolsets.lockdown,
        stepUp: named !== null,
        resource: config.resource,
        browser: sha256(browserId),
      };
      await deps.store.putFlow(sha256(consentId), 'consent', pending, deps.now() + config.ttl.flowS * 1000);
      // A private-use scheme (cursor://...) goes to an app on this device, like loopback.
      const target = redirectTarget(redirectUri);
      sendConsentPage(res, {
        clientName: pending.clientName,
        redirectHost: target.label,
        loopback: target.onDevice,
        unfamiliar: !FAMILIAR_HOSTS.has(target.hostname),
        canWrite: scopes.includes(SCOPE_WRITE),
        settings: settingsFields(config.toolsets.max, pending.toolsets, pending.lockdown),
        consentId,
        csrf: deps.keyring.sign(`csrf:${consentId}:${browserId}`),
      });
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      // No automatic redirect before the user decided (RFC 9700 §4.11.2): anyone can register
      // any https redirect URI, so an error redirect here would be an open redirector.
      throw new PageError(
        'This connection request is not valid',
        `The app sent a request this connector cannot accept (${err.code}: ${err.description}).`,
        'Start the connection again from your app. If it keeps happening, contact the app maker.',
      );
    }
  };
}

const expired = () =>
  new PageError(
    'This approval has expired',
    'The approval page was open too long, or it was already used.',
    'Go back to your app and start the connection again.',
  );

/**
 * POST /authorize: the user's decision on the consent page. Checks the single-use consent
 * record, the browser cookie and the CSRF token. Approve sends the browser to Notion with a
 * fresh single-use `state`; deny returns access_denied to the client.
 */
export function createDecisionHandler(deps: AuthorizeDeps) {
  const { config } = deps;
  return async (req: Request, res: Response): Promise<void> => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    // A form that carries the settings (`settings=1`, as ours does) says what the user ticked; one
    // without them keeps what the page had ticked.
    const chosen = body.settings === '1' ? postedSettings(body, config.toolsets.max) : null;
    if (chosen && !chosen.toolsets && body.decision === 'approve') {
      // Checked before the consent record is used, so going back to the page and retrying works.
      throw new PageError('Choose what the app may use', 'Nothing was ticked under "What it may use", so the app could not do anything.', 'Go back, tick at least one, and approve again.');
    }
    const consentId = typeof body.consent === 'string' ? body.consent : '';
    const csrf = typeof body.csrf === 'string' ? body.csrf : '';
    const browserId = readBrowserId(req, config);
    if (!consentId || !browserId) throw expired();
    const pending = (await deps.store.takeFlow(sha256(consentId), 'consent', deps.now())) as PendingAuthorization | null;
    if (!pending) throw expired();
    if (!safeEqual(pending.browser, sha256(browserId)) || !deps.keyring.verify(`csrf:${consentId}:${browserId}`, csrf)) {
      throw new PageError(
        'This approval came from somewhere else',
        'The form was not sent from the page this browser opened, so it was ignored.',
        'Go back to your app and start the connection again.',
        403,
      );
    }
    if (body.decision !== 'approve') {
      res.redirect(303, clientRedirect(config, pending.redirectUri, {
        error: 'access_denied',
        error_description: 'The user denied the request',
        state: pending.state,
      }));
      return;
    }
    const wantsWrite = body.access === 'write' && pending.scopes.includes(SCOPE_WRITE);
    // A consent opened before toolsets existed has none recorded: it asked for everything, as before.
    const toolsets = chosen?.toolsets ?? pending.toolsets ?? [...config.toolsets.max];
    const lockdown = chosen ? chosen.lockdown : (pending.lockdown ?? config.toolsets.lockdown);
    const approved: PendingAuthorization = {
      ...pending,
      scopes: grantScope(wantsWrite, toolsets).split(' '),
      toolsets,
      lockdown,
      ...(body.workspaces === 'more' ? { addAnother: true } : {}),
    };
    // The upstream state exists only from here on: after consent, single use, bound to this browser.
    const state = randomSecret();
    await deps.store.putFlow(sha256(state), 'notion', approved, deps.now() + config.ttl.flowS * 1000);
    res.redirect(303, notionAuthorizeUrl(config, state));
  };
}
