import { Client, LogLevel, type Logger as NotionLogger } from '@notionhq/client';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { keepAliveFetch } from './fetch.js';

/**
 * One Notion SDK client for every user: the user's token is passed per call (`auth`), so no
 * per-request client or connection pool is built. Every call goes under NOTION_API_BASE_URL
 * and sends the pinned Notion-Version. Retries are ours (see tool runner), not the SDK's.
 * Reads by GET go through `NotionSession.get`.
 */
export function createNotionClient(config: Config, log: Logger, retry: false | { maxRetries: number } = false): Client {
  const logger: NotionLogger = (level, message, extra) => {
    // The SDK's log records carry method, path and error codes only, never tokens.
    log.debug({ notion: extra, level }, `notion: ${message}`);
  };
  return new Client({
    baseUrl: config.notion.apiBaseUrl,
    notionVersion: config.notion.version,
    timeoutMs: config.notion.timeoutMs,
    fetch: keepAliveFetch({ deadlineMs: config.notion.timeoutMs + 500 }),
    logLevel: LogLevel.WARN,
    logger,
    retry: retry === false ? false : { maxRetries: retry.maxRetries, initialRetryDelayMs: 500, maxRetryDelayMs: 2000 },
  });
}
