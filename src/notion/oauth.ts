import type { Client } from '@notionhq/client';
import type { Config } from '../config.js';

/** What we keep from Notion's token response (refresh_token may be null). */
export interface NotionTokenResponse {
  access_token: string;
  refresh_token: string | null;
  bot_id: string;
  workspace_id: string;
  workspace_name: string | null;
  owner:
    | { type: 'user'; user: { id: string; name?: string | null; person?: { email?: string } } }
    | { type: 'workspace'; workspace: true };
}

/**
 * Notion's authorize page for our static integration, `owner=user`, coming back to
 * `<BASE_URL>/oauth/callback` with `state`. Used by the connector flow and the /connections sign-in.
 */
export function notionAuthorizeUrl(config: Config, state: string): string {
  const url = new URL(config.notion.authorizeUrl);
  url.searchParams.set('client_id', config.notion.clientId);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('owner', 'user');
  url.searchParams.set('redirect_uri', `${config.baseUrl}/oauth/callback`);
  url.searchParams.set('state', state);
  return url.toString();
}

/**
 * Our side of Notion's OAuth for public integrations: Basic auth with our static client,
 * JSON bodies, all under NOTION_API_BASE_URL (/v1/oauth/token, /introspect, /revoke).
 */
export class NotionOAuth {
  private readonly auth: { client_id: string; client_secret: string };

  constructor(
    private readonly client: Client,
    private readonly config: Config,
  ) {
    this.auth = { client_id: config.notion.clientId, client_secret: config.notion.clientSecret };
  }

  get redirectUri(): string {
    return `${this.config.baseUrl}/oauth/callback`;
  }

  async exchangeCode(code: string): Promise<NotionTokenResponse> {
    const res = await this.client.oauth.token({
      ...this.auth,
      grant_type: 'authorization_code',
      code,
      redirect_uri: this.redirectUri,
    });
    return res as NotionTokenResponse;
  }

  async refresh(refreshToken: string): Promise<NotionTokenResponse> {
    const res = await this.client.oauth.token({ ...this.auth, grant_type: 'refresh_token', refresh_token: refreshToken });
    return res as NotionTokenResponse;
  }

  /** Whether Notion still accepts `token` (false once revoked or its connection removed). */
  async isActive(token: string): Promise<boolean> {
    const res = await this.client.oauth.introspect({ ...this.auth, token });
    return res.active;
  }

  async revoke(token: string): Promise<void> {
    await this.client.oauth.revoke({ ...this.auth, token });
  }
}
