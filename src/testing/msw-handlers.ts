/**
 * msw handlers that speak the agent-tether protocol in memory — HTTP
 * commands, SSE, long-poll and the WebSocket (via `ws.link`) — on the
 * reference server's core and its command dispatcher, so an app's unit tests
 * need no sockets and meet the same answers as the real server. Scripted
 * faults: drop streams after N events, error replies, slow streams, refused
 * WebSockets.
 */
import type { RequestHandler, WebSocketHandler } from 'msw';
import { API_PREFIX, limits } from '../protocol/index.js';
import type { Agent, TetherCore } from '../server.js';
import { Dispatcher } from '../server/commands/dispatcher.js';
import { createCore } from '../server/core/create-core.js';
import { AccessControl } from '../server/security/access-control.js';
import { MswFaultState, mswFaults, type MswFaults } from './msw/faults.js';
import { httpHandlers } from './msw/http-handlers.js';
import type { MswHost } from './msw/msw-host.js';
import { mswModule } from './msw/msw-module.js';
import { resolveMswOptions, type MswHandlersOptions } from './msw/msw-options.js';
import { websocketHandler } from './msw/websocket-handler.js';
import { scriptedAgent, type ScriptedAgent } from './scripted-agent.js';

export type { InjectedError, MswFaults } from './msw/faults.js';
export { MSW_HANDLERS_DEFAULTS, type MswHandlersOptions } from './msw/msw-options.js';

/** What {@link createMswHandlers} returns. */
export interface MswTether<A extends Agent = Agent> extends AsyncDisposable {
  /** Pass these to `setupServer(...handlers)` / `setupWorker(...handlers)` or `server.use(...)`. */
  readonly handlers: Array<RequestHandler | WebSocketHandler>;
  /** The in-memory core (sessions, logs, turns): inspect or drive it directly. */
  readonly core: TetherCore;
  /** The agent in use: a `ScriptedAgent` (`calls`, `nextCall()`) unless you passed `agent`. */
  readonly agent: A;
  readonly faults: MswFaults;
  /** Ends every stream and turn (`shutting_down`), stops heartbeats. Idempotent. */
  close(): Promise<void>;
}

/**
 * Creates msw handlers that serve the agent-tether protocol from memory at
 * `baseUrl`. The WebSocket handler intercepts the global `WebSocket` (pass
 * `WebSocket: globalThis.WebSocket` to the client in Node). Needs the
 * optional peer dependency `msw`; everything else in `agent-tether/testing`
 * works without it.
 *
 * @throws {Error} when msw is not installed, naming the package to install
 * @example
 * import { setupServer } from 'msw/node';
 * import { createMswHandlers } from 'agent-tether/testing';
 *
 * const tether = createMswHandlers({ baseUrl: 'http://tether.test', script: [{ delta: 'Hi' }] });
 * const server = setupServer(...tether.handlers);
 * server.listen();
 * tether.faults.dropStreamsAfter(3); // the app must resume without losing events
 * // … afterwards:
 * server.close();
 * await tether.close();
 */
export function createMswHandlers<A extends Agent>(options: MswHandlersOptions & { agent: A }): MswTether<A>;
export function createMswHandlers(options: MswHandlersOptions & { agent?: undefined }): MswTether<ScriptedAgent>;
export function createMswHandlers(options: MswHandlersOptions): MswTether;
export function createMswHandlers(options: MswHandlersOptions): MswTether {
  mswModule();
  const { base, heartbeatMs, sseRetryMs, logger } = resolveMswOptions(options);
  const agent = options.agent ?? scriptedAgent(options.script);
  const core = createCore({ agent, logger, ...(options.store === undefined ? {} : { store: options.store }) });
  const started = core.start();
  const host: MswHost = {
    dispatcher: new Dispatcher(core, {
      logger,
      maxPollEvents: limits.maxPollEvents,
      access: new AccessControl({ authenticate: options.authenticate, authorize: options.authorize }),
    }),
    started,
    faults: new MswFaultState(),
    streams: new Set(),
    heartbeatMs,
    sseRetryMs,
    base: base.href.replace(/\/$/, ''),
  };
  const wsBase = new URL(base.href);
  wsBase.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
  const handlers: Array<RequestHandler | WebSocketHandler> = [
    ...httpHandlers(host),
    websocketHandler(host, wsBase.href.replace(/\/$/, '') + `${API_PREFIX}/ws`),
  ];

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await started.catch(() => {});
      await core.shutdown();
      for (const stream of [...host.streams]) stream.abort();
      host.streams.clear();
    })();
    return closing;
  };

  return { handlers, core, agent, faults: mswFaults(host.faults), close, [Symbol.asyncDispose]: close };
}
