import { Client, LogLevel, type Logger as NotionLogger } from '@notionhq/client';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { keepAliveFetch } from './fetch.js';
import type { NotionMetrics } from './session.js';

/**
 * One Notion SDK client for every user: the user's token is passed per call (`auth`), so no
 * per-request client or connection pool is built. Every call goes under NOTION_API_BASE_URL
 * and sends the pinned Notion-Version. Retries are ours (see tool runner), not the SDK's.
 * Reads by GET go through `NotionSession.get`. Aborting `stopping` (shutdown) ends its calls.
 */
export function createNotionClient(
  config: Config,
  log: Logger,
  retry: false | { maxRetries: number } = false,
  stopping?: AbortSignal,
  metrics?: Pick<NotionMetrics, 'notionLatencyOf'>,
): Client {
  const logger: NotionLogger = (level, message, extra) => {
    // The SDK's log records carry method, path and error codes only, never tokens.
    log.debug({ notion: extra, level }, `notion: ${message}`);
  };
  return new Client({
    baseUrl: config.notion.apiBaseUrl,
    notionVersion: config.notion.version,
    // Our fetch times out first and closes the socket; the SDK's timer is only a backstop.
    timeoutMs: config.notion.timeoutMs + 500,
    fetch: keepAliveFetch({ deadlineMs: config.notion.timeoutMs, stopping, ...(metrics ? { observe: (g, s) => metrics.notionLatencyOf(g, s) } : {}) }),
    logLevel: LogLevel.WARN,
    logger,
    retry: retry === false ? false : { maxRetries: retry.maxRetries, initialRetryDelayMs: 500, maxRetryDelayMs: 2000 },
  });
}
