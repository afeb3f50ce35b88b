import { createParser } from 'eventsource-parser';
import { ConnectionError, ProtocolError } from '../errors/index.js';
import { resetInfo } from '../protocol/checks.js';
import { headers as protocolHeaders, routes } from '../protocol/constants.js';
import type { SessionEvent } from '../protocol/index.js';
import { cancelBody, HttpTransport, type SessionLoop } from './base-transport.js';
import type { Transport, TransportEvents, TransportOptions } from './transport.js';
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

class SseTransport extends HttpTransport {
  readonly name = 'sse' as const;

  protected async run(stream: SessionLoop): Promise<void> {
    const { sessionId, cursor } = stream;
    const timeoutMs = this.options.heartbeatTimeoutMs;
    const watchdog = (stream.watchdog = new Watchdog(this.clock, timeoutMs, () =>
      this.fail(new ConnectionError(`sse stream of ${sessionId}: no bytes for ${timeoutMs} ms`, { code: 'heartbeat_timeout' })),
    ));
    const headers = await this.headers('text/event-stream');
    if (stream.stopped) return;
    if (cursor.after > 0) headers[protocolHeaders.lastEventId] = String(cursor.after);
    const response = await this.get(stream, routes.events(sessionId), headers);
    if (!response) return;
    const contentType = response.headers.get('content-type') ?? '';
    if (!/^text\/event-stream/i.test(contentType) || !response.body) {
      cancelBody(response);
      throw new ProtocolError(`sse stream of ${sessionId} answered ${contentType || 'no content type'}`, {
        code: 'invalid_content_type',
      });
    }
    /** Events parsed from the current chunk, delivered together after `feed()`. */
    let batch: SessionEvent[] | undefined;
    /** Hands over `batch`; false when that stopped the stream. */
    const flush = (): boolean => {
      if (batch) this.events.events(sessionId, batch);
      batch = undefined;
      return !stream.stopped;
    };
    // The parser calls these synchronously from `feed()` and does not catch:
    // what they throw ends up in `run()`'s caller, which ends the attempt.
    const parser = createParser({
      onEvent: ({ event: kind, data }) => {
        if (stream.stopped) return;
        if (kind === undefined || kind === 'message') {
          (batch ??= []).push(validateEvent(parseJson(data, 'sse event'), sessionId));
        } else if (kind === 'reset') {
          const info = validateFrame(resetInfo, parseJson(data, 'sse reset'), 'reset');
          this.checkReset(info, stream);
          // Order matters: events parsed before the reset go first.
          if (flush()) this.events.reset(info);
        }
        // Other event names are ignored (forward compatibility).
      },
      onRetry: (ms) => {
        if (!stream.stopped) this.retryHintMs = ms;
      },
      onError: (error) => {
        if (error.type === 'max-buffer-size-exceeded') {
          throw new ProtocolError(`sse event over ${this.maxBytes} bytes`, { code: 'frame_too_large', cause: error });
        }
      },
      // One frame's worth: a bigger pending event (or a line that never ends) is a protocol violation, not a reason to grow (F6).
      maxBufferSize: this.maxBytes,
    });
    const reader = response.body.getReader();
    const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
    for (;;) {
      const { done, value } = await reader.read();
      if (stream.stopped) return;
      // No terminal kind of end exists on this stream: an end we did not ask for is a drop.
      if (done) throw new ConnectionError(`sse stream of ${sessionId} ended`, { code: 'stream_ended' });
      if (value.byteLength === 0) continue;
      watchdog.touch();
      this.markOpen();
      if (stream.stopped) return;
      parser.feed(decoder.decode(value, { stream: true }));
      if (!flush()) return;
    }
  }
}
