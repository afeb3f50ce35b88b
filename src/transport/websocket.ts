/** The multiplexed WebSocket transport: one socket per client for every session's events and the commands. */
import { ConnectionError, HttpError, ProtocolError, type TetherError } from '../errors/index.js';
import { pongFrame, replyFrame, resetFrame, welcomeFrame } from '../protocol/checks.js';
import { routes } from '../protocol/constants.js';
import type { ResetInfo, SessionEvent } from '../protocol/index.js';
import { BaseTransport, DEFAULT_CLOSE_TIMEOUT_MS, toTetherError } from './base-transport.js';
import { closeCodeFor, closeGracefully, closeWith, errorFromClose, READY_STATE } from './close-handshake.js';
import { bearerSubprotocols, bearerToken } from './bearer.js';
import { codeForStatus, finalScope } from './final-answers.js';
import { endpoint } from './http.js';
import { RequestTracker, type OutgoingRequest } from './request-tracker.js';
import type { CommandFrame, Cursor, Transport, TransportEvents, TransportOptions } from './transport.js';
import { parseJson, validateEvent, validateFrame } from './validate-event.js';
import { Watchdog } from './watchdog.js';

// A no-op listener: Node `ws` throws on an 'error' event that has no listener.
const noop = (): void => {};

/** The subset of Node's `ws` socket we use when present (send callback, terminate). */
interface NodeLikeSocket {
  send(data: string, cb: (error?: Error) => void): void;
  terminate(): void;
}

/**
 * The multiplexed WebSocket transport: one socket per client carries every
 * session's events and the prompt/cancel commands.
 *
 * - Counts as open on the server's `welcome` frame; subscribe frames and
 *   commands given earlier are queued until then.
 * - URL: `baseUrl` with `http→ws` / `https→wss`, plus `/v1/ws?clientId=`;
 *   `baseUrl`'s own query parameters are kept.
 * - Headers from `getHeaders()` are passed to the constructor as
 *   `{ headers }` (third argument), which Node's `ws` / `isomorphic-ws`
 *   honour. Browsers cannot set headers on a WebSocket: a client `token`
 *   goes as the subprotocols `agent-tether.v1` and
 *   `agent-tether.bearer.<base64url(token)>` (the server selects the first).
 * - Sends `{type:'ping'}` every `min(heartbeatTimeoutMs / 3, welcome.heartbeatMs)`;
 *   no frame at all for `heartbeatTimeoutMs` ends the attempt
 *   (`ConnectionError` code `heartbeat_timeout`).
 *
 * @example
 * const transport = createWebSocketTransport(options, events);
 * transport.subscribe('s1', { after: 0 });
 * const { turn } = await transport.command({ type: 'prompt', sessionId: 's1', prompt: 'hi' });
 */
export function createWebSocketTransport(options: TransportOptions, events: TransportEvents): Transport {
  return new WebSocketTransport(options, events);
}

class WebSocketTransport extends BaseTransport {
  readonly name = 'websocket' as const;
  #socket: WebSocket | undefined;
  /** Set when the socket has Node `ws`'s `send(data, cb)`; browsers' `send` has no callback. */
  #nodeSocket: NodeLikeSocket | undefined;
  readonly #subscriptions = new Map<string, Cursor>();
  readonly #requests = new RequestTracker();
  #watchdog: Watchdog | undefined;
  #pingTimer: unknown;
  #pingEveryMs = 0;
  #closing: Promise<void> | undefined;

  constructor(options: TransportOptions, events: TransportEvents) {
    super(options, events);
    this.startOpenTimer();
    void this.#connect();
  }

  subscribe(sessionId: string, cursor: Cursor): void {
    if (this.ended) return;
    this.#subscriptions.set(sessionId, { after: cursor.after, epoch: cursor.epoch });
    if (this.opened) this.#sendSubscribe(sessionId);
  }

  unsubscribe(sessionId: string): void {
    if (this.ended || !this.#subscriptions.delete(sessionId) || !this.opened) return;
    this.#send(this.#requests.track({ type: 'unsubscribe', sessionId }).text);
  }

  command(frame: CommandFrame, signal?: AbortSignal): Promise<unknown> {
    if (this.ended) {
      return Promise.reject(new ConnectionError('The WebSocket transport is closed', { code: 'connection_closed' }));
    }
    return this.#requests.command(frame, signal, (request: OutgoingRequest) => {
      if (this.opened) this.#send(request.text);
      else this.#requests.queue(request);
    });
  }

  close(timeoutMs: number = DEFAULT_CLOSE_TIMEOUT_MS): Promise<void> {
    if (this.#closing) return this.#closing;
    const byUs = this.endByUs();
    if (byUs) this.#release(new ConnectionError('The WebSocket transport was closed', { code: 'connection_closed' }));
    this.#closing = this.#closeSocket(timeoutMs);
    return this.#closing;
  }

  /* ---------------------------------------------------------------- */

  async #connect(): Promise<void> {
    let headers: Record<string, string>;
    try {
      headers = await this.options.getHeaders();
    } catch (error) {
      this.fail(new ConnectionError('getHeaders() failed', { cause: error }));
      return;
    }
    if (this.ended) return;
    try {
      const url = endpoint(this.options.baseUrl, routes.websocket(), { clientId: this.options.clientId });
      url.protocol = url.protocol === 'https:' ? 'wss:' : url.protocol === 'http:' ? 'ws:' : url.protocol;
      // A token travels as a subprotocol: browsers cannot set headers on a WebSocket.
      const token = this.options.bearer ? bearerToken(headers) : undefined;
      const protocols = token === undefined ? undefined : bearerSubprotocols(token);
      // Third argument: Node `ws` options (headers, our frame limit); WHATWG constructors ignore it.
      const Ctor = this.options.WebSocket as unknown as new (
        url: string,
        protocols: string[] | undefined,
        options: { headers: Record<string, string>; maxPayload: number },
      ) => WebSocket;
      const socket = new Ctor(url.href, protocols, { headers, maxPayload: this.maxBytes });
      this.#socket = socket;
      const maybeNode = socket as unknown as Partial<NodeLikeSocket>;
      if (typeof maybeNode.terminate === 'function' && socket.send.length >= 2) {
        this.#nodeSocket = maybeNode as NodeLikeSocket;
      }
      socket.onmessage = this.#onMessage;
      socket.onclose = this.#onClose;
      socket.onerror = this.#onError;
    } catch (error) {
      this.fail(toTetherError(error, 'Could not create the WebSocket'));
    }
  }

  readonly #onMessage = (event: MessageEvent): void => {
    if (this.ended) return;
    try {
      this.#watchdog?.touch();
      const data: unknown = event.data;
      if (typeof data !== 'string') {
        throw new ProtocolError('Binary WebSocket frame (the protocol uses JSON text)', { code: 'invalid_frame' });
      }
      if (data.length > this.maxBytes) throw this.#tooBig();
      this.#handle(parseJson(data, 'WebSocket frame'));
    } catch (error) {
      this.#failWith(error);
    }
  };

  readonly #onClose = (event: CloseEvent): void => {
    if (this.ended) return;
    this.fail(errorFromClose(event.code, event.reason), { code: event.code });
  };

  readonly #onError = (event: Event): void => {
    if (this.ended) return;
    const cause = (event as { error?: unknown }).error ?? event;
    const wsCode = (cause as { code?: unknown }).code;
    this.fail(
      wsCode === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'
        ? this.#tooBig(cause)
        : (this.#refused(cause) ?? new ConnectionError(this.opened ? 'The WebSocket failed' : 'The WebSocket could not connect', { cause })),
    );
  };

  /**
   * An upgrade the server refused with 401 (Node `ws` names the status in its
   * error): the credentials are refused, a final answer rather than a network
   * failure. Any other refusal — a 403 included — stays an ordinary failure
   * that falls back down the ladder: middleboxes that do not pass WebSockets
   * answer so (F8), and a browser shows no status at all, so there the next
   * transport's request gets the typed answer.
   */
  #refused(cause: unknown): HttpError | undefined {
    const status = Number(/Unexpected server response: (\d{3})/.exec(String((cause as Error)?.message))?.[1]);
    return status === 401 ? new HttpError(401, 'The WebSocket upgrade was refused (HTTP 401)', { code: codeForStatus(401), cause }) : undefined;
  }

  #tooBig(cause?: unknown): ProtocolError {
    return new ProtocolError(`Frame over ${this.maxBytes} bytes`, { code: 'frame_too_large', cause });
  }

  #failWith(error: unknown): void {
    this.fail(toTetherError(error, 'Unexpected error while handling a WebSocket frame'));
  }

  #handle(frame: unknown): void {
    const type = typeof frame === 'object' && frame !== null ? (frame as { type?: unknown }).type : undefined;
    if (!this.opened) {
      if (type !== 'welcome') {
        throw new ProtocolError(`Expected a welcome frame first, got ${JSON.stringify(type)}`, {
          code: 'invalid_frame',
        });
      }
      this.#onWelcome(validateFrame(welcomeFrame, frame, 'welcome frame').heartbeatMs);
      return;
    }
    switch (type) {
      case 'events':
        this.#onEvents(frame as Record<string, unknown>);
        return;
      case 'reply':
        this.#onReply(frame as { ok?: unknown });
        return;
      case 'pong':
        validateFrame(pongFrame, frame, 'pong frame');
        return;
      case 'reset': {
        const { type: _type, ...info } = validateFrame(resetFrame, frame, 'reset frame');
        if (this.#subscriptions.has(info.sessionId)) this.events.reset(info satisfies ResetInfo);
        return;
      }
      default:
        // ServerFrame is a closed set in protocol v1; a new frame type comes with a new version.
        throw new ProtocolError(`Unexpected WebSocket frame type ${JSON.stringify(type)}`, {
          code: 'invalid_frame',
        });
    }
  }

  /** The hot path: one frame, many events, no zod on the common event types (see validate-event.ts). */
  #onEvents(frame: Record<string, unknown>): void {
    const sessionId = frame.sessionId;
    const list = frame.events;
    if (typeof sessionId !== 'string' || !Array.isArray(list)) {
      throw new ProtocolError('Invalid events frame: needs sessionId and events[]', { code: 'invalid_frame' });
    }
    const events = list as SessionEvent[];
    for (let i = 0; i < events.length; i++) events[i] = validateEvent(events[i], sessionId);
    // Events of a session we no longer follow are in flight from before an unsubscribe (F4).
    if (events.length > 0 && this.#subscriptions.has(sessionId)) this.events.events(sessionId, events);
  }

  #onReply(frame: { ok?: unknown }): void {
    const failure = this.#requests.settle(validateFrame(replyFrame, frame, 'reply frame'));
    if (failure?.type !== 'subscribe' || !this.#subscriptions.has(failure.sessionId)) return;
    const scope = finalScope(failure.error);
    if (scope === 'session' || scope === 'stream') {
      // An answer about this session alone: forget it here, keep the socket for every other session.
      this.#subscriptions.delete(failure.sessionId);
      this.events.sessionEnded(failure.sessionId, failure.error);
    } else {
      // A session this socket cannot stream ends the attempt, as on SSE: the
      // manager sees which session (`details.sessionId`) and why (`status`).
      this.fail(failure.error);
    }
  }

  #onWelcome(heartbeatMs: number): void {
    this.opened = true;
    this.clearOpenTimer();
    const timeoutMs = this.options.heartbeatTimeoutMs;
    this.#watchdog = new Watchdog(this.clock, timeoutMs, () => {
      this.fail(
        new ConnectionError(`No WebSocket traffic for ${timeoutMs} ms (half-open connection)`, {
          code: 'heartbeat_timeout',
        }),
      );
    });
    this.#pingEveryMs = Math.max(1, Math.min(Math.floor(timeoutMs / 3), heartbeatMs));
    this.#pingTimer = this.clock.setTimeout(this.#ping, this.#pingEveryMs);
    for (const sessionId of this.#subscriptions.keys()) this.#sendSubscribe(sessionId);
    for (const { text } of this.#requests.takeQueued()) {
      if (this.ended) return;
      this.#send(text);
    }
    if (this.ended) return;
    this.events.open();
  }

  readonly #ping = (): void => {
    this.#pingTimer = undefined;
    if (this.ended) return;
    this.#send(`{"type":"ping","time":${this.clock.now()}}`);
    if (this.ended) return;
    this.#pingTimer = this.clock.setTimeout(this.#ping, this.#pingEveryMs);
  };

  #sendSubscribe(sessionId: string): void {
    const cursor = this.#subscriptions.get(sessionId);
    // JSON leaves out an undefined `epoch`.
    if (cursor) this.#send(this.#requests.track({ type: 'subscribe', sessionId, ...cursor }).text);
  }

  /**
   * Sends without checking the state first (F9): a failure is learned from
   * the send callback (Node `ws`) or a throw, and ends the attempt, which
   * rejects every pending command with `ConnectionError` so the caller can
   * resend it with its idempotency key.
   */
  #send(text: string): void {
    try {
      if (this.#nodeSocket) this.#nodeSocket.send(text, this.#onSent);
      else this.#socket?.send(text);
    } catch (error) {
      this.fail(new ConnectionError('Sending on the WebSocket failed', { code: 'send_failed', cause: error }));
    }
  }

  readonly #onSent = (error?: Error): void => {
    if (error && !this.ended) {
      this.fail(new ConnectionError('Sending on the WebSocket failed', { code: 'send_failed', cause: error }));
    }
  };

  /** Timers off, every pending command rejected, queued frames dropped. */
  #release(error: TetherError): void {
    this.#watchdog?.stop();
    this.#watchdog = undefined;
    this.clock.clearTimeout(this.#pingTimer); // a no-op for `undefined`
    this.#pingTimer = undefined;
    this.#requests.rejectAll(error);
  }

  protected teardown(error: TetherError | undefined): void {
    this.#release(error ?? new ConnectionError('The WebSocket transport ended'));
    const socket = this.#socket;
    if (!socket) return;
    socket.onmessage = null;
    socket.onerror = noop;
    socket.onclose = null;
    if (socket.readyState === READY_STATE.closed) return;
    const heartbeat = error instanceof ConnectionError && error.code === 'heartbeat_timeout';
    if (heartbeat && this.#nodeSocket) {
      // Half-open: a close handshake cannot complete, so drop the TCP socket.
      this.#nodeSocket.terminate();
      return;
    }
    closeWith(socket, closeCodeFor(error));
  }

  /** F7: flush, close with 1000, wait for the handshake; all bounded by `timeoutMs`. */
  #closeSocket(timeoutMs: number): Promise<void> {
    const socket = this.#socket;
    if (!socket) return Promise.resolve();
    socket.onmessage = null;
    socket.onerror = noop;
    const node = this.#nodeSocket;
    return closeGracefully(socket, this.clock, timeoutMs, node && (() => node.terminate()));
  }
}
