/** The buffer between the connection and one async iterator, bounded by coalescing deltas and by a hard cap (F6). */
import { TetherError } from '../errors/index.js';

/** Unread events a queue holds, as a multiple of its coalescing limit, before it overflows. */
export const OVERFLOW_FACTOR = 10;

/** The typed error of a reader that fell too far behind: what the client buffered for it hit its bound. */
export function overflowError(sessionId: string): TetherError {
  return new TetherError(
    'buffer_overflow',
    `The reader of session ${sessionId} fell more than ${OVERFLOW_FACTOR} × bufferLimit events behind; resume from the last seq it read`,
  );
}

/** The typed error of a second iteration: a queue hands each event out once. */
export function alreadyIterated(what: string): TetherError {
  return new TetherError(
    'already_iterated',
    `The ${what} was already iterated; its events are handed out once. Await turn.result for the terminal, or subscribe to the session again with the cursor you need.`,
  );
}

/** The only thing the queue needs to know to coalesce: deltas of one turn. */
interface Coalescible {
  type: string;
  turnId?: string | undefined;
  text?: unknown;
}

/**
 * The buffer between the connection (which pushes) and one async iterator
 * (which pulls), with backpressure by coalescing (F6).
 *
 * Up to `limit` events are buffered as they are. Beyond it, a `turn.delta`
 * that follows a buffered `turn.delta` of the same turn is merged into it
 * (texts concatenated, so the text stays exact; the merged event keeps the
 * newest `seq` and `time`). Every other event (lifecycle, items, terminals,
 * unknown types, resets) is always kept. So memory for a reader that never
 * catches up is about the size of the streamed text plus one entry per
 * non-delta event, never a copy per delta.
 *
 * Hard bound: events that cannot be merged (items, lifecycle) beyond
 * `OVERFLOW_FACTOR * limit` unread, or merged delta text beyond `maxChars`,
 * overflow the queue: `onOverflow` is called once and nothing more is
 * buffered. The owner ends its iterator with a typed error (a reader that
 * far behind must resume from a cursor), so memory stays bounded whatever
 * the server sends.
 */
export class EventQueue<T extends Coalescible> implements AsyncIterator<T> {
  readonly #limit: number;
  #items: T[] = [];
  /** Index of the first unread item in `#items` (no `Array#shift` per read). */
  #head = 0;
  /**
   * Texts merged into the last item beyond the limit, joined in slices and when the item is
   * read: `a + b` per delta would build a V8 cons-string rope (~32 bytes per piece).
   */
  #parts: string[] | undefined = undefined;
  #waiters: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }[] = [];
  #done = false;
  #error: unknown = undefined;
  #hasError = false;
  readonly #onReturn: (() => void) | undefined;
  readonly #onTake: ((item: T) => void) | undefined;
  readonly #maxItems: number;
  readonly #maxChars: number;
  readonly #onOverflow: (() => void) | undefined;
  /** Characters of merged text held in `#parts`. */
  #partChars = 0;
  #overflowed = false;

  /**
   * @param onReturn called when the consumer stops iterating early.
   * @param onTake called with each item as it is handed to the consumer (no
   *   extra promise per item, unlike wrapping `next()`).
   */
  constructor(
    limit: number,
    onReturn?: () => void,
    onTake?: (item: T) => void,
    overflow?: { maxChars: number; onOverflow: () => void },
  ) {
    this.#limit = limit;
    this.#onReturn = onReturn;
    this.#onTake = onTake;
    this.#maxItems = OVERFLOW_FACTOR * limit;
    this.#maxChars = overflow?.maxChars ?? Infinity;
    this.#onOverflow = overflow?.onOverflow;
  }

  /** Nothing more is buffered; the owner hears of it once. */
  #overflow(): void {
    if (this.#overflowed) return;
    this.#overflowed = true;
    this.#onOverflow?.();
  }

  push(item: T): void {
    if (this.#done || this.#overflowed) return;
    if (this.#waiters.length !== 0) {
      this.#onTake?.(item);
      this.#waiters.shift()!.resolve({ value: item, done: false });
      return;
    }
    const items = this.#items;
    const n = items.length;
    if (n - this.#head >= this.#limit && item.type === 'turn.delta') {
      const last = items[n - 1]!;
      if (last.type === 'turn.delta' && last.turnId === item.turnId) {
        const text = String(item.text);
        if (this.#partChars + text.length > this.#maxChars) return this.#overflow();
        if (this.#parts === undefined) this.#partChars = String(last.text).length;
        const parts = (this.#parts ??= [String(last.text)]);
        this.#partChars += text.length;
        parts.push(text);
        if (parts.length >= 1024) this.#parts = [parts.join('')];
        items[n - 1] = { ...item, text: '' };
        return;
      }
    }
    if (n - this.#head >= this.#maxItems) return this.#overflow();
    this.#sealParts();
    items.push(item);
  }

  /** Put the pending merged texts into the last item. */
  #sealParts(): void {
    const parts = this.#parts;
    if (parts === undefined) return;
    this.#parts = undefined;
    this.#partChars = 0;
    const n = this.#items.length;
    this.#items[n - 1] = { ...this.#items[n - 1]!, text: parts.join('') };
  }

  /** No more events: readers get what is buffered, then `done` (or `error`, thrown after the buffer). */
  end(error?: unknown): void {
    if (this.#done) return;
    this.#done = true;
    if (error !== undefined) {
      this.#error = error;
      this.#hasError = true;
    }
    if (this.#head === this.#items.length) this.#flushWaiters();
  }

  #flushWaiters(): void {
    const waiters = this.#waiters.splice(0);
    for (const waiter of waiters) {
      if (this.#hasError) waiter.reject(this.#error);
      else waiter.resolve({ value: undefined, done: true });
    }
    // The error is reported once (to a reader waiting now, else to the next read); later reads just see `done`.
    if (waiters.length > 0) this.#hasError = false;
  }

  next(): Promise<IteratorResult<T>> {
    const items = this.#items;
    if (this.#head < items.length) {
      if (this.#head === items.length - 1) this.#sealParts();
      const item = items[this.#head]!;
      items[this.#head++] = undefined as unknown as T;
      if (this.#head === items.length) {
        items.length = 0;
        this.#head = 0;
      } else if (this.#head >= 1024 && this.#head * 2 >= items.length) {
        items.splice(0, this.#head);
        this.#head = 0;
      }
      this.#onTake?.(item);
      return Promise.resolve({ value: item, done: false });
    }
    if (this.#done) {
      if (this.#hasError) {
        this.#hasError = false;
        return Promise.reject(this.#error);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** The reader stopped early (`break` out of `for await`): drop the buffer. */
  return(): Promise<IteratorResult<T>> {
    this.#items = [];
    this.#head = 0;
    this.#parts = undefined;
    this.#hasError = false;
    this.end();
    this.#flushWaiters();
    this.#onReturn?.();
    return Promise.resolve({ value: undefined, done: true });
  }
}
