/**
 * A real reference server on loopback, driven by a scripted agent, for
 * integration tests: one call to start, one to stop.
 */
import { createServer, type Agent, type ServerOptions, type TetherServer } from '../server.js';
import { scriptedAgent, type Script, type ScriptedAgent } from './scripted-agent.js';

/** Options of {@link createTestServer}: every `createServer` option, plus where to listen and what the agent does. */
export interface TestServerOptions extends Partial<Omit<ServerOptions, 'agent'>> {
  /**
   * The agent's script (see `scriptedAgent`). Mutually exclusive with `agent`.
   * @default echoScript — `echo: <prompt>`, one word per delta
   */
  script?: Script;
  /** A complete agent instead of a script. Mutually exclusive with `script`. */
  agent?: Agent;
  /**
   * Interface to listen on.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * Port; `0` picks a free one.
   * @default 0
   */
  port?: number;
}

/** Defaults of {@link TestServerOptions} (the rest default as in `createServer`). */
export const TEST_SERVER_DEFAULTS = {
  host: '127.0.0.1',
  port: 0,
} as const satisfies Required<Pick<TestServerOptions, 'host' | 'port'>>;

/** A running test server; `A` is its agent's type (`ScriptedAgent` unless you passed `agent`). */
export interface TestServer<A extends Agent = Agent> extends AsyncDisposable {
  /** Base URL, e.g. `http://127.0.0.1:41234`: the client's `baseUrl`, or a fault proxy's `target`. */
  readonly url: string;
  readonly port: number;
  /** The reference server itself (`core`, `stats()`, …). */
  readonly server: TetherServer;
  /** The agent in use: a `ScriptedAgent` (with `calls`, `nextCall()`) unless you passed `agent`. */
  readonly agent: A;
  /** Graceful shutdown of the server (idempotent). */
  close(): Promise<void>;
}

/**
 * Starts the reference server on `127.0.0.1:0` with a scripted agent.
 *
 * @example
 * import { createTestServer } from 'agent-tether/testing';
 *
 * await using server = await createTestServer({
 *   script: ({ prompt }) => (prompt === 'wait' ? [{ hang: true }] : [{ delta: 'ok' }]),
 * });
 * await using client = createClient({ baseUrl: server.url });
 */
export function createTestServer<A extends Agent>(options: TestServerOptions & { agent: A }): Promise<TestServer<A>>;
export function createTestServer(options?: TestServerOptions & { agent?: undefined }): Promise<TestServer<ScriptedAgent>>;
export function createTestServer(options?: TestServerOptions): Promise<TestServer>;
export async function createTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('createTestServer: `options` must be an object');
  }
  const { script, agent: givenAgent, host: givenHost, port: givenPort, ...serverOptions } = options;
  if (script !== undefined && givenAgent !== undefined) {
    throw new TypeError('createTestServer: pass either `script` or `agent`, not both');
  }
  if (givenAgent !== undefined && typeof givenAgent !== 'function') {
    throw new TypeError('createTestServer: `agent` must be a function returning an AsyncIterable of chunks');
  }
  const host = givenHost ?? TEST_SERVER_DEFAULTS.host;
  if (typeof host !== 'string' || host === '') throw new TypeError('createTestServer: `host` must be a non-empty string');
  const port = givenPort ?? TEST_SERVER_DEFAULTS.port;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new TypeError(`createTestServer: \`port\` must be an integer 0–65535, got ${String(port)}`);
  }
  const agent = givenAgent ?? scriptedAgent(script);
  const server = createServer({ ...serverOptions, agent });
  let address: { url: string; port: number };
  try {
    address = await server.listen(port, host);
  } catch (error) {
    await server.close();
    throw error;
  }
  const close = () => server.close();
  return {
    url: address.url,
    port: address.port,
    server,
    agent,
    close,
    [Symbol.asyncDispose]: close,
  };
}
