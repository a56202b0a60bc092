import { existsSync } from 'node:fs';
import { createApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './log.js';
import { LONGEST_PAUSE_MS } from './notion/session.js';
import { StoreOpenError } from './store/sqlite.js';

/** Below the usual 30 s grace period (Kubernetes, systemd) before a SIGKILL. */
const SHUTDOWN_TIMEOUT_MS = 25_000;
/** Time to send the answers of the tool calls ended at shutdown, and to close the store. */
const ANSWER_MARGIN_MS = 1_000;
/**
 * Notion calls still running this long after SIGTERM are ended, and their tool calls answer with a
 * `shutting_down` tool error: one read on a hung Notion alone takes two NOTION_TIMEOUT_SECONDS,
 * longer than the drain. The rest of the drain covers the longest pause a call can be sleeping in
 * (it sees the stop when it wakes) and the answers: 25 s - 10 s - 1 s = 14 s.
 */
const STOP_NOTION_AFTER_MS = SHUTDOWN_TIMEOUT_MS - LONGEST_PAUSE_MS - ANSWER_MARGIN_MS;

/** Entry point: .env, config, app, listen; SIGTERM/SIGINT drain and exit 0. */
async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const config = loadConfig(process.env);
  const log = createLogger(config.logLevel);
  const app = createApp(config, { log });
  await app.listen();
  log.info({ baseUrl: config.baseUrl, host: config.host, port: config.port, tools: app.registry.size, tracing: config.tracing !== null }, `listening; connector URL ${config.resource}`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    // A request that does not finish in time must not keep the process alive past the orchestrator's kill.
    setTimeout(() => {
      log.error({ timeoutMs: SHUTDOWN_TIMEOUT_MS }, 'in-flight requests did not finish; exiting');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS).unref();
    app.close(STOP_NOTION_AFTER_MS).then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  // One readable line for operator mistakes; no stack trace.
  if (err instanceof ConfigError || err instanceof StoreOpenError) {
    process.stderr.write(`notion-mcp-remote: ${err.message}\n`);
  } else if ((err as { code?: string }).code === 'EADDRINUSE') {
    process.stderr.write(`notion-mcp-remote: the port is already in use: set PORT to a free port\n`);
  } else {
    process.stderr.write(`notion-mcp-remote: failed to start: ${(err as Error).stack ?? String(err)}\n`);
  }
  process.exit(1);
});
