import { ConnectionError, ProtocolError, TimeoutError } from '../errors/index.js';
import { pollReply } from '../protocol/checks.js';
import { headers as protocolHeaders, routes } from '../protocol/constants.js';
import type { SessionEvent } from '../protocol/index.js';
import { BaseTransport, toTetherError } from './base-transport.js';
import { endpoint, httpErrorFrom, parseRetryAfter, requestHeaders } from './http.js';
import type { Cursor, Transport, TransportEvents, TransportOptions } from './transport.js';
import { validateEvent, validateFrame } from './validate-event.js';

/** Extra time a long-poll request gets beyond its `wait` before it counts as stalled. @default 10_000 */
export const POLL_DEADLINE_MARGIN_MS = 10_000;

/**
 * The long-poll transport, the last resort: one request loop per subscribed
 * session, `GET …/poll?after=&epoch=&wait=`, continuing from each reply's `next`.
 *
 * - The first request of each session asks `wait=0`, so it answers at once
 *   and the attempt opens on the first 2xx reply (not after a full wait).
 * - Each request has a deadline of `wait + min(POLL_DEADLINE_MARGIN_MS,
 *   heartbeatTimeoutMs)`; a request that misses it ends the attempt with a
 *   `TimeoutError` (a stalled or half-open connection).
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

class PollLoop {
  readonly controller = new AbortController();
  stopped = false;
  deadline: unknown;

  constructor(
    readonly sessionId: string,
    public cursor: Cursor,
  ) {}
}

class PollTransport extends BaseTransport {
  readonly name = 'poll' as const;
  readonly #loops = new Map<string, PollLoop>();
  #headers: Promise<Record<string, string>> | undefined;

  subscribe(sessionId: string, cursor: Cursor): void {
    if (this.ended) return;
    const previous = this.#loops.get(sessionId);
    if (previous) this.#stop(previous);
    const loop = new PollLoop(sessionId, { after: cursor.after, epoch: cursor.epoch });
    this.#loops.set(sessionId, loop);
    this.startOpenTimer();
    void this.#run(loop);
  }

  unsubscribe(sessionId: string): void {
    const loop = this.#loops.get(sessionId);
    if (!loop) return;
    this.#loops.delete(sessionId);
    this.#stop(loop);
    if (this.#loops.size === 0 && !this.opened) this.stopOpenTimer();
  }

  close(): Promise<void> {
    if (this.endByUs()) this.teardown();
    return Promise.resolve();
  }

  protected teardown(): void {
    for (const loop of this.#loops.values()) this.#stop(loop);
    this.#loops.clear();
  }

  #stop(loop: PollLoop): void {
    if (loop.stopped) return;
    loop.stopped = true;
    this.#clearDeadline(loop);
    loop.controller.abort(new ConnectionError('The poll loop was stopped', { code: 'connection_closed' }));
  }

  #clearDeadline(loop: PollLoop): void {
    if (loop.deadline !== undefined) {
      this.clock.clearTimeout(loop.deadline);
      loop.deadline = undefined;
    }
  }

  async #run(loop: PollLoop): Promise<void> {
    const { sessionId } = loop;
    try {
      this.#headers ??= this.options.getHeaders();
      const base = await this.#headers;
      if (loop.stopped) return;
      const headers = requestHeaders(base, this.options.clientId, 'application/json');
      const margin = Math.min(POLL_DEADLINE_MARGIN_MS, this.options.heartbeatTimeoutMs);
      let wait = 0;
      while (!loop.stopped) {
        const url = endpoint(this.options.baseUrl, routes.poll(sessionId), {
          after: loop.cursor.after,
          epoch: loop.cursor.epoch,
          wait,
        });
        const deadlineMs = wait + margin;
        loop.deadline = this.clock.setTimeout(() => {
          loop.deadline = undefined;
          if (loop.stopped) return;
          this.fail(new TimeoutError(`The poll request of ${sessionId} did not answer within ${deadlineMs} ms`));
        }, deadlineMs);
        const response = await this.options.fetch(url, { headers, signal: loop.controller.signal, cache: 'no-store' });
        if (loop.stopped) return;
        if (!response.ok) {
          this.retryAfterMs = parseRetryAfter(response.headers.get(protocolHeaders.retryAfter), this.clock.now());
          const error = await httpErrorFrom(response, `Poll of ${sessionId}`, { sessionId });
          if (!loop.stopped) this.fail(error);
          return;
        }
        let body: unknown;
        try {
          body = await response.json();
        } catch (error) {
          if (loop.stopped) return;
          throw new ProtocolError(`The poll reply of ${sessionId} is not valid JSON`, {
            code: 'invalid_json',
            cause: error,
          });
        }
        if (loop.stopped) return;
        this.#clearDeadline(loop);
        // zod checks the envelope; the events take the hot path (validate-event.ts),
        // as on the other transports, instead of being walked by zod and then again.
        const list = (body as { events?: unknown } | null)?.events;
        if (!Array.isArray(list)) throw new ProtocolError('Invalid poll reply: needs events[]', { code: 'invalid_frame' });
        const reply = validateFrame(pollReply, { ...(body as object), events: [] }, 'poll reply');
        if (reply.reset !== undefined && reply.reset.sessionId !== sessionId) {
          throw new ProtocolError(`Reset of ${reply.reset.sessionId} in the poll of ${sessionId}`, {
            code: 'invalid_event',
          });
        }
        const events = list as SessionEvent[];
        for (let i = 0; i < events.length; i++) events[i] = validateEvent(events[i], sessionId);
        reply.events = events;
        if (!this.opened) {
          this.markOpen();
          if (loop.stopped) return;
        }
        if (reply.reset !== undefined) {
          this.events.reset(reply.reset);
          if (loop.stopped) return;
        }
        if (reply.events.length > 0) {
          this.events.events(sessionId, reply.events);
          if (loop.stopped) return;
        }
        loop.cursor = { after: reply.next, epoch: reply.epoch };
        wait = this.options.pollWaitMs;
      }
    } catch (error) {
      if (loop.stopped || this.ended) return;
      this.fail(toTetherError(error, `The poll of ${sessionId} failed`));
    }
  }
}
