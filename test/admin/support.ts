import type { FakeNotion } from '../helpers/fake-notion.js';
import { type Stack, startStack } from '../helpers/stack.js';

/**
 * Starts the app again on a data directory a previous stack wrote, on the same BASE_URL and port:
 * tokens are bound to `<BASE_URL>/mcp`, and startStack would otherwise pick a new port.
 */
export async function startAgain(
  prev: { baseUrl: string },
  opts: { fake: FakeNotion; dataDir: string; env?: Record<string, string> },
): Promise<Stack> {
  // Let this process's HTTP clients see the old server's closed keep-alive sockets.
  await new Promise((r) => setTimeout(r, 50));
  const s = await startStack({
    fake: opts.fake,
    dataDir: opts.dataDir,
    env: { BASE_URL: prev.baseUrl, PORT: new URL(prev.baseUrl).port, ...opts.env },
  });
  return { ...s, baseUrl: prev.baseUrl, app: s.app };
}
