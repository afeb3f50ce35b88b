/** The reference server: the core, the dispatcher and the Node HTTP and WebSocket hosts on one port. */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { TetherCore } from './core/tether-core.js';
import { waitAtMost } from '../internal/clock.js';
import type { Connection, HostContext } from './hosts/context.js';
import { Dispatcher } from './commands/dispatcher.js';
import { handleRequest } from './hosts/handle-request.js';
import { handleUpgrade } from './hosts/upgrade.js';
import { resolveServerOptions, type ServerOptions } from './options.js';
import { RequestLimits, type LimitStats } from './limits/request-limits.js';
import { repeatLimitedLogger } from '../logging/repeat-limited-logger.js';
import { AccessControl } from './security/access-control.js';
import { selectSubprotocol } from './security/credentials.js';
import { OriginPolicy } from './security/origins.js';
import { FairShare } from './hosts/fair-share.js';
import type { SessionAccess } from './security/principal.js';

/** Per-connection numbers from {@link TetherServer.stats}. */
export interface ConnectionStats {
  id: number;
  kind: 'websocket' | 'sse';
  clientId: string | undefined;
  /** Bytes handed to the socket but not yet flushed to the kernel. */
  bufferedBytes: number;
  /** Highest `bufferedBytes` seen on this connection. */
  peakBufferedBytes: number;
  /** Bytes flushed so far. */
  writtenBytes: number;
  subscriptions: number;
}

/** What {@link TetherServer.stats} reports. */
export interface ServerStats {
  sessions: number;
  /** Events held in memory, over all sessions (at most `maxEventsPerSession` each). */
  events: number;
  /** UTF-8 bytes of those events. */
  bytes: number;
  runningTurns: number;
  queuedTurns: number;
  /** Long-poll requests waiting for events. */
  pendingPolls: number;
  connections: ConnectionStats[];
  /** Requests refused by the limits (429), open connections, connections closed for not reading. */
  limits: LimitStats;
}

/** Options of {@link TetherServer.close}. */
export interface CloseOptions {
  /** Give up flushing and close handshakes after this long. @default the server's `shutdownTimeoutMs` */
  timeoutMs?: number;
}

/** The reference server returned by {@link createServer}. */
export interface TetherServer {
  /** Start listening (port 0 picks a free port). Loads the store first. @default port 0, host: the `host` option ('127.0.0.1') */
  listen(port?: number, host?: string): Promise<{ url: string; port: number }>;
  /**
   * Share a session with more principals (added to its `sharedWith`, stored);
   * with the default `authorize` they may then read, subscribe, prompt and cancel it.
   *
   * @throws {ServerError} `session_not_found` (404), `store_unavailable` (503)
   */
  shareSession(sessionId: string, principalIds: readonly string[]): Promise<SessionAccess>;
  /** Graceful shutdown (F7). Idempotent. */
  close(options?: CloseOptions): Promise<void>;
  /** The base URL once listening (`http://host:port`), else `undefined`. */
  readonly url: string | undefined;
  /** The transport-independent core (sessions, logs, turns); for tests and embedding. */
  readonly core: TetherCore;
  /** Numbers for tests and benchmarks: sessions, events held, turns, and per-connection buffered bytes. */
  stats(): ServerStats;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Create the protocol's reference server on `node:http` and `ws`.
 *
 * Shutdown (`close()`): new prompts get `503 shutting_down`; every queued or
 * running turn ends with `turn.error` `shutting_down` (retryable); each
 * stream flushes what the log holds for it, then SSE streams end and sockets
 * close with 1001; pending long-polls are answered; all bounded by
 * `shutdownTimeoutMs`, after which what is left is cut.
 *
 * @example
 * const server = createServer({ agent: demoAgent() });
 * const { url } = await server.listen(0, '127.0.0.1');
 * await server.close();
 */
export function createServer(options: ServerOptions): TetherServer {
  const resolved = resolveServerOptions(options);
  // A client can make the server log (aborted bodies, bad frames): identical lines are rate-limited.
  resolved.logger = repeatLimitedLogger(resolved.logger, { maxLines: resolved.maxRepeatedLogLines, windowMs: resolved.repeatedLogWindowMs, clock: resolved.clock });
  const { clock, logger } = resolved;
  const core = new TetherCore({
    agent: resolved.agent,
    store: resolved.store,
    clock,
    logger,
    maxEventsPerSession: resolved.maxEventsPerSession,
    cancelGraceMs: resolved.cancelGraceMs,
    maxSnapshotTurns: resolved.maxSnapshotTurns,
    sessionIdleMs: resolved.sessionIdleMs,
    idempotencyTtlMs: resolved.idempotencyTtlMs,
    inputPolicy: resolved.inputPolicy,
    maxSnapshotTextChars: resolved.maxSnapshotTextChars,
  });
  let closing = false;
  let connectionIds = 0;
  const ctx: HostContext = {
    dispatcher: new Dispatcher(core, {
      logger,
      maxPollEvents: resolved.maxPollEvents,
      access: new AccessControl({ authenticate: resolved.authenticate, authorize: resolved.authorize, trustProxy: resolved.trustProxy }),
    }),
    options: resolved,
    origins: new OriginPolicy(resolved.allowedOrigins, resolved.authenticate !== undefined, resolved.cors),
    connections: new Set<Connection>(),
    polls: new Set(),
    isClosing: () => closing,
    nextConnectionId: () => ++connectionIds,
    batchBytes: Math.max(1024, Math.floor(resolved.highWaterBytes / 4)),
    share: new FairShare(),
    limits: new RequestLimits(resolved, clock, async (sessionId) => {
      try {
        return (await core.getSession(sessionId))?.queuedTurnIds.length;
      } catch {
        return undefined; // the prompt itself will meet the failure and answer it
      }
    }),
  };

  const http: HttpServer = createHttpServer(
    {
      // Slow clients (slowloris): headers, then the whole request, each within its time;
      // Node checks every `connectionsCheckingInterval`, so it follows the shorter timeout.
      headersTimeout: resolved.headersTimeoutMs,
      requestTimeout: resolved.requestTimeoutMs,
      keepAliveTimeout: resolved.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.min(30_000, Math.max(50, Math.floor(resolved.headersTimeoutMs / 4))),
    },
    (req, res) => {
      void handleRequest(ctx, req, res);
    },
  );
  // No traffic either way for this long: the socket is closed (SSE and WebSocket opt out; they have heartbeats).
  http.setTimeout(resolved.idleSocketTimeoutMs);
  http.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    logger.debug?.({ err: error }, 'agent-tether: client error');
    const timedOut = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    if (timedOut) ctx.limits.timedOut();
    if (socket.writable) socket.end(`HTTP/1.1 ${timedOut ? '408 Request Timeout' : '400 Bad Request'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    else socket.destroy();
  });

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: resolved.maxFrameBytes,
    clientTracking: false,
    // autoPong off: the WebSocket host answers pings itself, counted in the connection's write budget.
    autoPong: false,
    // Select agent-tether.v1, never echo the subprotocol that carries the token.
    handleProtocols: (offered) => selectSubprotocol(offered),
  });
  wss.on('error', (error) => logger.error?.({ err: error }, 'agent-tether: websocket server error'));
  http.on('upgrade', (req, socket: Socket, head: Buffer) => {
    handleUpgrade(ctx, wss, req, socket, head).catch((error: unknown) => {
      logger.error?.({ err: error }, 'agent-tether: websocket upgrade failed');
      socket.destroy();
    });
  });

  let url: string | undefined;
  let closePromise: Promise<void> | undefined;

  async function shutdown(timeoutMs: number): Promise<void> {
    closing = true;
    const deadline = clock.now() + timeoutMs;
    const httpClosed = new Promise<void>((resolve) => {
      if (!http.listening) return resolve();
      http.close(() => resolve());
    });
    // Ends every turn and closes the logs, so every stream has a finite tail.
    // A cluster node drains first (running turns end here, queued ones move) for half the budget.
    await waitAtMost(clock, core.shutdown({ drainMs: Math.floor(timeoutMs / 2) }), timeoutMs);
    await waitAtMost(clock, Promise.all([...ctx.polls]), deadline - clock.now());
    await Promise.all([...ctx.connections].map((connection) => connection.shutdown(deadline)));
    http.closeAllConnections();
    await waitAtMost(clock, httpClosed, Math.max(0, deadline - clock.now()) + 100);
    wss.close();
  }

  const server: TetherServer = {
    async listen(port = 0, host = resolved.host) {
      if (closing) throw new Error('createServer: the server is closed');
      await core.start();
      await new Promise<void>((resolve, reject) => {
        const onError = (error: Error) => reject(error);
        http.once('error', onError);
        http.listen(port, host, () => {
          http.off('error', onError);
          resolve();
        });
      });
      // After start-up a server error (e.g. EMFILE) is logged, never an uncaught 'error' event.
      http.on('error', (error) => logger.error?.({ err: error }, 'agent-tether: http server error'));
      const address = http.address() as AddressInfo;
      const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      url = `http://${hostPart}:${address.port}`;
      if (!resolved.authenticate) {
        logger.warn?.(
          { url, host: address.address },
          `agent-tether: running without authentication: anyone who can reach ${url} may read, prompt and cancel every session (set \`authenticate\` before exposing it)`,
        );
      }
      return { url, port: address.port };
    },
    close(closeOptions: CloseOptions = {}) {
      closePromise ??= shutdown(closeOptions.timeoutMs ?? resolved.shutdownTimeoutMs);
      return closePromise;
    },
    get url() {
      return url;
    },
    shareSession: (sessionId, principalIds) => core.shareSession(sessionId, principalIds),
    core,
    stats() {
      return {
        ...core.stats(),
        pendingPolls: ctx.polls.size,
        limits: ctx.limits.stats(),
        connections: [...ctx.connections].map((connection) => ({
          id: connection.id,
          kind: connection.kind,
          clientId: connection.clientId,
          bufferedBytes: connection.budget.pending,
          peakBufferedBytes: connection.budget.peak,
          writtenBytes: connection.budget.written,
          subscriptions: connection.subscriptionCount(),
        })),
      };
    },
    [Symbol.asyncDispose]() {
      return server.close();
    },
  };
  return server;
}
