import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { TEST_SECRET } from '../helpers/stack.js';

const base = { NOTION_OAUTH_CLIENT_ID: 'id', NOTION_OAUTH_CLIENT_SECRET: 'secret', BASE_URL: 'https://mcp.example.com', SESSION_SECRET: TEST_SECRET };

describe('operations variables', () => {
  it('have generous defaults', () => {
    const c = loadConfig(base);
    expect(c.rateLimits).toEqual({ registerPerHour: 300, authorizePerMinute: 300, tokenPerMinute: 600, mcpPerMinute: 600 });
    expect(c.maxClients).toBe(10_000);
    expect(c.clientIdleMs).toBe(30 * 86_400_000);
    expect(c.metricsToken).toBeNull();
  });

  it('are read from the environment', () => {
    const c = loadConfig({ ...base, RATE_LIMIT_MCP_PER_MINUTE: '7', MAX_CLIENTS: '5', CLIENT_IDLE_DAYS: '2', METRICS_TOKEN: 'tok' });
    expect(c.rateLimits.mcpPerMinute).toBe(7);
    expect(c.maxClients).toBe(5);
    expect(c.clientIdleMs).toBe(2 * 86_400_000);
    expect(c.metricsToken).toBe('tok');
  });

  it('reject a zero or fractional limit, naming the variable', () => {
    for (const [name, value] of [['RATE_LIMIT_TOKEN_PER_MINUTE', '0'], ['MAX_CLIENTS', '1.5'], ['CLIENT_IDLE_DAYS', 'soon']] as const) {
      let caught: unknown;
      try {
        loadConfig({ ...base, [name]: value });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).message).toContain(name);
    }
  });
});
