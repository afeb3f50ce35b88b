/** ChunkQueue: what an upstream server pushes for one turn, handed to the turn runner as an async iterable. */
import type { AgentChunk } from '../../server.js';

/**
 * An unbounded FIFO between an upstream connection's message handler and the
 * turn runner. It is unbounded on purpose: the bridge must read its upstream
 * continuously (an upstream that drops slow readers would otherwise drop us,
 * F6), and the turn runner drains it into the session log on every loop turn,
 * where the server's own bounded, cursor-based delivery takes over.
 */
export class ChunkQueue implements AsyncIterable<AgentChunk> {
  #items: AgentChunk[] = [];
  #head = 0;
  #ended = false;
  #failure: { error: unknown } | undefined;
  #wake: (() => void) | undefined;

  push(chunk: AgentChunk): void {
    if (this.#ended) return;
    this.#items.push(chunk);
    this.#notify();
  }

  /** No more chunks: the iteration ends after the queued ones. */
  end(): void {
    this.#ended = true;
    this.#notify();
  }

  /** The iteration throws `error` after the queued chunks. */
  fail(error: unknown): void {
    if (this.#ended) return;
    this.#failure = { error };
    this.end();
  }

  get ended(): boolean {
    return this.#ended;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<AgentChunk> {
    for (;;) {
      if (this.#head < this.#items.length) {
        const chunk = this.#items[this.#head]!;
        this.#items[this.#head++] = undefined as unknown as AgentChunk;
        // Compact now and then so a 100,000-delta turn does not keep every chunk alive.
        if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
          this.#items = this.#items.slice(this.#head);
          this.#head = 0;
        }
        yield chunk;
        continue;
      }
      if (this.#ended) {
        if (this.#failure) throw this.#failure.error;
        return;
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }
}
