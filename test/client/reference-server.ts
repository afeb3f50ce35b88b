import { afterEach, beforeEach } from 'vitest';
import { createClient, type Client, type ClientOptions } from '../../src/index.js';
import { createServer } from '../../src/server.js';

type Server = ReturnType<typeof createServer>;

/**
 * A reference server on 127.0.0.1:0 per test running `agent`, and clients
 * made with `client()` closed after each test, server last.
 */
export function useReferenceServer(agent: unknown) {
  const state = { server: undefined as unknown as Server, url: '' };
  const clients: Client[] = [];
  beforeEach(async () => {
    state.server = createServer({ agent: agent as never, logger: {} as never });
    ({ url: state.url } = await state.server.listen(0, '127.0.0.1'));
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await state.server.close();
  });
  return {
    get server(): Server {
      return state.server;
    },
    get url(): string {
      return state.url;
    },
    client(options: Partial<ClientOptions> = {}): Client {
      const c = createClient({ baseUrl: state.url, requestTimeoutMs: 5000, ...options });
      clients.push(c);
      return c;
    },
  };
}
