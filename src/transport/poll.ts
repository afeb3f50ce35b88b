import { ProtocolError, TimeoutError } from '../errors/index.js';
import { sleep } from '../internal/clock.js';
import { pollReply } from '../protocol/checks.js';
import { routes } from '../protocol/constants.js';
import type { SessionEvent } from '../protocol/index.js';
import { HttpTransport, type SessionLoop } from './base-transport.js';
import { readText } from './http.js';
import type { Transport, TransportEvents, TransportOptions } from './transport.js';
import { parseJson, validateEvent, validateFrame } from './validate-event.js';
import { Watchdog } from './watchdog.js';

/** Extra time a long-poll request gets beyond its `wait` before it counts as stalled. @default 10_000 */
export const POLL_DEADLINE_MARGIN_MS = 10_000;
/**
 * Shortest time from one waiting request to the next when the reply was empty:
 * a server or proxy that ignores `wait` and answers empty at once is asked at
 * most once a second, not in a tight loop. @default 1_000
 */
export const POLL_EMPTY_FLOOR_MS = 1_000;

/**
 * The long-poll transport, the last resort: one request loop per subscribed
 * session, `GET …/poll?after=&epoch=&wait=`, continuing from each reply's `next`.
 *
 * - The first request of each session asks `wait=0`, so it answers at once
 *   and the attempt opens on the first 2xx reply (not after a full wait).
 * - Each request has a deadline of `wait + min(POLL_DEADLINE_MARGIN_MS,
 *   heartbeatTimeoutMs)`; a request that misses it ends the attempt with a
 *   `TimeoutError` (a stalled or half-open connection).
 * - An empty reply to a waiting request that came back sooner than
 *   `min(wait, POLL_EMPTY_FLOOR_MS)` is waited out before the next request.
 * - Any request failing ends the whole attempt; the manager reconnects every
 *   session from its cursor.
 * - With no subscribed session the attempt waits for the first `subscribe()`.
 *
 * @example
 * const transport = createPollTransport(options, events);
 * transport.subscribe('s1', { after: 0 });
 */
export function createPollTransport(options: TransportOptions, events: TransportEvents): Transport {
  return new PollTransport(options, events);
}

class PollTransport extends HttpTransport {
  readonly name = 'poll' as const;

  protected async run(stream: SessionLoop): Promise<void> {
    const { sessionId } = stream;
    const headers = await this.headers('application/json');
    const margin = Math.min(POLL_DEADLINE_MARGIN_MS, this.options.heartbeatTimeoutMs);
    for (let wait = 0; !stream.stopped; wait = this.options.pollWaitMs) {
      const deadlineMs = wait + margin;
      const startedAt = this.clock.now();
      // Never touched: it fires `deadlineMs` after the request started unless the reply is in by then.
      const deadline = (stream.watchdog = new Watchdog(this.clock, deadlineMs, () =>
        this.fail(new TimeoutError(`poll of ${sessionId}: no reply within ${deadlineMs} ms`)),
      ));
      const response = await this.get(stream, routes.poll(sessionId), headers, { wait });
      if (!response) return;
      // Bounded: a reply over the message limit is a ProtocolError, never the client's memory (F6).
      const text = await readText(response, this.maxBytes, `poll reply of ${sessionId}`);
      if (stream.stopped) return;
      const body = parseJson(text, `poll reply of ${sessionId}`);
      if (stream.stopped) return;
      deadline.stop();
      // The envelope gets the full check; the events take the hot path (validate-event.ts),
      // as on the other transports, instead of being walked by the full check and then again.
      const events = (body as { events?: unknown } | null)?.events as SessionEvent[];
      if (!Array.isArray(events)) throw new ProtocolError('poll reply without events[]', { code: 'invalid_frame' });
      const { reset, next, epoch } = validateFrame(pollReply, { ...(body as object), events: [] }, 'poll reply');
      if (reset) this.checkReset(reset, stream);
      for (let i = 0; i < events.length; i++) events[i] = validateEvent(events[i], sessionId);
      this.markOpen();
      if (stream.stopped) return;
      if (reset) {
        this.events.reset(reset);
        if (stream.stopped) return;
      }
      if (events.length > 0) this.events.events(sessionId, events);
      stream.cursor = { after: next, epoch };
      // Clamped: a wall clock stepped back must not turn the floor into a long silence.
      const early = Math.min(wait, POLL_EMPTY_FLOOR_MS) - Math.max(0, this.clock.now() - startedAt);
      if (events.length === 0 && !reset && early > 0) await sleep(this.clock, early, stream.controller.signal);
    }
  }
}
