/** Requests sent over the WebSocket that wait for their reply: ids, frames queued before the socket opened, settling (as tRPC's requestManager). */
import { ConnectionError, HttpError, type TetherError } from '../errors/index.js';
import { replyChecks, type CommandName } from '../protocol/checks.js';
import type { ReplyErrorFrame, ReplyOkFrame } from '../protocol/index.js';
import { validateFrame } from './validate-event.js';

/** A request awaiting its reply. Commands (prompt, cancel) have a caller waiting; subscribe and unsubscribe do not. */
interface Pending {
  type: CommandName;
  sessionId: string;
  resolve?: ((value: unknown) => void) | undefined;
  reject?: ((reason: unknown) => void) | undefined;
  signal?: AbortSignal | undefined;
  onAbort?: (() => void) | undefined;
}

/** A frame ready to send: its request id and its JSON text. */
export interface OutgoingRequest {
  id: string;
  text: string;
}

/** What a failed reply to a request nobody awaits (subscribe, unsubscribe) was about. */
export interface UnawaitedFailure {
  type: CommandName;
  sessionId: string;
  error: HttpError;
}

/**
 * Tracks outgoing requests and pending replies, nothing else: gives each
 * frame an id, holds frames given before the socket opened, settles a
 * caller's promise from its reply (checked by the command's entry in
 * `replyChecks`), and rejects every waiting caller when the socket ends (F9).
 */
export class RequestTracker {
  readonly #pending = new Map<string, Pending>();
  /** Frames given before the socket opened, in order. */
  #queued: OutgoingRequest[] = [];
  #nextId = 0;

  /** Register a request nobody awaits (subscribe, unsubscribe); returns what to send. */
  track(frame: { type: CommandName; sessionId: string }): OutgoingRequest {
    return this.#register(frame, { type: frame.type, sessionId: frame.sessionId });
  }

  /**
   * Register a command whose caller awaits the reply's checked `result`.
   * `send` gets the frame at once (open socket) or queues it. An abort
   * rejects with `signal.reason`; the frame may already be on the wire, which
   * the command's idempotency key makes safe to resend.
   */
  command(frame: { type: CommandName; sessionId: string }, signal: AbortSignal | undefined, send: (request: OutgoingRequest) => void): Promise<unknown> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const pending: Pending = { type: frame.type, sessionId: frame.sessionId, resolve, reject, signal };
      const request = this.#register(frame, pending);
      if (signal) {
        pending.onAbort = () => {
          if (this.#pending.get(request.id) !== pending) return;
          this.#pending.delete(request.id);
          reject(signal.reason);
        };
        signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      send(request);
    });
  }

  #register(frame: { type: string; sessionId: string }, pending: Pending): OutgoingRequest {
    const id = `r${++this.#nextId}`;
    this.#pending.set(id, pending);
    return { id, text: JSON.stringify({ ...frame, id }) };
  }

  /** Hold `request` until the socket opens. */
  queue(request: OutgoingRequest): void {
    this.#queued.push(request);
  }

  /** The held frames still awaited (commands aborted meanwhile are left out), in order; the queue empties. */
  takeQueued(): OutgoingRequest[] {
    const queued = this.#queued.filter(({ id }) => this.#pending.has(id));
    this.#queued = [];
    return queued;
  }

  /**
   * Settle the request `reply` answers. A bad `result` rejects the caller and
   * is thrown (a protocol error ends the attempt). A failed reply to a
   * request nobody awaits is returned, for the transport to act on.
   */
  settle(reply: ReplyOkFrame | ReplyErrorFrame): UnawaitedFailure | undefined {
    const pending = this.#pending.get(reply.id);
    if (!pending) return undefined; // aborted by the caller, or a duplicate: nothing waits for it
    this.#pending.delete(reply.id);
    if (pending.onAbort) pending.signal?.removeEventListener('abort', pending.onAbort);
    if (reply.ok) {
      let result: unknown;
      try {
        result = validateFrame(replyChecks[pending.type], reply.result, `${pending.type} reply`);
      } catch (error) {
        pending.reject?.(error);
        throw error;
      }
      pending.resolve?.(result);
      return undefined;
    }
    const { code, message, status, details } = reply.error;
    const error = new HttpError(status ?? 500, message, {
      code,
      details: pending.reject ? details : { sessionId: pending.sessionId, server: details },
    });
    if (pending.reject) {
      pending.reject(error);
      return undefined;
    }
    return { type: pending.type, sessionId: pending.sessionId, error };
  }

  /** The socket ended: every waiting caller rejects with a `ConnectionError` (F9: never silently dropped; resend with the same idempotency key). */
  rejectAll(cause: TetherError): void {
    this.#queued = [];
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) {
      if (p.onAbort) p.signal?.removeEventListener('abort', p.onAbort);
      p.reject?.(
        new ConnectionError(`The WebSocket ended before the reply to ${p.type}: ${cause.message}`, {
          code: 'connection_lost',
          cause,
        }),
      );
    }
  }
}
