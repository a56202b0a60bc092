import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Request logs carry the path only (never the query string, which holds
 * codes and state) and never headers; the redaction list is a second line of defence.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'notion-mcp-remote' },
      redact: {
        paths: [
          'authorization',
          'cookie',
          'token',
          'access_token',
          'refresh_token',
          'code',
          'client_secret',
          'notionToken',
          '*.authorization',
          '*.cookie',
          '*.token',
          '*.access_token',
          '*.refresh_token',
          '*.code',
          '*.client_secret',
        ],
        censor: '[redacted]',
      },
    },
    destination as pino.DestinationStream | undefined,
  );
}
