import type { Config } from '../config.js';
import { AUTH_METHODS } from './register.js';
import { ALL_SCOPES, toolsetScope } from './scopes.js';

/** RFC 8414 authorization server metadata. `issuer` is BASE_URL byte for byte, no trailing slash. */
export function authorizationServerMetadata(config: Config): Record<string, unknown> {
  const base = config.baseUrl;
  return {
    issuer: base,
    authorization_endpoint: `${base}/authorize`,
    token_endpoint: `${base}/token`,
    registration_endpoint: `${base}/register`,
    revocation_endpoint: `${base}/revoke`,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: AUTH_METHODS,
    revocation_endpoint_auth_methods_supported: AUTH_METHODS,
    // Every scope we grant, toolsets included (within TOOLSETS_MAX). An app that asks for toolset
    // scopes by name gets step-up challenges (mcp-route.ts).
    scopes_supported: [...ALL_SCOPES, ...config.toolsets.max.map(toolsetScope)],
    client_id_metadata_document_supported: true,
    authorization_response_iss_parameter_supported: true,
  };
}

/** RFC 9728 protected resource metadata for /mcp. */
export function protectedResourceMetadata(config: Config): Record<string, unknown> {
  return {
    resource: config.resource,
    authorization_servers: [config.baseUrl],
    bearer_methods_supported: ['header'],
    // The minimal set (MCP authorization, scope selection): apps asking for it get the consent page
    // with the operator's default toolsets ticked; toolset scopes come by step-up.
    scopes_supported: ALL_SCOPES,
    resource_name: 'Notion',
  };
}

export function resourceMetadataUrl(config: Config): string {
  return `${config.baseUrl}/.well-known/oauth-protected-resource/mcp`;
}
