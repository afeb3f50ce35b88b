import { createParser, type EventSourceMessage, type EventSourceParser, type ParseError } from 'eventsource-parser';
import { ConnectionError, ProtocolError, type TetherError } from '../errors/index.js';
import { resetInfo } from '../protocol/checks.js';
import { headers as protocolHeaders, limits, routes } from '../protocol/constants.js';
import type { SessionEvent } from '../protocol/index.js';
import { BaseTransport, toTetherError } from './base-transport.js';
import { endpoint, httpErrorFrom, parseRetryAfter, requestHeaders } from './http.js';
import type { Cursor, Transport, TransportEvents, TransportOptions } from './transport.js';
import { parseJson, validateEvent, validateFrame } from './validate-event.js';
import { Watchdog } from './watchdog.js';

/**
 * The Server-Sent Events transport: one `fetch` stream per subscribed session
 * (fetch rather than `EventSource`, so headers work and bytes can be timed).
 *
 * - Counts as open once a stream answered 2xx `text/event-stream` **and**
 *   delivered its first bytes (the server's `retry:` line) within
 *   `openTimeoutMs`. A proxy that buffers event streams sends headers but no
 *   bytes, so the attempt never opens and the ladder moves down.
 * - Resumes with `?after=&epoch=` and `Last-Event-ID` (when `after > 0`).
 * - Events parsed from one network chunk are delivered in one `events()` call.
 * - Any stream failing (HTTP error, drop, stall, bad event) ends the whole
 *   attempt: the manager reconnects every session from its cursor.
 * - No bytes on a stream (not even `: ping`) for `heartbeatTimeoutMs` ends
 *   the attempt (`ConnectionError` code `heartbeat_timeout`).
 * - No `command()`: commands go over HTTP.
 * - With no subscribed session there is nothing to prove: the attempt waits
 *   (no request, no timer) until the first `subscribe()`.
 *
 * @example
 * const transport = createSseTransport(options, events);
 * transport.subscribe('s1', { after: 41, epoch: 'e1' });
 */
export function createSseTransport(options: TransportOptions, events: TransportEvents): Transport {
  return new SseTransport(options, events);
}

class SseStream {
  readonly controller = new AbortController();
  stopped = false;
  watchdog: Watchdog | undefined;
  /** Events parsed from the current chunk, delivered together after `feed()`. */
  batch: SessionEvent[] | undefined;
  parser: EventSourceParser | undefined;

  constructor(
    readonly sessionId: string,
    readonly cursor: Cursor,
  ) {}

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.batch = undefined;
    this.watchdog?.stop();
    this.controller.abort(new ConnectionError('The SSE stream was stopped', { code: 'connection_closed' }));
  }
}

class SseTransport extends BaseTransport {
  readonly name = 'sse' as const;
  readonly #streams = new Map<string, SseStream>();
  #headers: Promise<Record<string, string>> | undefined;

  subscribe(sessionId: string, cursor: Cursor): void {
    if (this.ended) return;
    this.#streams.get(sessionId)?.stop();
    const stream = new SseStream(sessionId, { after: cursor.after, epoch: cursor.epoch });
    this.#streams.set(sessionId, stream);
    this.startOpenTimer();
    void this.#run(stream);
  }

  unsubscribe(sessionId: string): void {
    const stream = this.#streams.get(sessionId);
    if (!stream) return;
    this.#streams.delete(sessionId);
    stream.stop();
    if (this.#streams.size === 0 && !this.opened) this.stopOpenTimer();
  }

  close(): Promise<void> {
    if (this.endByUs()) this.teardown();
    return Promise.resolve();
  }

  protected teardown(): void {
    for (const stream of this.#streams.values()) stream.stop();
    this.#streams.clear();
  }

  /* ---------------------------------------------------------------- */

  async #run(stream: SseStream): Promise<void> {
    const { sessionId, cursor } = stream;
    try {
      const timeoutMs = this.options.heartbeatTimeoutMs;
      stream.watchdog = new Watchdog(this.clock, timeoutMs, () => {
        if (stream.stopped) return;
        this.fail(
          new ConnectionError(`No bytes on the SSE stream of ${sessionId} for ${timeoutMs} ms`, {
            code: 'heartbeat_timeout',
          }),
        );
      });
      this.#headers ??= this.options.getHeaders();
      const base = await this.#headers;
      if (stream.stopped) return;
      const headers = requestHeaders(base, this.options.clientId, 'text/event-stream');
      if (cursor.after > 0) headers[protocolHeaders.lastEventId] = String(cursor.after);
      const url = endpoint(this.options.baseUrl, routes.events(sessionId), {
        after: cursor.after,
        epoch: cursor.epoch,
      });
      const response = await this.options.fetch(url, {
        headers,
        signal: stream.controller.signal,
        cache: 'no-store',
      });
      if (stream.stopped) return void response.body?.cancel().catch(() => {});
      if (!response.ok) {
        this.retryAfterMs = parseRetryAfter(response.headers.get(protocolHeaders.retryAfter), this.clock.now());
        const error = await httpErrorFrom(response, `SSE stream of ${sessionId}`, { sessionId });
        if (!stream.stopped) this.fail(error);
        return;
      }
      const contentType = response.headers.get('content-type') ?? '';
      if (!contentType.toLowerCase().startsWith('text/event-stream') || !response.body) {
        void response.body?.cancel().catch(() => {});
        this.fail(
          new ProtocolError(`SSE stream of ${sessionId} answered ${contentType || 'no content type'}`, {
            code: 'invalid_content_type',
          }),
        );
        return;
      }
      const parser = createParser({
        onEvent: (message) => this.#onMessage(stream, message),
        onRetry: (ms) => {
          if (!stream.stopped) this.retryAfterMs = ms;
        },
        onError: (error) => this.#onParseError(stream, error),
        // Two frames' worth: a bigger pending event is a protocol violation, not a reason to grow.
        maxBufferSize: 2 * (this.options.maxMessageBytes ?? limits.maxServerFrameBytes),
      });
      stream.parser = parser;
      const reader = response.body.getReader();
      const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
      for (;;) {
        const { done, value } = await reader.read();
        if (stream.stopped) return;
        if (done) {
          // No terminal kind of end exists on this stream: an end we did not ask for is a drop.
          this.fail(new ConnectionError(`The SSE stream of ${sessionId} ended`, { code: 'stream_ended' }));
          return;
        }
        if (value.byteLength === 0) continue;
        stream.watchdog.touch();
        if (!this.opened) {
          this.markOpen();
          if (stream.stopped) return;
        }
        parser.feed(decoder.decode(value, { stream: true }));
        if (stream.stopped) return;
        const batch = stream.batch;
        if (batch !== undefined) {
          stream.batch = undefined;
          this.events.events(sessionId, batch);
        }
      }
    } catch (error) {
      if (stream.stopped || this.ended) return;
      this.fail(toTetherError(error, `The SSE stream of ${sessionId} failed`));
    }
  }

  #onMessage(stream: SseStream, message: EventSourceMessage): void {
    if (stream.stopped) return;
    try {
      const kind = message.event;
      if (kind === undefined || kind === 'message') {
        const event = validateEvent(parseJson(message.data, 'SSE event data'), stream.sessionId);
        if (stream.batch === undefined) stream.batch = [event];
        else stream.batch.push(event);
        return;
      }
      if (kind === 'reset') {
        const info = validateFrame(resetInfo, parseJson(message.data, 'SSE reset data'), 'reset');
        if (info.sessionId !== stream.sessionId) {
          throw new ProtocolError(`Reset of ${info.sessionId} on the stream of ${stream.sessionId}`, {
            code: 'invalid_event',
          });
        }
        // Order matters: events parsed before the reset go first.
        const batch = stream.batch;
        if (batch !== undefined) {
          stream.batch = undefined;
          this.events.events(stream.sessionId, batch);
          if (stream.stopped) return;
        }
        this.events.reset(info);
      }
      // Other event names are ignored (forward compatibility).
    } catch (error) {
      this.#failStream(stream, error);
    }
  }

  #onParseError(stream: SseStream, error: ParseError): void {
    if (stream.stopped || error.type !== 'max-buffer-size-exceeded') return;
    this.#failStream(
      stream,
      new ProtocolError(`SSE event over the size limit (${(this.options.maxMessageBytes ?? limits.maxServerFrameBytes)} bytes)`, { code: 'frame_too_large', cause: error }),
    );
  }

  #failStream(stream: SseStream, error: unknown): void {
    if (stream.stopped) return;
    stream.batch = undefined;
    this.fail(toTetherError(error, 'Unexpected error while handling an SSE event') as TetherError);
  }
}
