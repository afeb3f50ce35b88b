/**
 * The write budget of one connection (F6): its outgoing bytes, counted. Every write adds
 * its size until the transport reports it flushed to the kernel; producers
 * stop at `highWater` and wait in {@link WriteBudget.drained} until half of it
 * is gone. No frames are held here: what is not written stays in the log.
 *
 * Writes that cannot wait (command replies, pongs) still count: once
 * `pending` passes `limit` the peer is not reading what it asks for, and
 * {@link WriteBudget.onOverflow} is called (once) so the host closes the
 * connection instead of buffering without end.
 */
export class WriteBudget {
  readonly highWater: number;
  /** Unflushed bytes past which the connection is given up. @default Infinity */
  readonly limit: number;
  /** Called once, when `pending` first exceeds `limit`. */
  onOverflow: (() => void) | undefined;
  #overflowed = false;
  #pending = 0;
  #peak = 0;
  #written = 0;
  #closed = false;
  #waiters = new Set<() => void>();
  #idleWaiters = new Set<() => void>();
  /** Called whenever some buffered bytes were flushed (progress on a live connection). */
  onProgress: (() => void) | undefined;

  constructor(highWater: number, limit = Number.POSITIVE_INFINITY) {
    this.highWater = highWater;
    this.limit = limit;
  }

  /** Bytes written but not yet flushed. */
  get pending(): number {
    return this.#pending;
  }

  /** Highest `pending` seen. */
  get peak(): number {
    return this.#peak;
  }

  /** Bytes flushed so far. */
  get written(): number {
    return this.#written;
  }

  get full(): boolean {
    return this.#pending >= this.highWater;
  }

  /** Whether `pending` ever exceeded `limit`. */
  get overflowed(): boolean {
    return this.#overflowed;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Account for a write of `bytes`; call the returned function once it is flushed (or failed). */
  add(bytes: number): () => void {
    this.#pending += bytes;
    if (this.#pending > this.#peak) this.#peak = this.#pending;
    if (this.#pending > this.limit && !this.#overflowed) {
      this.#overflowed = true;
      this.onOverflow?.();
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#pending -= bytes;
      this.#written += bytes;
      this.onProgress?.();
      if (this.#pending <= this.highWater / 2) this.#flush(this.#waiters);
      if (this.#pending === 0) this.#flush(this.#idleWaiters);
    };
  }

  /** Resolves once `pending` is at most half the high-water mark, or on close/abort. */
  drained(signal?: AbortSignal): Promise<void> {
    return this.#wait(this.#waiters, this.#pending <= this.highWater / 2, signal);
  }

  /** Resolves once everything written is flushed, or on close/abort. */
  idle(signal?: AbortSignal): Promise<void> {
    return this.#wait(this.#idleWaiters, this.#pending === 0, signal);
  }

  /** The connection is gone: wake every waiter. */
  close(): void {
    this.#closed = true;
    this.#flush(this.#waiters);
    this.#flush(this.#idleWaiters);
  }

  #wait(set: Set<() => void>, ready: boolean, signal?: AbortSignal): Promise<void> {
    if (ready || this.#closed || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        set.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      set.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  #flush(set: Set<() => void>): void {
    for (const waiter of [...set]) waiter();
  }
}
