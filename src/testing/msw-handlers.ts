/**
 * msw handlers that speak the agent-tether protocol in memory — HTTP
 * commands, SSE, long-poll and the WebSocket (via `ws.link`) — on the
 * reference server's transport-independent core, so an app's unit tests need
 * no sockets. Scripted faults: drop streams after N events, error replies,
 * slow streams, refused WebSockets.
 */
import { http, HttpResponse, ws, type RequestHandler, type WebSocketHandler } from 'msw';
import {
  API_PREFIX,
  CancelRequest,
  closeCodes,
  CreateSessionRequest,
  limits,
  PromptRequest,
  type ErrorInfo,
  type ResetInfo,
  type SessionEvent,
} from '../protocol/index.js';
import { ServerError, type Agent, type EventCursor, type Logger, type TetherCore } from '../server.js';
import { createCore } from '../server/core/create-core.js';
import { decodeClientFrame, parseBody, parseCursor } from '../server/core/request-input.js';
import { scriptedAgent, type Script } from './scripted-agent.js';

/** Options of {@link createMswHandlers}. */
export interface MswHandlersOptions {
  /** Base URL the app's client is configured with, e.g. `http://tether.test`. Required. */
  baseUrl: string;
  /**
   * The agent's script. Mutually exclusive with `agent`.
   * @default echoScript
   */
  script?: Script;
  /** A complete agent instead of a script. */
  agent?: Agent;
  /**
   * SSE `: ping` period; `0` turns heartbeats off.
   * @default 15000
   */
  heartbeatMs?: number;
  /**
   * `retry:` sent at the start of each SSE stream.
   * @default 1000
   */
  sseRetryMs?: number;
  /**
   * Diagnostics sink of the core.
   * @default {} (silent)
   */
  logger?: Logger;
}

/** Defaults of {@link MswHandlersOptions}. */
export const MSW_HANDLERS_DEFAULTS = {
  heartbeatMs: 15_000,
  sseRetryMs: 1_000,
  logger: {},
} as const satisfies Required<Omit<MswHandlersOptions, 'baseUrl' | 'script' | 'agent'>>;

/** An error reply that {@link MswFaults.failNext} injects. */
export interface InjectedError {
  /** @default 503 */
  status?: number;
  /** @default 'unavailable' */
  code?: string;
  /** @default 'Injected failure' */
  message?: string;
}

/** Faults of the in-memory server; each stays in force until changed (`heal()` clears all). */
export interface MswFaults {
  /**
   * Each event stream opened from now on (an SSE response or a WebSocket)
   * drops after delivering `n` events (a WebSocket counts the events of all its
   * subscriptions): SSE errors its body mid-stream (msw in Node shows that to
   * `fetch` as the body ending — a stream ending without a terminal), a
   * WebSocket closes with 1006, no clean close. `null` turns it off.
   */
  dropStreamsAfter(n: number | null): void;
  /**
   * The next `count` commands (HTTP `POST`/`GET` except event streams, and
   * WebSocket command frames) fail with `error` instead of running.
   * @default count 1
   */
  failNext(count?: number, error?: InjectedError): void;
  /** Waits `ms` before delivering each event (SSE, WebSocket, long-poll). `null`: off. */
  slowStreams(ms: number | null): void;
  /** While on, WebSocket connections are closed (1006) before the welcome frame. */
  refuseWebSocket(on: boolean): void;
  /** Turns every fault off. */
  heal(): void;
}

/** What {@link createMswHandlers} returns. */
export interface MswTether extends AsyncDisposable {
  /** Pass these to `setupServer(...handlers)` / `setupWorker(...handlers)` or `server.use(...)`. */
  readonly handlers: Array<RequestHandler | WebSocketHandler>;
  /** The in-memory core (sessions, logs, turns): inspect or drive it directly. */
  readonly core: TetherCore;
  /** The agent in use (a `ScriptedAgent` unless you passed `agent`). */
  readonly agent: Agent;
  readonly faults: MswFaults;
  /** Ends every stream and turn (`shutting_down`), stops heartbeats. Idempotent. */
  close(): Promise<void>;
}

interface FaultConfig {
  dropAfter: number | null;
  failures: Array<Required<InjectedError>>;
  slowMs: number;
  refuseWebSocket: boolean;
}

/**
 * Creates msw handlers that serve the agent-tether protocol from memory at
 * `baseUrl`. The WebSocket handler intercepts the global `WebSocket` (pass
 * `WebSocket: globalThis.WebSocket` to the client in Node).
 *
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
export function createMswHandlers(options: MswHandlersOptions): MswTether {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('createMswHandlers: `options` must be an object with a `baseUrl`');
  }
  let base: URL;
  try {
    base = new URL(options.baseUrl);
  } catch {
    throw new TypeError(`createMswHandlers: \`baseUrl\` must be an http(s) URL, got ${JSON.stringify(options.baseUrl)}`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new TypeError(`createMswHandlers: \`baseUrl\` must be an http(s) URL, got ${JSON.stringify(options.baseUrl)}`);
  }
  if (options.script !== undefined && options.agent !== undefined) {
    throw new TypeError('createMswHandlers: pass either `script` or `agent`, not both');
  }
  const heartbeatMs = options.heartbeatMs ?? MSW_HANDLERS_DEFAULTS.heartbeatMs;
  if (!(Number.isFinite(heartbeatMs) && heartbeatMs >= 0)) {
    throw new TypeError('createMswHandlers: `heartbeatMs` must be a non-negative number');
  }
  const sseRetryMs = options.sseRetryMs ?? MSW_HANDLERS_DEFAULTS.sseRetryMs;
  if (!(Number.isInteger(sseRetryMs) && sseRetryMs >= 0)) {
    throw new TypeError('createMswHandlers: `sseRetryMs` must be a non-negative integer');
  }
  const agent = options.agent ?? scriptedAgent(options.script);
  const core = createCore({ agent, logger: options.logger ?? MSW_HANDLERS_DEFAULTS.logger });
  const started = core.start();
  const prefix = base.href.replace(/\/$/, '') + API_PREFIX;
  const wsBase = new URL(base.href);
  wsBase.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
  const wsUrl = wsBase.href.replace(/\/$/, '') + `${API_PREFIX}/ws`;

  const config: FaultConfig = { dropAfter: null, failures: [], slowMs: 0, refuseWebSocket: false };
  const streams = new Set<AbortController>();
  let closing: Promise<void> | undefined;

  const faults: MswFaults = {
    dropStreamsAfter(n) {
      if (n !== null && !(Number.isSafeInteger(n) && n >= 0)) {
        throw new TypeError('dropStreamsAfter: `n` must be a non-negative integer or null');
      }
      config.dropAfter = n;
    },
    failNext(count = 1, error = {}) {
      if (!(Number.isSafeInteger(count) && count >= 1)) throw new TypeError('failNext: `count` must be a positive integer');
      const status = error.status ?? 503;
      if (!(Number.isInteger(status) && status >= 400 && status <= 599)) {
        throw new TypeError('failNext: `status` must be an HTTP error status (400–599)');
      }
      const failure = { status, code: error.code ?? 'unavailable', message: error.message ?? 'Injected failure' };
      for (let i = 0; i < count; i++) config.failures.push(failure);
    },
    slowStreams(ms) {
      if (ms !== null && !(Number.isFinite(ms) && ms >= 0)) throw new TypeError('slowStreams: `ms` must be a non-negative number or null');
      config.slowMs = ms ?? 0;
    },
    refuseWebSocket(on) {
      if (typeof on !== 'boolean') throw new TypeError('refuseWebSocket: `on` must be a boolean');
      config.refuseWebSocket = on;
    },
    heal() {
      config.dropAfter = null;
      config.failures = [];
      config.slowMs = 0;
      config.refuseWebSocket = false;
    },
  };

  const takeFailure = (): ServerError | undefined => {
    const failure = config.failures.shift();
    return failure && new ServerError(failure.code, failure.message, failure.status);
  };

  /** Runs an HTTP command: injected failures first, every error as the protocol's JSON body. */
  const command = (run: (request: Request, params: Record<string, string>, url: URL) => Promise<Response> | Response) =>
    async ({ request, params }: { request: Request; params: Record<string, string | readonly string[] | undefined> }) => {
      try {
        await started;
        const injected = takeFailure();
        if (injected) throw injected;
        return await run(request, params as Record<string, string>, new URL(request.url));
      } catch (error) {
        const serverError =
          error instanceof ServerError ? error : new ServerError('internal_error', 'The server failed to handle the request', 500);
        return errorResponse(serverError);
      }
    };

  const sleep = (ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });

  /**
   * Feeds a session's events from the cursor to `deliver` until `signal`
   * aborts, the log ends, or `budget` (the drop fault) runs out — then `drop`.
   * Resolves `'ended' | 'dropped' | 'aborted'`.
   */
  const streamEvents = async (
    cursor: EventCursor,
    signal: AbortSignal,
    budget: { left: number } | null,
    deliver: { reset(reset: ResetInfo): void; events(events: SessionEvent[]): void },
  ): Promise<'ended' | 'dropped' | 'aborted'> => {
    while (!signal.aborted) {
      if (budget !== null && budget.left <= 0) return 'dropped';
      const batch = cursor.take({ maxEvents: config.slowMs > 0 || budget !== null ? 1 : limits.maxBatchEvents });
      if (batch.reset) deliver.reset(batch.reset);
      if (batch.entries.length > 0) {
        if (config.slowMs > 0) await sleep(config.slowMs, signal);
        if (signal.aborted) break;
        deliver.events(batch.entries.map((entry) => entry.event));
        if (budget !== null) budget.left -= batch.entries.length;
        continue;
      }
      if (cursor.ended) return 'ended';
      await cursor.wait(signal);
    }
    return 'aborted';
  };

  const readJson = async (request: Request): Promise<unknown> => {
    const text = await request.text();
    if (text.trim() === '') return {};
    try {
      return JSON.parse(text);
    } catch {
      throw new ServerError('invalid_json', 'The body is not valid JSON', 400);
    }
  };

  const handlers: Array<RequestHandler | WebSocketHandler> = [
    http.post(`${prefix}/sessions`, command(async (request) => {
      const body = parseBody(CreateSessionRequest, await readJson(request));
      return HttpResponse.json({ session: await core.createSession(body.metadata === undefined ? {} : { metadata: body.metadata }) }, { status: 201 });
    })),
    http.get(`${prefix}/sessions/:sid`, command(async (_request, { sid }) => {
      const snapshot = await core.snapshot(sid!);
      if (!snapshot) throw new ServerError('session_not_found', `Unknown session: ${sid}`, 404);
      return HttpResponse.json(snapshot);
    })),
    http.post(`${prefix}/sessions/:sid/turns`, command(async (request, { sid }, url) => {
      const body = parseBody(PromptRequest, await readJson(request));
      const idempotencyKey = request.headers.get('idempotency-key') ?? undefined;
      const clientId = body.clientId ?? request.headers.get('x-tether-client') ?? url.searchParams.get('clientId') ?? undefined;
      const result = await core.prompt(sid!, {
        prompt: body.prompt,
        ...(clientId === undefined ? {} : { clientId }),
        ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
      });
      return HttpResponse.json({ turn: result.turn }, { status: result.created ? 201 : 200 });
    })),
    http.get(`${prefix}/sessions/:sid/turns/:tid`, command(async (_request, { sid, tid }) => {
      const turn = await core.getTurn(sid!, tid!);
      if (!turn) throw new ServerError('not_found', `Unknown turn: ${tid}`, 404);
      return HttpResponse.json({ turn });
    })),
    http.post(`${prefix}/sessions/:sid/turns/:tid/cancel`, command(async (request, { sid, tid }, url) => {
      const body = parseBody(CancelRequest, await readJson(request));
      const clientId = body.clientId ?? request.headers.get('x-tether-client') ?? url.searchParams.get('clientId') ?? undefined;
      const result = await core.cancel(sid!, tid!, {
        ...(clientId === undefined ? {} : { clientId }),
        ...(body.reason === undefined ? {} : { reason: body.reason }),
      });
      if (!result) throw new ServerError('not_found', `Unknown turn: ${tid}`, 404);
      return HttpResponse.json(result);
    })),
    http.get(`${prefix}/sessions/:sid/poll`, command(async (request, { sid }, url) => {
      const after = parseCursor('after', url.searchParams.get('after')) ?? 0;
      const waitMs = parseCursor('wait', url.searchParams.get('wait')) ?? 0;
      const epoch = url.searchParams.get('epoch') || undefined;
      if (config.slowMs > 0) await sleep(config.slowMs, request.signal);
      const reply = await core.poll(sid!, { after, waitMs, signal: request.signal, ...(epoch === undefined ? {} : { epoch }) });
      return HttpResponse.json(reply);
    })),
    http.get(`${prefix}/sessions/:sid/events`, async ({ request, params }) => {
      try {
        await started;
        const sid = params.sid as string;
        const lastEventId = request.headers.get('last-event-id')?.trim();
        const url = new URL(request.url);
        const after = parseCursor('Last-Event-ID', lastEventId) ?? parseCursor('after', url.searchParams.get('after')) ?? 0;
        const epoch = url.searchParams.get('epoch') || undefined;
        const cursor = await core.cursor(sid, epoch === undefined ? { after } : { after, epoch });
        if (!cursor) throw new ServerError('session_not_found', `Unknown session: ${sid}`, 404);
        const controller = new AbortController();
        streams.add(controller);
        request.signal.addEventListener('abort', () => controller.abort(), { once: true });
        const encoder = new TextEncoder();
        let heartbeat: ReturnType<typeof setInterval> | undefined;
        const body = new ReadableStream<Uint8Array>({
          start(stream) {
            const write = (text: string) => {
              if (!controller.signal.aborted) stream.enqueue(encoder.encode(text));
            };
            const finish = () => {
              clearInterval(heartbeat);
              streams.delete(controller);
            };
            write(`retry: ${sseRetryMs}\n\n`);
            if (heartbeatMs > 0) {
              heartbeat = setInterval(() => write(': ping\n\n'), heartbeatMs);
              // A stream the test forgot must not keep Node alive.
              (heartbeat as { unref?: () => void }).unref?.();
            }
            const budget = config.dropAfter === null ? null : { left: config.dropAfter };
            void streamEvents(cursor, controller.signal, budget, {
              reset: (reset) => write(`event: reset\ndata: ${JSON.stringify(reset)}\n\n`),
              events: (events) => write(events.map((e) => `id: ${e.seq}\ndata: ${JSON.stringify(e)}\n\n`).join('')),
            }).then(async (outcome) => {
              finish();
              const canceled = request.signal.aborted;
              controller.abort();
              // Let the bytes already queued reach the client before the drop, as on a real network.
              if (outcome === 'dropped') await new Promise((resolve) => setTimeout(resolve, 5));
              try {
                if (outcome === 'dropped') stream.error(new TypeError('agent-tether/testing: stream dropped by dropStreamsAfter'));
                else if (!canceled) stream.close();
              } catch {
                // The reader already canceled the stream.
              }
            });
          },
          cancel() {
            clearInterval(heartbeat);
            controller.abort();
            streams.delete(controller);
          },
        });
        return new HttpResponse(body, {
          headers: { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform' },
        });
      } catch (error) {
        return errorResponse(error instanceof ServerError ? error : new ServerError('internal_error', 'SSE failed', 500));
      }
    }),
  ];

  const link = ws.link(wsUrl);
  handlers.push(
    link.addEventListener('connection', ({ client }) => {
      const clientId = client.url.searchParams.get('clientId') || globalThis.crypto.randomUUID();
      const subscriptions = new Map<string, AbortController>();
      const connection = new AbortController();
      streams.add(connection);
      let open = true;
      const send = (frame: unknown) => {
        if (open) client.send(JSON.stringify(frame));
      };
      const shut = (code: number, reason?: string) => {
        if (!open) return;
        open = false;
        connection.abort();
        streams.delete(connection);
        for (const sub of subscriptions.values()) sub.abort();
        try {
          client.close(code, reason);
        } catch {
          client.close(closeCodes.internalError, reason);
        }
      };
      connection.signal.addEventListener('abort', () => shut(closeCodes.goingAway, 'server shutting down'), { once: true });
      client.addEventListener('close', () => {
        open = false;
        connection.abort();
        streams.delete(connection);
        for (const sub of subscriptions.values()) sub.abort();
      });
      if (config.refuseWebSocket) {
        shut(1006);
        return;
      }
      // The drop budget counts events over the whole socket, all subscriptions together.
      const budget = config.dropAfter === null ? null : { left: config.dropAfter };
      const reply = (id: string, result: unknown) => send({ type: 'reply', id, ok: true, result });
      const replyError = (id: string, error: ErrorInfo) => send({ type: 'reply', id, ok: false, error });

      client.addEventListener('message', (event) => {
        void (async () => {
          await started;
          if (!open) return;
          const decoded = decodeClientFrame(typeof event.data === 'string' ? event.data : undefined);
          if ('close' in decoded) return shut(decoded.close, decoded.reason);
          const frame = decoded.frame;
          if (frame.type === 'ping') return send(frame.time === undefined ? { type: 'pong' } : { type: 'pong', time: frame.time });
          try {
            const injected = takeFailure();
            if (injected) throw injected;
            switch (frame.type) {
              case 'subscribe': {
                const from = frame.epoch === undefined ? { after: frame.after ?? 0 } : { after: frame.after ?? 0, epoch: frame.epoch };
                subscriptions.get(frame.sessionId)?.abort();
                const sub = new AbortController();
                subscriptions.set(frame.sessionId, sub);
                const cursor = await core.cursor(frame.sessionId, from);
                if (!cursor) throw new ServerError('session_not_found', `Unknown session: ${frame.sessionId}`, 404);
                if (sub.signal.aborted) return reply(frame.id, { epoch: cursor.log.epoch, seq: cursor.log.seq });
                reply(frame.id, { epoch: cursor.log.epoch, seq: cursor.log.seq });
                void streamEvents(cursor, sub.signal, budget, {
                  reset: (reset) => send({ type: 'reset', ...reset }),
                  events: (events) => send({ type: 'events', sessionId: frame.sessionId, events }),
                }).then((outcome) => {
                  if (outcome === 'dropped') shut(1006);
                });
                return;
              }
              case 'unsubscribe':
                subscriptions.get(frame.sessionId)?.abort();
                subscriptions.delete(frame.sessionId);
                return reply(frame.id, {});
              case 'prompt': {
                const result = await core.prompt(frame.sessionId, {
                  prompt: frame.prompt,
                  clientId,
                  ...(frame.idempotencyKey === undefined ? {} : { idempotencyKey: frame.idempotencyKey }),
                });
                return reply(frame.id, { turn: result.turn });
              }
              case 'cancel': {
                const result = await core.cancel(frame.sessionId, frame.turnId, {
                  clientId,
                  ...(frame.reason === undefined ? {} : { reason: frame.reason }),
                });
                if (!result) throw new ServerError('not_found', `Unknown turn: ${frame.turnId}`, 404);
                return reply(frame.id, result);
              }
            }
          } catch (error) {
            const info =
              error instanceof ServerError ? error.toInfo() : { code: 'internal_error', message: 'The frame failed', status: 500 };
            replyError(frame.id, info);
          }
        })();
      });
      void started.then(() => send({ type: 'welcome', clientId, heartbeatMs: heartbeatMs > 0 ? heartbeatMs : MSW_HANDLERS_DEFAULTS.heartbeatMs }));
    }),
  );

  const close = () => {
    closing ??= (async () => {
      await started.catch(() => {});
      await core.shutdown();
      for (const stream of [...streams]) stream.abort();
      streams.clear();
    })();
    return closing;
  };

  return { handlers, core, agent, faults, close, [Symbol.asyncDispose]: close };
}

function errorResponse(error: ServerError): Response {
  return HttpResponse.json({ error: error.toInfo() }, { status: error.status, headers: error.headers() });
}
