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
 */
export class EventQueue<T extends Coalescible> implements AsyncIterator<T> {
  readonly #limit: number;
  #items: T[] = [];
  #waiters: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }[] = [];
  #done = false;
  #error: unknown = undefined;
  #hasError = false;
  readonly #onReturn: (() => void) | undefined;
  readonly #onTake: ((item: T) => void) | undefined;

  /**
   * @param onReturn called when the consumer stops iterating early.
   * @param onTake called with each item as it is handed to the consumer (no
   *   extra promise per item, unlike wrapping `next()`).
   */
  constructor(limit: number, onReturn?: () => void, onTake?: (item: T) => void) {
    this.#limit = limit;
    this.#onReturn = onReturn;
    this.#onTake = onTake;
  }

  /** Events buffered and not read yet. */
  get size(): number {
    return this.#items.length;
  }

  get ended(): boolean {
    return this.#done;
  }

  push(item: T): void {
    if (this.#done) return;
    const waiter = this.#waiters.shift();
    if (waiter) {
      this.#onTake?.(item);
      waiter.resolve({ value: item, done: false });
      return;
    }
    const last = this.#items.at(-1);
    if (
      this.#items.length >= this.#limit &&
      item.type === 'turn.delta' &&
      last?.type === 'turn.delta' &&
      last.turnId === item.turnId
    ) {
      this.#items[this.#items.length - 1] = { ...item, text: String(last.text) + String(item.text) };
      return;
    }
    this.#items.push(item);
  }

  /** No more events: readers get what is buffered, then `done` (or `error`, thrown after the buffer). */
  end(error?: unknown): void {
    if (this.#done) return;
    this.#done = true;
    if (error !== undefined) {
      this.#error = error;
      this.#hasError = true;
    }
    if (this.#items.length === 0) this.#flushWaiters();
  }

  #flushWaiters(): void {
    for (const waiter of this.#waiters.splice(0)) {
      if (this.#hasError) waiter.reject(this.#error);
      else waiter.resolve({ value: undefined, done: true });
    }
    // The error is reported once; later reads just see `done`.
    this.#hasError = false;
  }

  next(): Promise<IteratorResult<T>> {
    const item = this.#items.shift();
    if (item !== undefined) {
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
    this.#hasError = false;
    this.end();
    this.#flushWaiters();
    this.#onReturn?.();
    return Promise.resolve({ value: undefined, done: true });
  }
}
