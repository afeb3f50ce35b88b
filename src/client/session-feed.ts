/** One session's feed of events to its consumers: dedupe by `seq`, gap detection, a recent window, delivery. */
import { ProtocolError, type TetherError } from '../errors/index.js';
import type { ResetInfo, SessionEvent } from '../protocol/index.js';
import type { Cursor } from '../transport/transport.js';

/**
 * Someone who wants a session's events: a subscription or a turn. The feed
 * tracks its cursor and hands it each event once, in `seq` order.
 */
export interface Consumer {
  readonly sessionId: string;
  /** The last `seq` this consumer has been given. */
  seq: number;
  /** The epoch `seq` belongs to, when known. */
  epoch: string | undefined;
  onEvent(event: SessionEvent): void;
  /** The history the consumer needed is gone; events continue after `info.after`. */
  onReset(info: ResetInfo): void;
  /**
   * The feed ended for good: the connection gave up (`reconnect.maxAttempts`),
   * the client closed, or the server answered that the session is gone
   * (`session_not_found`, not retryable).
   */
  onEnd(error: TetherError): void;
}

/**
 * Recent events kept per session so a late joiner (a turn whose prompt reply came after its events) needs no
 * replay. `recent` holds up to twice as many (trimmed by halves); a late joiner uses only the newest RECENT_EVENTS.
 */
const RECENT_EVENTS = 256;

/**
 * Every consumer of one session is served from one feed: one subscription on
 * the transport, from the oldest consumer's cursor. The feed keeps the
 * transport's position (`seq`, `epoch`), drops duplicates, and reports a gap
 * or a foreign event as an error so the connection resumes from the cursor
 * instead of skipping (exact resume, F4).
 */
export class SessionFeed {
  readonly id: string;
  epoch: string | undefined;
  /** Last `seq` received on the active transport's subscription: dedupe and gap detection. */
  seq: number;
  /**
   * The stream was restarted from an older cursor on a live transport: events
   * already in flight from the old position are skipped (not a gap) until the
   * replay reaches `seq + 1`.
   */
  rewinding = false;
  /** Contiguous recent events, the last one being the newest received. */
  #recent: SessionEvent[] = [];
  readonly consumers = new Set<Consumer>();

  constructor(first: Consumer) {
    this.id = first.sessionId;
    this.epoch = first.epoch;
    this.seq = first.seq;
    this.consumers.add(first);
  }

  /** Where a (re)subscription starts: the oldest cursor of any consumer. */
  cursor(): Cursor {
    let after = this.seq;
    for (const consumer of this.consumers) after = Math.min(after, consumer.seq);
    return this.epoch === undefined ? { after } : { after, epoch: this.epoch };
  }

  /** A (re)subscription from `cursor()` starts: the position moves back to it. */
  restartAt(cursor: Cursor): void {
    this.seq = cursor.after;
    this.rewinding = false;
  }

  /**
   * A consumer joined behind the feed: serve it from recent events when they
   * reach back far enough (true), else move the position back to it (false:
   * the caller resubscribes; dedupe keeps the other consumers exact).
   */
  serveLateJoiner(consumer: Consumer, live: boolean): boolean {
    const recent = this.#recent.slice(-RECENT_EVENTS);
    const first = recent[0];
    const sameEpoch = consumer.epoch === undefined || consumer.epoch === this.epoch;
    if (sameEpoch && first && first.seq <= consumer.seq + 1) {
      for (const event of recent) deliver(consumer, event);
      return true;
    }
    this.seq = consumer.seq;
    this.rewinding = live;
    return false;
  }

  /**
   * Take a batch from the transport. Returns an error when the stream is
   * broken (a gap, another session's event, a new epoch without a reset): the
   * caller drops the attempt and resumes from the cursor. `current()` is asked
   * after each delivery (a consumer may end itself, or the attempt, when it
   * handles an event, e.g. a terminal); `accepted()` once, before the first
   * new event is delivered.
   */
  push(events: SessionEvent[], current: () => boolean, accepted: () => void): TetherError | undefined {
    // Fast path for the steady state of a live stream: one consumer, known epoch, no rewind.
    if (this.consumers.size === 1 && this.epoch !== undefined && !this.rewinding) {
      const [consumer] = this.consumers as Iterable<Consumer> as [Consumer];
      const epoch = this.epoch;
      accepted();
      for (let i = 0; i < events.length; i++) {
        const event = events[i]!;
        const seq = event.seq;
        if (seq <= this.seq) continue;
        if (seq > this.seq + 1 || event.epoch !== epoch) return this.#pushSlow(events.slice(i), current, accepted);
        this.seq = seq;
        this.#remember(event);
        deliver(consumer, event);
        if (!current() || this.consumers.size !== 1 || !this.consumers.has(consumer)) {
          return this.#pushSlow(events.slice(i + 1), current, accepted);
        }
      }
      return undefined;
    }
    return this.#pushSlow(events, current, accepted);
  }

  #pushSlow(events: SessionEvent[], current: () => boolean, accepted: () => void): TetherError | undefined {
    const sessionId = this.id;
    for (const event of events) {
      if (!current()) return undefined;
      if (event.sessionId !== sessionId) return new ProtocolError(`Event for session ${event.sessionId} on the stream of ${sessionId}`);
      if (this.epoch !== undefined && event.epoch !== this.epoch) {
        // A new history without a reset: reconnect with our epoch and let the server send the reset.
        return new ProtocolError(`Epoch changed without a reset on session ${sessionId}`);
      }
      if (event.seq <= this.seq) continue; // duplicate (resend, overlap after a switch)
      if (event.seq > this.seq + 1 && this.rewinding) continue; // sent before the rewind; replayed later
      if (event.seq > this.seq + 1) {
        // A gap is a broken stream: resume from the cursor, never skip (exact resume).
        return new ProtocolError(`Gap on session ${sessionId}: seq ${event.seq} after ${this.seq}`, { code: 'sequence_gap' });
      }
      this.seq = event.seq;
      this.epoch = event.epoch;
      this.rewinding = false;
      this.#remember(event);
      accepted();
      // A consumer may remove itself (or others) while handling an event: iterate a copy.
      for (const consumer of [...this.consumers]) {
        if (this.consumers.has(consumer)) deliver(consumer, event);
      }
    }
    return undefined;
  }

  /** The server could not resume from the cursor: tell the consumers that lost history. */
  reset(info: ResetInfo): void {
    this.epoch = info.epoch;
    this.seq = info.after;
    this.rewinding = false;
    this.#recent = [];
    for (const consumer of [...this.consumers]) {
      // Consumers that already hold everything up to `after` in this epoch lost nothing.
      if (consumer.epoch === info.epoch && consumer.seq >= info.after) continue;
      consumer.seq = info.after;
      consumer.epoch = info.epoch;
      consumer.onReset(info);
    }
  }

  /** Add `event` to the recent window, unless a rewind re-delivered it (the window stays contiguous). */
  #remember(event: SessionEvent): void {
    const recent = this.#recent;
    // Trimmed by halves into a new array: a `shift()` per event moved the whole window, and
    // pushing into an array that lives long (old GC generation) costs a write barrier per event.
    if (event.seq > (recent.at(-1)?.seq ?? 0) && recent.push(event) > 2 * RECENT_EVENTS) {
      this.#recent = recent.slice(-RECENT_EVENTS);
    }
  }
}

/** Hand `event` to `consumer` unless it already has it. */
function deliver(consumer: Consumer, event: SessionEvent): void {
  if (event.seq <= consumer.seq && (consumer.epoch === undefined || consumer.epoch === event.epoch)) return;
  consumer.seq = event.seq;
  consumer.epoch = event.epoch;
  consumer.onEvent(event);
}
