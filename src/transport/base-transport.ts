import { ConnectionError, ProtocolError, TetherError, TimeoutError } from '../errors/index.js';
import type { Clock } from '../internal/clock.js';
import { headers as protocolHeaders, limits } from '../protocol/constants.js';
import type { ResetInfo } from '../protocol/index.js';
import { finalScope } from './final-answers.js';
import { cancelBody, endpoint, httpErrorFrom, parseRetryAfter, requestHeaders } from './http.js';

export { cancelBody } from './http.js';
import type {
  Cursor,
  Transport,
  TransportEvents,
  TransportName,
  TransportOptions,
} from './transport.js';
import type { Watchdog } from './watchdog.js';

/** How long `close()` waits for queued frames and the close handshake. @default 1_000 */
export const DEFAULT_CLOSE_TIMEOUT_MS = 1_000;

/** Wraps anything thrown into a `TetherError` for `closed()`. */
export function toTetherError(error: unknown, message: string): TetherError {
  return error instanceof TetherError ? error : new ConnectionError(message, { cause: error });
}

/**
 * What every transport attempt shares: the open/closed bookkeeping and the
 * stale-callback guard (F4). Once `ended` is set (our `close()` or a
 * failure), nothing of this attempt calls an `events` method again:
 * `open()` at most once, `closed()` exactly once unless we closed it.
 */
export abstract class BaseTransport implements Transport {
  abstract readonly name: TransportName;
  protected readonly clock: Clock;
  /** Largest frame or SSE event accepted from the server, in bytes. */
  protected readonly maxBytes: number;
  /** `open()` was called. */
  protected opened = false;
  /** The attempt is over (closed by us or failed): every late callback returns early. */
  protected ended = false;
  /** The server's explicit ask for a delay (`Retry-After` on an error reply). */
  protected retryAfterMs: number | undefined;
  /** The SSE stream's `retry:` field: a hint, reported but not an ask. */
  protected retryHintMs: number | undefined;
  #openTimer: unknown;

  constructor(
    protected readonly options: TransportOptions,
    protected readonly events: TransportEvents,
  ) {
    this.clock = options.clock;
    this.maxBytes = options.maxMessageBytes ?? limits.maxServerFrameBytes;
  }

  abstract subscribe(sessionId: string, cursor: Cursor): void;
  abstract unsubscribe(sessionId: string): void;
  abstract close(timeoutMs?: number): Promise<void>;

  /** Releases everything the attempt holds (sockets, fetches, timers). Never calls `events`. */
  protected abstract teardown(error: TetherError | undefined, closeCode?: number): void;

  /**
   * Starts the `openTimeoutMs` deadline, unless it runs already or the
   * attempt is open or over (then there is nothing left to prove).
   */
  protected startOpenTimer(): void {
    if (this.#openTimer !== undefined || this.opened || this.ended) return;
    const ms = this.options.openTimeoutMs;
    // Every path that opens or ends the attempt clears this timer first, and
    // `fail()` ignores an attempt that has ended.
    this.#openTimer = this.clock.setTimeout(() => this.fail(new TimeoutError(`${this.name} did not open in ${ms} ms`)), ms);
  }

  /** Stops the open deadline (the attempt opened or ended, or nothing is left to prove); `startOpenTimer()` may start it again. */
  protected clearOpenTimer(): void {
    this.clock.clearTimeout(this.#openTimer); // a no-op for `undefined`, as with the global
    this.#openTimer = undefined;
  }

  /** Marks the attempt open and tells the caller (once). */
  protected markOpen(): void {
    if (this.ended || this.opened) return;
    this.opened = true;
    this.clearOpenTimer();
    this.events.open();
  }

  /** Ends the attempt with `error` and reports it through `closed()` exactly once. */
  protected fail(error: TetherError, extra: { code?: number | undefined } = {}): void {
    if (this.ended) return;
    this.ended = true;
    this.clearOpenTimer();
    try {
      this.teardown(error, extra.code);
    } catch {
      // Releasing resources must not stop the report below.
    }
    this.events.closed({ opened: this.opened, error, retryAfterMs: this.retryAfterMs, retryHintMs: this.retryHintMs, code: extra.code });
  }

  /** Ends the attempt on our own `close()`: no `closed()` call. Returns false when it had already ended. */
  protected endByUs(): boolean {
    if (this.ended) return false;
    this.ended = true;
    this.clearOpenTimer();
    return true;
  }
}

/**
 * One session's request loop on an HTTP transport (SSE stream, long-poll
 * loop). Stopped when the session is unsubscribed or resubscribed, or the
 * attempt ends: from then on every late callback of it returns early (F4).
 */
export interface SessionLoop {
  readonly sessionId: string;
  /** Where the next request starts (long-poll moves it after each reply). */
  cursor: Cursor;
  /** Aborts this stream's fetches. */
  readonly controller: AbortController;
  stopped: boolean;
  /** The stream's liveness deadline (SSE: no bytes; long-poll: request unanswered), stopped with it. */
  watchdog?: Watchdog;
}

/**
 * What the SSE and long-poll transports share: one `SessionLoop` per
 * subscribed session, each run by `run()`.
 *
 * - With no subscribed session there is nothing to prove: the attempt waits
 *   (no request, no open deadline) until the first `subscribe()`.
 * - Any stream failing (HTTP error, drop, stall, bad event: whatever `run()`
 *   throws) ends the whole attempt; the manager reconnects every session
 *   from its cursor. A final answer about one session (`session_not_found`)
 *   stops only that session's stream (`events.sessionEnded`).
 * - `getHeaders()` is read once per attempt.
 * - No `command()`: commands go over HTTP.
 */
export abstract class HttpTransport extends BaseTransport {
  readonly #streams = new Map<string, SessionLoop>();
  #headers: Promise<Record<string, string>> | undefined;

  subscribe(sessionId: string, cursor: Cursor): void {
    if (this.ended) return;
    this.#stop(this.#streams.get(sessionId));
    const stream: SessionLoop = {
      sessionId,
      cursor: { after: cursor.after, epoch: cursor.epoch },
      controller: new AbortController(),
      stopped: false,
    };
    this.#streams.set(sessionId, stream);
    this.startOpenTimer();
    this.run(stream).catch((error: unknown) => {
      if (!stream.stopped) this.fail(toTetherError(error, `${this.name} stream of ${sessionId} failed`));
    });
  }

  unsubscribe(sessionId: string): void {
    const stream = this.#streams.get(sessionId);
    if (!stream) return;
    this.#streams.delete(sessionId);
    this.#stop(stream);
    if (this.#streams.size === 0) this.clearOpenTimer();
  }

  async close(): Promise<void> {
    if (this.endByUs()) this.teardown();
  }

  protected teardown(): void {
    for (const stream of this.#streams.values()) this.#stop(stream);
    this.#streams.clear();
  }

  /**
   * Runs one session's stream until it stops or fails. Throwing ends the
   * attempt (a `TetherError` as it is, anything else wrapped in a
   * `ConnectionError`), unless the stream was stopped meanwhile.
   */
  protected abstract run(stream: SessionLoop): Promise<void>;

  /** The request headers for `accept`. */
  protected async headers(accept: string): Promise<Record<string, string>> {
    this.#headers ??= this.options.getHeaders();
    return requestHeaders(await this.#headers, this.options.clientId, accept);
  }

  /**
   * `GET path?after=&epoch=` (plus `query`) for `stream`. Resolves with the
   * 2xx response, or `undefined` when the stream stopped meanwhile or the
   * reply was an error (then the attempt has failed with an `HttpError`,
   * keeping the server's `Retry-After`).
   */
  protected async get(
    stream: SessionLoop,
    path: string,
    headers: Record<string, string>,
    query: Record<string, number> = {},
  ): Promise<Response | undefined> {
    const { sessionId, cursor } = stream; // cursor: our own `{ after, epoch }`
    const url = endpoint(this.options.baseUrl, path, { ...cursor, ...query });
    const response = await this.options.fetch(url, { headers, signal: stream.controller.signal, cache: 'no-store' });
    if (stream.stopped) return void cancelBody(response);
    if (response.ok) return response;
    const error = await httpErrorFrom(response, `${this.name} stream of ${sessionId}`, { sessionId });
    if (stream.stopped) return;
    const scope = finalScope(error);
    if (scope === 'session' || scope === 'stream') {
      // An answer about this session alone: stop its stream, keep the attempt (and every other session) going.
      this.unsubscribe(sessionId);
      this.events.sessionEnded(sessionId, error);
      return;
    }
    this.retryAfterMs = parseRetryAfter(response.headers.get(protocolHeaders.retryAfter), this.clock.now());
    this.fail(error);
  }

  /** A reset may only be about the stream's own session. */
  protected checkReset(info: ResetInfo, stream: SessionLoop): void {
    if (info.sessionId !== stream.sessionId) {
      throw new ProtocolError(`reset of ${info.sessionId} on the ${this.name} stream of ${stream.sessionId}`, { code: 'invalid_event' });
    }
  }

  #stop(stream: SessionLoop | undefined): void {
    if (!stream || stream.stopped) return;
    stream.stopped = true;
    stream.watchdog?.stop();
    // No reason needed: what the abort rejects with meets `stopped` and is ignored.
    stream.controller.abort();
  }
}
