/** SessionLog: one session's append-only event log in memory, with retention and write-ahead visibility. */
import type { ResetInfo, SessionEvent } from '../../protocol/index.js';

/** One event in the log, with its JSON computed once and shared by every reader. */
export interface LogEntry {
  readonly event: SessionEvent;
  readonly json: string;
  /** UTF-8 length of `json`: what it costs on the wire. */
  readonly bytes: number;
}

/** An event before the log stamps it with `sessionId`, `seq`, `epoch` and `time`. */
export type NewEvent = { type: string; turnId?: string } & Record<string, unknown>;

/** What a reader gets for a cursor: maybe a reset first, then entries in `seq` order. */
export interface LogRead {
  reset?: ResetInfo;
  entries: LogEntry[];
  /** UTF-8 bytes of the entries' JSON, together. */
  bytes: number;
  /** The cursor after this read: the `seq` of the last entry, or `reset.after`/the given `after`. */
  next: number;
}

/** Limits of one read. */
export interface ReadLimits {
  maxEvents: number;
  /** Stop adding entries once their JSON adds up to this many bytes (at least one entry is returned). */
  maxBytes?: number;
}

/**
 * A session's append-only event log with bounded retention. Holds the newest
 * `maxEvents` events; older ones are dropped (a reader whose cursor points at
 * them gets a reset, never a silent gap). Readers are woken on append.
 */
export class SessionLog {
  readonly sessionId: string;
  readonly epoch: string;
  #entries: LogEntry[] = [];
  /** Index in `#entries` of the oldest held event (dropping from the front is amortized). */
  #head = 0;
  /** Last `seq` assigned. */
  #seq: number;
  /** Last `seq` readers may see: appended events become visible once the store has them (write-ahead). */
  #visible: number;
  #maxEvents: number;
  #waiters = new Set<() => void>();
  #closed = false;

  constructor(options: { sessionId: string; epoch: string; maxEvents: number; seq?: number; events?: readonly SessionEvent[] }) {
    this.sessionId = options.sessionId;
    this.epoch = options.epoch;
    this.#maxEvents = options.maxEvents;
    const events = options.events ?? [];
    const last = events.at(-1);
    this.#seq = Math.max(options.seq ?? 0, last?.seq ?? 0);
    this.#visible = this.#seq;
    // Only a contiguous tail ending at `#seq` is usable for resuming.
    const tail: SessionEvent[] = [];
    let expected = this.#seq;
    for (let i = events.length - 1; i >= 0 && tail.length < this.#maxEvents; i--) {
      const event = events[i]!;
      if (event.seq !== expected) break;
      tail.push(event);
      expected--;
    }
    tail.reverse();
    this.#entries = tail.map((event) => entryOf(event));
  }

  /** The last `seq` readers can see (0 when none). */
  get seq(): number {
    return this.#visible;
  }

  /** The last `seq` assigned; ahead of `seq` while the store is still writing. */
  get assignedSeq(): number {
    return this.#seq;
  }

  /** The oldest `seq` still held; `seq + 1` when the log holds nothing. */
  get firstSeq(): number {
    return this.#seq - this.size + 1;
  }

  /** Number of events held. */
  get size(): number {
    return this.#entries.length - this.#head;
  }

  /** Readers waiting for the next event (a session with waiting readers is in use). */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** UTF-8 bytes of the held events' JSON. */
  get bytes(): number {
    let total = 0;
    for (let i = this.#head; i < this.#entries.length; i++) total += this.#entries[i]!.bytes;
    return total;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Append an event: assigns the next `seq` and the log's `epoch`. Readers see
   * it after {@link SessionLog.publish} (once the store has it), so a `seq` a
   * client saw always survives a crash and never names two different events.
   */
  append(event: NewEvent, time: number): SessionEvent {
    const full = { ...event, sessionId: this.sessionId, seq: this.#seq + 1, epoch: this.epoch, time } as unknown as SessionEvent;
    this.#push(full);
    return full;
  }

  /**
   * Add an event another process appended and stored (a cluster node
   * following the session's runner): it keeps its `seq`, which must follow
   * the last one, and is visible at once. Returns false (and adds nothing)
   * when it does not follow.
   */
  ingest(event: SessionEvent): boolean {
    if (event.seq !== this.#seq + 1 || this.#visible !== this.#seq) return false;
    this.#push(event);
    this.publish(event.seq);
    return true;
  }

  #push(event: SessionEvent): void {
    this.#seq++;
    this.#entries.push(entryOf(event));
    if (this.size > this.#maxEvents) {
      this.#head += this.size - this.#maxEvents;
      if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
        this.#entries = this.#entries.slice(this.#head);
        this.#head = 0;
      }
    }
  }

  /** Make every event up to `seq` visible to readers. */
  publish(seq: number): void {
    if (seq <= this.#visible) return;
    this.#visible = Math.min(seq, this.#seq);
    // Publishing is already batched per loop turn by the core, so wake at once.
    this.#flushWaiters();
  }

  /**
   * Read the events after cursor `after` (in `epoch`, when given). A cursor
   * from another epoch, older than the oldest held event or beyond the end
   * yields a reset first (F6 catch-up and restarts: never a silent gap).
   */
  read(after: number, epoch: string | undefined, limits: ReadLimits): LogRead {
    let reset: ResetInfo | undefined;
    const oldest = this.firstSeq - 1;
    if (epoch !== undefined && epoch !== this.epoch) {
      reset = { sessionId: this.sessionId, epoch: this.epoch, after: oldest, reason: 'epoch_changed' };
    } else if (after < oldest || after > this.#seq) {
      // `after` between the visible and the assigned end is fine: the reader just waits.
      reset = { sessionId: this.sessionId, epoch: this.epoch, after: oldest, reason: 'history_gone' };
    }
    const from = reset ? reset.after : after;
    const entries: LogEntry[] = [];
    let bytes = 0;
    const start = this.#head + (from - oldest);
    const end = this.#entries.length - (this.#seq - this.#visible);
    for (let i = start; i < end && entries.length < limits.maxEvents; i++) {
      const entry = this.#entries[i]!;
      if (limits.maxBytes !== undefined && entries.length > 0 && bytes + entry.bytes > limits.maxBytes) break;
      bytes += entry.bytes;
      entries.push(entry);
    }
    const next = entries.length > 0 ? entries.at(-1)!.event.seq : from;
    return reset ? { reset, entries, bytes, next } : { entries, bytes, next };
  }

  /** The held events (oldest first), e.g. for tests and snapshots. */
  events(): SessionEvent[] {
    return this.#entries.slice(this.#head).map((entry) => entry.event);
  }

  /**
   * Resolves when a visible event after `after` exists, the log is closed, or
   * `signal` aborts. Never rejects. A closed log publishes nothing more (its
   * writer is closed too), so a reader waiting for events assigned but never
   * stored would wait forever: it ends instead, and resumes elsewhere.
   */
  waitFor(after: number, signal?: AbortSignal): Promise<void> {
    if (this.#visible > after || this.#closed || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        this.#waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.#waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Wake every waiter and make future waits return at once (shutdown, eviction, the session moved or its store is unreachable). */
  close(): void {
    this.#closed = true;
    this.#flushWaiters();
  }

  #flushWaiters(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

function entryOf(event: SessionEvent): LogEntry {
  const json = JSON.stringify(event);
  return { event, json, bytes: utf8Length(json) };
}

/** UTF-8 length of a string without encoding it (works where `Buffer` does not). */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      // A surrogate pair: 4 bytes for 2 code units.
      bytes += 2;
      i++;
    } else bytes += 2;
  }
  return bytes;
}
